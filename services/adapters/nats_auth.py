"""NATS users and permissions: the edge and workers share one internal user; every AK/SK
credential is also a NATS user (user = AK, password = SK) limited to its own projects' subjects.

A tenant integration can:
- request commands on ``openstage.cmd.<project>.>`` (replies come to its own inbox prefix
  ``_INBOX_<AK>``: connect with ``inbox_prefix="_INBOX_<AK>"``);
- subscribe to ``openstage.evt.<project>.>`` (core NATS, live only);
- create a JetStream consumer on OPENSTAGE_EVENTS whose filter is ``openstage.evt.<project>.>``
  (or narrower) and whose deliver subject is ``openstage.deliver.<project>.<anything>``, read it
  there, ack it, and replay from any sequence or time.
It cannot publish commands for, or read events of, a project it is not granted: NATS refuses.
Pull consumers are not granted (a pull request names only the consumer, which would let one
tenant drain another's consumer)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from services.contracts import subjects

INTERNAL_USER = "openstage"


@dataclass(frozen=True)
class NatsUser:
    user: str
    password: str
    projects: tuple[str, ...]


def tenant_inbox_prefix(ak: str) -> str:
    return f"_INBOX_{ak}"


def deliver_subject(project_id: str, consumer: str) -> str:
    return f"openstage.deliver.{project_id}.{consumer}"


def tenant_permissions(ak: str, projects: tuple[str, ...]) -> dict:
    stream = subjects.EVENTS_STREAM
    scope = [">"] if "*" in projects else list(projects)
    # "*" grants every project: the wildcard token takes the project's place.
    tokens = ["*" if p == ">" else p for p in scope]
    publish = ["$JS.API.INFO", f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.CONSUMER.INFO.{stream}.*", f"$JS.ACK.{stream}.>", "$JS.FC.>"]
    subscribe = [f"{tenant_inbox_prefix(ak)}.>"]
    for p in tokens:
        publish += [f"{subjects.CMD_PREFIX}.{p}.>", f"$JS.API.CONSUMER.CREATE.{stream}.*.{subjects.EVT_PREFIX}.{p}.>"]
        subscribe += [f"{subjects.EVT_PREFIX}.{p}.>", f"openstage.deliver.{p}.>"]
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


@dataclass(frozen=True)
class AgentUser:
    host_id: str
    password: str


def agent_user(host_id: str) -> str:
    return f"agent-{host_id}"


# An agent answers a ReadLogs request with one message per replica of the instance it holds.
AGENT_MAX_RESPONSES = 1000


def agent_permissions(host_id: str) -> dict:
    own = f"{subjects.AGENT_PREFIX}.{host_id}"
    return {
        "publish": {"allow": [f"{own}.>"]},
        "subscribe": {"allow": [f"{own}.cmd.>", subjects.AGENTS_LOGS]},
        "allow_responses": {"max": AGENT_MAX_RESPONSES, "expires": "1m"},
    }


def load_agents_json(raw: str | None) -> list[AgentUser]:
    """OPENSTAGE_AGENTS: the NATS users of agents on other hosts (ValueError when malformed)."""
    if not raw:
        return []
    try:
        entries = json.loads(raw)
        agents = [AgentUser(str(e["host_id"]), str(e["password"])) for e in entries]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f'OPENSTAGE_AGENTS must be a JSON list of {{"host_id", "password"}}: {exc}') from None
    for a in agents:
        if not subjects.HOST_ID_PATTERN.match(a.host_id) or not a.password:
            raise ValueError(f"OPENSTAGE_AGENTS: invalid host id {a.host_id!r} or empty password")
    return agents


def server_config(internal_password: str, tenants: list[NatsUser], agents: list[AgentUser] | None = None) -> str:
    """The ``authorization`` block of a nats-server config (JSON is valid NATS config syntax)."""
    users: list[dict] = [{"user": INTERNAL_USER, "password": internal_password}]
    for t in tenants:
        users.append({"user": t.user, "password": t.password, "permissions": tenant_permissions(t.user, t.projects)})
    for a in agents or []:
        users.append({"user": agent_user(a.host_id), "password": a.password, "permissions": agent_permissions(a.host_id)})
    return "authorization " + json.dumps({"users": users}, indent=2) + "\n"


def internal_url(host: str, port: int, password: str) -> str:
    return f"nats://{INTERNAL_USER}:{password}@{host}:{port}"


def agent_url(host: str, port: int, agent: AgentUser) -> str:
    """The agent's NATS URL (nats-py does not percent-decode user info: the password must be URL-safe, as generated ones are)."""
    return f"nats://{agent_user(agent.host_id)}:{agent.password}@{host}:{port}"
