"""The jobs worker: the job tracker (a durable JetStream consumer of job and task events that
folds them into job documents) and the job query (GET /v2/{project_id}/cas/jobs/{job_id})."""
