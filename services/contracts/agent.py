"""The host agent's protocol: what the process driver (in the lifecycle worker) and ``openstage
logs`` say to ``openstage agent`` processes over NATS, and what agents report.

Subjects (services/contracts/subjects.py ``agent_*``):

- ``openstage.agent.<host_id>.announce`` (agent publishes, every ``announce_seconds``):
  ``HostAnnouncement``; the lifecycle worker keeps the table of live hosts from it.
- ``openstage.agent.<host_id>.replica`` (agent publishes on every replica change): ``ReplicaChange``.
- ``openstage.agent.<host_id>.cmd.<verb>`` (request-reply, answered by that agent only), one
  request model and one reply model per verb (``AGENT_COMMANDS``). Every reply is an
  ``AgentReply`` (``ok``, ``error``, ``result``) so a refused or failed command says why.
- ``openstage.agents.logs`` (request, every agent listens; only the agent that holds the replica
  answers): ``ReadLogs`` -> ``LogChunk``.

Every command is idempotent: the driver re-sends it after a crash or a timeout."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class HostAnnouncement(BaseModel):
    host_id: str
    projects: list[str]  # the projects this host serves; ["*"] = every project
    address: str  # the address replicas are reached at (their endpoints, curl)
    cpus: int
    memory_mb: int
    replicas: int  # replicas this agent supervises now
    started_at: int  # ms since the epoch when this agent process started (a new value = restarted)
    announce_seconds: float  # the host is silent (UNKNOWN) after 3 of these without an announcement
    version: str = ""


class ArtifactSpec(BaseModel):
    """One software package to fetch onto the host (an instance artifact of type ``package``)."""

    url: str  # http(s):// or file://
    sha256: str | None = None  # checked when given (artifact ``properties.sha256``)
    name: str = ""  # the artifact key in the instance


class FetchArtifact(BaseModel):
    project_id: str
    instance_id: str
    artifact: ArtifactSpec


class FetchedArtifact(BaseModel):
    digest: str  # sha256 of the downloaded bytes: the cache key
    kind: str  # "directory" (unpacked archive) | "file" (e.g. a .jar)
    size: int
    path: str  # on the agent's host, informational


class Probe(BaseModel):
    """SDK ComponentProbe: type http | tcp | command; delay and timeout in seconds."""

    type: str
    delay: int = 0
    timeout: int = 1
    parameters: dict[str, Any] = Field(default_factory=dict)  # scheme/host/port/path or command


class LifecycleHook(BaseModel):
    """SDK LifecycleProcess: type command | http; parameters command or host/port/path."""

    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)


class ReplicaSpec(BaseModel):
    index: int  # 0-based replica number within the instance (unique across hosts)
    # the PORT it is given; 0: the agent picks a free port on its host and keeps it for this
    # index (the port is in ReplicaState; the agent sets PORT in the replica's environment)
    port: int = 0


class ApplyReplicas(BaseModel):
    """Make exactly these replicas of the instance run on this host at ``generation``.

    Replicas of the instance not listed are stopped (pre_stop, SIGTERM, grace, SIGKILL) and
    their directories removed. A listed replica already running at this generation is left
    alone; one at another generation is replaced (one at a time when ``rolling``: each new one
    ready before the next old one is stopped)."""

    project_id: str
    instance_id: str
    generation: str  # changes when the package, command or environment changes (the job id that set it)
    artifact_digest: str | None = None  # from FetchArtifact; None: no package (command only)
    command: list[str]  # argv, run in the replica's working directory (the unpacked package)
    env: dict[str, str] = Field(default_factory=dict)
    replicas: list[ReplicaSpec]
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    post_start: LifecycleHook | None = None
    pre_stop: LifecycleHook | None = None
    grace_seconds: float = 10.0
    rolling: bool = False


class StopReplicas(BaseModel):
    """Stop every replica of the instance on this host, keep its directories (``start`` re-applies)."""

    project_id: str
    instance_id: str
    grace_seconds: float = 10.0


class RemoveInstance(BaseModel):
    """Stop every replica of the instance on this host and remove its working directories and logs."""

    project_id: str
    instance_id: str
    grace_seconds: float = 10.0


class RestartReplica(BaseModel):
    """Restart one replica (rolling restart: the driver restarts them one at a time)."""

    project_id: str
    instance_id: str
    index: int
    grace_seconds: float = 10.0


class InstanceStatusQuery(BaseModel):
    project_id: str
    instance_id: str


class ReplicaPhase(str, Enum):
    STARTING = "starting"  # process started, readiness not passed yet
    READY = "ready"  # running and ready (readiness probe passed, or none and the process is alive)
    BACKOFF = "backoff"  # exited; waiting to be restarted
    FAILED = "failed"  # exited and given up on (restarted too often)
    STOPPED = "stopped"  # stopped on request


class ReplicaState(BaseModel):
    index: int
    port: int
    generation: str
    phase: ReplicaPhase
    pid: int | None = None
    restarts: int = 0
    exit_code: int | None = None
    message: str = ""  # e.g. "exited with code 3", "readiness probe failed: connection refused"


class InstanceReplicas(BaseModel):
    host_id: str
    project_id: str
    instance_id: str
    replicas: list[ReplicaState]


class ReplicaChange(BaseModel):
    """Published by the agent on every phase change of a replica, with the instance's replicas on this host."""

    host_id: str
    project_id: str
    instance_id: str
    changed: ReplicaState
    replicas: list[ReplicaState]


class ReadLogs(BaseModel):
    project_id: str | None = None  # None: any project (the operator's CLI)
    instance_id: str
    replica: int | None = None  # None: every replica on the host, one after the other
    offset: int = 0  # byte offset in the current log file; -N: the last N bytes
    max_bytes: int = 65536


class LogChunk(BaseModel):
    host_id: str
    instance_id: str
    replica: int
    data: str  # UTF-8, undecodable bytes replaced
    next_offset: int


class AgentReply(BaseModel):
    ok: bool
    error: str | None = None  # why a command was refused or failed, in words a user reads
    result: dict[str, Any] | None = None  # the verb's reply model, dumped


# verb -> (request model, reply model)
AGENT_COMMANDS: dict[str, tuple[type[BaseModel], type[BaseModel] | None]] = {
    "fetch": (FetchArtifact, FetchedArtifact),
    "apply": (ApplyReplicas, InstanceReplicas),
    "stop": (StopReplicas, InstanceReplicas),
    "remove": (RemoveInstance, None),
    "restart": (RestartReplica, InstanceReplicas),
    "status": (InstanceStatusQuery, InstanceReplicas),
}
