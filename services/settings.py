"""Runtime settings, read from OPENSTAGE_* environment variables (and CLI flags that set them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENSTAGE_", extra="ignore")

    # Where the embedded runtime keeps its data (nats JetStream files, the store file, generated secrets).
    data_dir: Path = Path(".openstage")
    # External dependencies. When unset, `openstage up` starts embedded ones.
    nats_url: str | None = None
    mongodb_url: str | None = None
    # Base name of the databases: each domain worker owns "<mongodb_db>_<domain>".
    mongodb_db: str = "openstage"
    # Hold every write of a process while it has a transaction open (needed on nx-27017; see
    # services/adapters/store/mongo.py). The embedded runtime sets it.
    store_serialize_writes: bool = False

    # HTTP edge
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    # Request body limit of the Service-Center API (/v4): Service-Center's server.request.maxBodyBytes
    # default (etc/conf/app.yaml). The registry's commands fit the bus up to 64 MiB (nats max_payload).
    registry_max_body_bytes: int = 2_097_152
    # The edge's address as registry clients reach it (e.g. http://10.0.0.5:8080): the endpoint of
    # the global services SERVICECENTER, KIE and CseConfigCenter. Unset: http://<host>:<port>.
    registry_advertise_url: str | None = None
    # Edge processes sharing the HTTP port (uvicorn workers); the edge owns no data.
    edge_workers: int = Field(default=1, ge=1, le=32)
    # The edge answers a heartbeat of an instance a worker confirmed, and a find a worker answered,
    # from memory while no event or write of the project came between (api_edge/registry_memory.py);
    # false: every heartbeat and find goes to a registry worker.
    edge_registry_memory: bool = True
    # Comma-separated domain workers /readyz expects to answer (default: every worker in workers.WORKERS).
    workers: str | None = None
    # Seconds the edge waits for a worker's reply before answering 503.
    request_timeout: float = 3.0
    # Seconds a client has to send a request's head (request line and headers), and then again
    # its body; past that the edge answers 408 and closes the connection. 0: no limit.
    read_timeout: float = Field(default=10.0, ge=0)

    # Authentication: JSON lists, see README.
    credentials: str | None = None
    tokens: str | None = None
    max_clock_skew_seconds: int = 900
    # Authentication of the registry and config surfaces (/v4, /v3, /v1 Kie): any of rbac (Service-Center's
    # POST /v4/token + Authorization: Bearer), aksk (the AK/SK and tokens above), open (none), comma-separated.
    registry_auth: str = "rbac,aksk"
    # rbac accounts: a JSON list of {"name", "password" (plain or pbkdf2_sha256$/scrypt$ hash), "projects"}.
    registry_accounts: str | None = None
    # The key that signs rbac tokens; every edge process must share it (default: <data_dir>/registry-token.key).
    registry_token_secret: str | None = Field(default=None, repr=False)
    # Per-credential rate limit of each edge process (requests/second, burst); 0 disables it. Well
    # above the registry benchmark's highest rate of one edge process (17,354 finds/s of one
    # credential on 2 cores, the edge answering from memory), so a tenant's thousands of instances
    # heartbeating with one credential are never refused.
    rate_limit_per_second: float = 50000.0
    rate_limit_burst: float = 100000.0

    # Deployment driver (simulated): seconds each task takes.
    simulated_task_seconds: float = Field(default=0.2, ge=0)
    # Which deployment driver runs instance jobs (workers/drivers): "simulated".
    deployment_driver: str = "simulated"
    # A job runner holds a job for this long without a heartbeat; after it, another (or the
    # restarted) lifecycle worker resumes the job (JetStream ack wait and the job's lease).
    job_lease_seconds: float = Field(default=10.0, gt=0)
    # Jobs one lifecycle worker process runs at the same time.
    job_concurrency: int = Field(default=16, ge=1)

    # Outbox relay: how often leftovers are swept (seconds).
    outbox_sweep_seconds: float = 1.0

    # host agent (`openstage agent`, workers/agent)
    # Seconds between an agent's announcements (a host is UNKNOWN after 3 without one).
    agent_announce_seconds: float = Field(default=2.0, gt=0)
    # Seconds between two liveness probes of a replica (3 failures in a row restart it).
    agent_liveness_period_seconds: float = Field(default=3.0, gt=0)
    # Directories file:// package URLs may name (os.pathsep-separated). Unset: <data_dir>/artifacts
    # for `openstage up`'s agent, <agent dir>/artifacts for a standalone agent.
    artifact_dirs: str | None = None
    # Largest package an agent downloads (bytes).
    artifact_max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    # NATS users of agents on other hosts: a JSON list of {"host_id", "password"} (nats.conf).
    agents: str | None = Field(default=None, repr=False)

    # process driver (services/adapters/drivers/process.py: instances on hosts running an agent)
    # Seconds a deployment waits for every replica to be READY before its job fails.
    ready_timeout_seconds: float = Field(default=120.0, gt=0)
    # Seconds a microservice's deployment waits for every replica to register in the registry.
    registration_timeout_seconds: float = Field(default=120.0, gt=0)
    # Seconds the driver waits for an agent's answer to a command (a fetch: artifact_fetch_timeout_seconds).
    agent_command_timeout_seconds: float = Field(default=30.0, gt=0)
    artifact_fetch_timeout_seconds: float = Field(default=600.0, gt=0)


def registry_advertise_url(settings: Settings) -> str:
    """The edge's address for registry clients (``registry_advertise_url`` or ``http://host:port``)."""
    if settings.registry_advertise_url:
        return settings.registry_advertise_url
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def get_settings() -> Settings:
    return Settings()
