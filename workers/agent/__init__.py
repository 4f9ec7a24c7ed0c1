"""``openstage agent``: the host agent (not a domain worker: no store). See workers/agent/app.py."""
