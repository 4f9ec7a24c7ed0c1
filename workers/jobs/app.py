"""The jobs worker's FastStream app (`openstage worker jobs`) and its composition root."""

from __future__ import annotations

from faststream import FastStream

from services.adapters.store import jobs as job_store
from services.contracts.subjects import JOBS
from workers.jobs import fast_path, queries
from workers.jobs.deps import JobsDeps
from workers.jobs.documents import JobDocuments
from workers.jobs.tracker import Tracker
from workers.runtime import WorkerDeps, build_worker

# Every command subscriber of the worker (the bus documentation and the in-process tests read
# ROUTERS). ``jobs.job.get`` is served at run time by the fast path (workers/jobs/fast_path.py), so
# the broker leaves its subscriber out: no message of it is taken by a second, slower subscriber.
ROUTERS = [queries.router]
BROKER_ROUTERS: list = []


async def compose(base: WorkerDeps) -> JobsDeps:
    """The jobs collection's indexes, the job documents kept in memory (with their notices'
    connection), the tracker that folds job and task events into them, and the fast path."""
    await job_store.ensure_indexes(base.db)
    documents = JobDocuments(base.db)
    nats_url = base.settings.nats_url if base.nc is not None else None  # (in-process handler tests have no bus)
    deps = JobsDeps(**base.base(), documents=documents, tracker=Tracker(base.db, base.js, documents))
    if nats_url:  # subscribed before the broker's subscribers (and its ping) go live
        await documents.subscribe(nats_url)
        assert documents.nc is not None
        deps.fast_path = await fast_path.subscribe(deps, documents.nc)
    return deps


def build() -> FastStream:
    return build_worker(JOBS, BROKER_ROUTERS, compose)
