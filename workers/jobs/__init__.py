"""The jobs worker: the job tracker (a durable JetStream consumer of job and task events that
folds them into job documents, tracker.py), the job documents kept in memory (documents.py) and
the job query (GET /v2/{project_id}/cas/jobs/{job_id}, queries.py, served by fast_path.py)."""
