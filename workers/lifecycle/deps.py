"""What the lifecycle worker's handlers use, built once per process by ``workers/lifecycle/app.py``
(its composition root) and handed to each handler through FastStream's context
(``deps: LifecycleDeps = Context()``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from workers.runtime import WorkerDeps

# A check run inside the delete transaction of an environment/application/component: it raises
# a ServiceError to refuse the delete. Arguments: project, the entity's id, the session.
DeleteGuard = Callable[[str, str, Any], Awaitable[None]]


@dataclass
class DeleteGuards:
    """Every check that can refuse a delete, wired in one visible place (``app.compose``)."""

    environment: list[DeleteGuard] = field(default_factory=list)
    application: list[DeleteGuard] = field(default_factory=list)
    component: list[DeleteGuard] = field(default_factory=list)


@dataclass
class LifecycleDeps(WorkerDeps):
    delete_guards: DeleteGuards = field(default_factory=DeleteGuards)
    # the deployment driver and the job runner are added by the lifecycle composition root
    driver: Any = None
    job_runner: Any = None
