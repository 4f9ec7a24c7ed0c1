"""The jobs worker's FastStream app (`openstage worker jobs`) and its composition root."""

from __future__ import annotations

from faststream import FastStream

from services.adapters.store import jobs as job_store
from services.contracts.subjects import JOBS
from workers.jobs import queries
from workers.jobs.deps import JobsDeps
from workers.jobs.tracker import Tracker
from workers.runtime import WorkerDeps, build_worker

ROUTERS = [queries.router]


async def compose(base: WorkerDeps) -> JobsDeps:
    """The jobs collection's indexes and the tracker that folds job and task events into it."""
    await job_store.ensure_indexes(base.db)
    return JobsDeps(**base.base(), tracker=Tracker(base.db, base.js))


def build() -> FastStream:
    return build_worker(JOBS, ROUTERS, compose)
