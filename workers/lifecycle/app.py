"""The lifecycle worker's FastStream app: `openstage worker lifecycle`."""
from __future__ import annotations

from faststream import FastStream

from services.adapters.store import environments as environment_store
from services.adapters.store import applications as application_store
from services.adapters.store import components as component_store
from services.contracts.subjects import LIFECYCLE
from workers.lifecycle import environments, metadata
from workers.lifecycle import applications, components
from workers.lifecycle import component_instances as instances
from workers.lifecycle import component_instance_events as instance_events
from workers.lifecycle.job_runner import JobRunner, work_stream_config
from services.adapters.store import component_instances as instance_store
from workers.runtime import WorkerContext, build_worker

ROUTERS = [metadata.router, environments.router]
ROUTERS += [applications.router, components.router]
ROUTERS += [instances.router]
# CloudEvents type -> model of its data (the AsyncAPI document and docs/bus-reference.md list them)
EVENTS = {**environments.EVENTS, **applications.EVENTS, **components.EVENTS, **instance_events.EVENTS}


async def _indexes(c: WorkerContext) -> None:
    await environment_store.ensure_indexes(c.db)
    await application_store.ensure_indexes(c.db)
    await component_store.ensure_indexes(c.db)
    await instance_store.ensure_indexes(c.db)


_job_runner: JobRunner | None = None


async def _start_job_runner(c: WorkerContext) -> None:
    global _job_runner
    _job_runner = JobRunner(c)
    await _job_runner.start()


async def _stop_job_runner(c: WorkerContext) -> None:
    if _job_runner is not None:
        await _job_runner.stop()


def build() -> FastStream:
    return build_worker(LIFECYCLE, ROUTERS, on_startup=[_indexes], after_startup=[_start_job_runner],
                        on_shutdown=[_stop_job_runner], streams=[work_stream_config()])
