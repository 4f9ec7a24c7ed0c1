"""The deployment driver interface.

A driver turns an operation on an instance (deploy, upgrade, rollback, start, stop, restart,
scale, delete) into an ordered list of named tasks. The job runner (workers/lifecycle/job_runner.py)
runs them one at a time, persists each task's state with its events, and resumes at the first
unfinished task after a crash: so a task must be safe to run again (idempotent), and the list a
driver returns must depend only on its arguments (the job keeps them).

A task reports progress through ``TaskContext.progress`` (a message and, when it knows, how many
replicas are available); it returns its final message, or raises ``TaskFailed`` with the reason."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Workload:
    """What a driver acts on: the instance as the job wants it."""

    project_id: str
    instance_id: str
    name: str
    application_id: str
    component_id: str
    environment_id: str
    platform_type: str  # cce | vmapp
    flavor_id: str
    version: str
    replica: int  # desired replicas
    available_replica: int  # replicas available when the job started
    artifacts: dict[str, Any] = field(default_factory=dict)
    configuration: dict[str, Any] = field(default_factory=dict)
    refer_resources: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""  # the instance's status when the job was submitted (e.g. an upgrade of a STOPPED one)


class TaskFailed(Exception):
    """A task could not do its work; the message is what the job shows for it."""

    def __init__(self, message: str, available_replica: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.available_replica = available_replica


class TaskContext(Protocol):
    attempt: int  # 1 on the first run, more when the task is re-run after a crash

    async def progress(self, message: str, available_replica: int | None = None) -> None: ...


@dataclass(frozen=True)
class TaskResult:
    message: str
    available_replica: int | None = None


@dataclass(frozen=True)
class Task:
    key: str  # stable identifier, e.g. "pull_artifact"
    name: str  # what TASK_NAME shows
    type: str  # what TASK_TYPE shows
    run: Callable[[TaskContext], Awaitable[TaskResult]]
    side_effects: bool = True  # False: it changes nothing outside the job (the runner need not persist its start first)


class Driver(ABC):
    """One method per operation; each returns the tasks that carry it out."""

    name: str = "driver"

    @abstractmethod
    def deploy(self, w: Workload) -> list[Task]: ...

    @abstractmethod
    def upgrade(self, current: Workload, target: Workload) -> list[Task]: ...

    @abstractmethod
    def rollback(self, current: Workload, target: Workload) -> list[Task]: ...

    @abstractmethod
    def start(self, w: Workload) -> list[Task]: ...

    @abstractmethod
    def stop(self, w: Workload) -> list[Task]: ...

    @abstractmethod
    def restart(self, w: Workload) -> list[Task]: ...

    @abstractmethod
    def scale(self, w: Workload, replica: int, hosts: list[str] | None = None) -> list[Task]:
        """``hosts``: the VM hosts the replicas run on from now (a scale's ``parameters.hosts``), None: unchanged."""

    @abstractmethod
    def delete(self, w: Workload) -> list[Task]: ...
