"""What the lifecycle worker's handlers use, built once per process by ``workers/lifecycle/app.py``
(its composition root, ``compose``) and handed to each handler through FastStream's context
(``deps: LifecycleDeps = Context()``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.adapters.drivers import Driver
from services.contracts.component_instances import Instance
from services.contracts.events import CloudEvent
from workers.runtime import WorkerDeps

if TYPE_CHECKING:
    from workers.fast_path import PlainSubjects
    from workers.lifecycle.hosts import HostTable
    from workers.lifecycle.job_runner import JobRunner
    from workers.lifecycle.read_models import LifecycleReadModels
    from workers.lifecycle.replica_reports import ReplicaReports

# A check run inside the delete transaction of an environment/application/component: it raises
# a ServiceError to refuse the delete (e.g. 409 while instances remain).
# environment and application guards: ``await guard(project, entity_id, session)``
DeleteGuard = Callable[[str, str, Any], Awaitable[None]]
# component guards: ``await guard(project, application_id, component_id, session)``
ComponentDeleteGuard = Callable[[str, str, str, Any], Awaitable[None]]
# what a forced component delete does instead of its guards, in the delete's transaction:
# ``await cascade(project, application_id, component_id, creator, now_ms, session)`` queues the
# delete jobs of the component's instances and returns their events
ComponentCascade = Callable[[str, str, str, str, int, Any], Awaitable[list[CloudEvent]]]
# what the job runner does when a delete job has removed an instance, in that job's last
# transaction: ``await hook(instance, session)`` returns the events of what it changed
InstanceRemoved = Callable[[Instance, Any], Awaitable[list[CloudEvent]]]


@dataclass
class DeleteGuards:
    """Every check that can refuse a delete, and what ``force=true`` does instead, registered in
    one visible place (``app.compose``)."""

    environment: list[DeleteGuard] = field(default_factory=list)
    application: list[DeleteGuard] = field(default_factory=list)
    component: list[ComponentDeleteGuard] = field(default_factory=list)
    # DELETE .../components/{id}?force=true: instead of the component guards, delete the instances
    # (through their jobs); the component goes when its last instance does (InstanceRemoved)
    component_force: ComponentCascade | None = None


@dataclass
class LifecycleDeps(WorkerDeps):
    """The shared parts plus the deployment driver, the job runner, the delete guards, the host table and the replica reports."""

    driver: Driver | None = None  # the deployment driver (settings.deployment_driver)
    job_runner: JobRunner | None = None  # runs instance jobs from the work queue (started by start())
    delete_guards: DeleteGuards = field(default_factory=DeleteGuards)
    hosts: HostTable | None = None  # the hosts agents announced (workers/lifecycle/hosts.py)
    replica_reports: ReplicaReports | None = None  # instance status from the agents' replica reports
    read_models: LifecycleReadModels | None = None  # environments, applications, components kept in memory for show/list
    fast_path: PlainSubjects | None = None  # show/list on plain nats-py (set by compose)

    @property
    def reads(self) -> LifecycleReadModels:
        """The read models (``compose`` always builds them)."""
        if self.read_models is None:
            raise RuntimeError("the lifecycle read models are built by workers/lifecycle/app.py compose")
        return self.read_models

    def background(self) -> list[Any]:
        # (stopped last first: the fast path stops answering before the rest goes)
        return [p for p in (self.read_models, self.replica_reports, self.hosts, self.job_runner, self.fast_path) if p is not None]
