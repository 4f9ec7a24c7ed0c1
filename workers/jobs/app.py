"""The jobs worker's FastStream app: `openstage worker jobs`."""
from __future__ import annotations

from faststream import FastStream

from services.adapters.store import jobs as job_store
from services.contracts.subjects import JOBS
from workers.jobs import queries
from workers.jobs.tracker import Tracker
from workers.runtime import WorkerContext, build_worker

ROUTERS = [queries.router]
_tracker: Tracker | None = None


async def _indexes(c: WorkerContext) -> None:
    await job_store.ensure_indexes(c.db)


async def _start_tracker(c: WorkerContext) -> None:
    global _tracker
    _tracker = Tracker(c)
    await _tracker.start()


async def _stop_tracker(c: WorkerContext) -> None:
    if _tracker is not None:
        await _tracker.stop()


def build() -> FastStream:
    return build_worker(JOBS, ROUTERS, on_startup=[_indexes], after_startup=[_start_tracker],
                        on_shutdown=[_stop_tracker])
