"""What the lifecycle handler tests share: the worker's routers on the in-memory broker with the
deps of its own composition root, a clock the test controls, and a short way to call a subject."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.nats import NatsBroker
from pydantic import BaseModel

from services.adapters.clock import Clock
from services.contracts.envelope import Reply
from services.contracts.subjects import LIFECYCLE
from tests.handlers.conftest import call, handler_broker
from workers.lifecycle import applications, components, environments, metadata
from workers.lifecycle.app import compose
from workers.lifecycle.deps import LifecycleDeps
from workers.runtime import WorkerDeps

ROUTERS = [
    metadata.router,
    environments.router,
    applications.router,
    components.router,
    # show/list (the running worker serves them on its fast path, workers/lifecycle/fast_path.py)
    environments.fast_path_router,
    applications.fast_path_router,
    components.fast_path_router,
]
START_MS = 1_700_000_000_000


class SteppingClock(Clock):
    """Every reading is one second after the previous one: create/update times are distinct and known."""

    def __init__(self) -> None:
        self.ms = START_MS

    def millis(self) -> int:
        self.ms += 1000
        return self.ms


@dataclass
class LifecycleWorker:
    broker: NatsBroker
    deps: LifecycleDeps
    clock: SteppingClock

    async def __call__(self, action: str, body: BaseModel | dict[str, Any] | None = None, project: str = "p1") -> Reply:
        return await call(self.broker, project, LIFECYCLE, action, body)

    def events(self) -> list[tuple[str, str]]:
        """(type, subject) of every event committed so far."""
        return [(e.type, e.subject) for e in self.deps.js.published]


@contextlib.asynccontextmanager
async def lifecycle_worker(base_deps: Callable[[str], Awaitable[WorkerDeps]]) -> AsyncIterator[LifecycleWorker]:
    """The lifecycle routers on the in-memory broker, on a fresh database (each test module's
    ``worker`` fixture)."""
    deps = await compose(await base_deps(LIFECYCLE))  # the worker's own composition root (indexes, guards)
    clock = SteppingClock()
    deps.clock = clock
    async with handler_broker(ROUTERS, deps) as broker:
        yield LifecycleWorker(broker, deps, clock)


@contextlib.asynccontextmanager
async def lifecycle_with_jobs(base_deps: Callable[[str], Awaitable[WorkerDeps]]) -> AsyncIterator[tuple[NatsBroker, LifecycleDeps]]:
    """Every lifecycle router (instances included) on the in-memory broker, with the worker's own
    composition root and a simulated driver that takes no time: a test runs each job by calling
    ``deps.job_runner.run(job_id)``."""
    from workers.lifecycle.app import ROUTERS as ALL_ROUTERS

    base = await base_deps(LIFECYCLE)
    base.settings = base.settings.model_copy(update={"simulated_task_seconds": 0})
    deps = await compose(base)
    async with handler_broker(ALL_ROUTERS, deps) as broker:
        yield broker, deps


async def environment_application_component(
    broker: NatsBroker, component_body: dict[str, Any] | None = None, project: str = "p1"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An environment ("env1"), an application ("app") and a component of it, created through the
    handlers: their replies' results."""
    from services.contracts.subjects import Lifecycle
    from tests.support.bodies import COMPONENT_BODY, ENVIRONMENT_BODY

    async def ok(action: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await call(broker, project, LIFECYCLE, action, body)
        assert reply.status == 200, reply
        return reply.result

    env = await ok(Lifecycle.ENVIRONMENT_CREATE, {**ENVIRONMENT_BODY, "name": "env1"})
    app = await ok(Lifecycle.APPLICATION_CREATE, {"name": "app"})
    body = COMPONENT_BODY if component_body is None else component_body
    comp = await ok(Lifecycle.COMPONENT_CREATE, {"application_id": app["id"], "body": body, "creator": "me"})
    return env, app, comp
