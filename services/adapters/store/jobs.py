"""The jobs collection (owned by the jobs worker): the tracker's read model, one document per job,
folded from job and task events (services/domain/jobs/fold.py).

Several tracker processes may fold events of one job at once: a document is replaced only if its
``rev`` is still the one that was read (optimistic concurrency), else the event is folded again
into the newer document. No transaction is used (single-document writes)."""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.contracts import errors
from services.domain.jobs import fold

COLLECTION = "jobs"
MAX_RETRIES = 20


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[COLLECTION].create_index([("project_id", ASCENDING), ("instance_id", ASCENDING)])


def missing(job_id: str) -> errors.ServiceError:
    return errors.not_found(f"job {job_id} not found", errors.JOB_NOT_FOUND)


async def apply_event(db: AsyncDatabase, event: dict) -> dict:
    """Fold one event into its job's document; returns the document."""
    return await apply_events(db, event["data"]["job_id"], [event])


async def apply_events(db: AsyncDatabase, job_id: str, events: list[dict], known: dict | None = None) -> dict:
    """Fold events of one job, in order, into its document with one read and one write; returns the
    document. ``known``: the document as this process last read or wrote it (then the read is
    skipped: the write matches its ``rev``, so a document another tracker changed since is read
    again and folded anew)."""
    for attempt in range(MAX_RETRIES):
        doc = known if attempt == 0 and known is not None else await db[COLLECTION].find_one({"_id": job_id})
        rev = doc.get("rev", 0) if doc else 0
        state = {k: v for k, v in doc.items() if k != "rev"} if doc else None
        new = state
        for event in events:
            new = fold.apply(new, event)
        assert new is not None
        if state is not None and new == state:
            return doc  # type: ignore[return-value]
        new["rev"] = rev + 1
        if doc is None:
            try:
                await db[COLLECTION].insert_one(new)
                return new
            except DuplicateKeyError:
                continue
        result = await db[COLLECTION].replace_one({"_id": job_id, "rev": rev}, new)
        if result.matched_count == 1:
            return new
    raise RuntimeError(f"job {job_id}: too much contention folding an event")


async def get(db: AsyncDatabase, project_id: str, job_id: str) -> dict | None:
    return await db[COLLECTION].find_one({"_id": job_id, "project_id": project_id})


async def by_id(db: AsyncDatabase, job_id: str) -> dict | None:
    """The job's document, whatever its project (the read model keeps it by id)."""
    return await db[COLLECTION].find_one({"_id": job_id})
