"""The instances, instance_snapshots and instance_jobs collections (owned by the lifecycle worker).

- ``instances``: one document per component instance (the API's fields) plus ``active_job_id``,
  the instance's job lock: set when a job is accepted, cleared (or handed to a waiting forced
  delete) when it ends. Setting it is a conditional update, so two jobs can never hold one instance.
  And ``host_ids``, the hosts its refer resources place it on (``placed_on``).
- ``instance_snapshots``: what each successful deploy/upgrade deployed (rollback targets).
- ``instance_jobs``: the job runner's durable state of each job (``services.contracts.jobs.Job``:
  its plan, the next task, the event counter ``seq``, the runner's lease); the job tracker's read
  model is built from events.
- ``instance_replicas``: the host agents' latest replica reports, one document per instance and
  host (written and read by workers/lifecycle/replica_reports.py; its index is made here, with the
  worker's other indexes).

Times inside job documents are epoch milliseconds (nx-27017 returns datetimes from
find_one_and_update as strings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.adapters.store import mongo
from services.adapters.store.documents import NamedDocuments
from services.adapters.store.mongo import eq
from services.contracts import errors
from services.contracts.component_instances import Instance, ListInstances, ListSnapshots, Snapshot, StatusDetail
from services.contracts.jobs import TERMINAL, Job, JobUpdate, task_key
from services.domain.lifecycle.component_instances import version_key
from services.domain.lifecycle.deployments import hosts_of

INSTANCES = "instances"
SNAPSHOTS = "instance_snapshots"
JOBS = "instance_jobs"
REPLICA_REPORTS = "instance_replicas"
_TERMINAL = sorted(s.value for s in TERMINAL)


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[INSTANCES].create_index(
        [("project_id", ASCENDING), ("component_id", ASCENDING), ("environment_id", ASCENDING), ("name", ASCENDING)], unique=True
    )
    await db[INSTANCES].create_index([("project_id", ASCENDING), ("environment_id", ASCENDING)])
    await db[INSTANCES].create_index(
        [("project_id", ASCENDING), ("application_id", ASCENDING), ("component_id", ASCENDING), ("create_time", DESCENDING)]
    )
    await db[SNAPSHOTS].create_index([("instance_id", ASCENDING), ("create_time", DESCENDING)])
    await db[JOBS].create_index([("instance_id", ASCENDING), ("create_time", DESCENDING)])
    # the instances on a host (``placed_on``; never an index holding host_ids, see there) and an
    # instance's replica reports (replica_reports.py)
    await db[INSTANCES].create_index([("platform_type", ASCENDING)])
    await db[REPLICA_REPORTS].create_index([("instance_id", ASCENDING)])


def missing(instance_id: str) -> errors.ServiceError:
    return errors.not_found(f"instance {instance_id} not found", errors.INSTANCE_NOT_FOUND)


def name_taken(name: str) -> errors.ServiceError:
    # 400, as the v2 reference lists for a create that breaks a rule.
    return errors.bad_request(f"instance name {name!r} already exists for this component in this environment", errors.INSTANCE_NAME_EXISTS)


def _doc(inst: Instance, active_job_id: str | None) -> dict:
    doc = inst.model_dump(mode="json")
    doc["_id"] = inst.id
    doc["active_job_id"] = active_job_id
    doc["host_ids"] = hosts_of(doc["refer_resources"])  # for ``placed_on`` (not a field of the API's Instance)
    return doc


def instance(doc: dict) -> Instance:
    return Instance.model_validate(doc)


@dataclass(frozen=True)
class StoredInstance:
    """An instance and its job lock (the job holding it, None when idle)."""

    instance: Instance
    active_job_id: str | None


def _stored(doc: dict) -> StoredInstance:
    return StoredInstance(instance(doc), doc.get("active_job_id"))


# --- instances -------------------------------------------------------------------------------
async def insert(db: AsyncDatabase, inst: Instance, active_job_id: str, session: AsyncClientSession) -> None:
    try:
        await db[INSTANCES].insert_one(_doc(inst, active_job_id), session=session)
    except DuplicateKeyError:
        raise name_taken(inst.name) from None


async def name_exists(db: AsyncDatabase, project_id: str, component_id: str, environment_id: str, name: str) -> bool:
    # $eq on every field of the unique index (mongo.eq: nx-27017 serves it from the index)
    query = {"project_id": eq(project_id), "component_id": eq(component_id), "environment_id": eq(environment_id), "name": eq(name)}
    return await mongo.exists(db[INSTANCES], query)


async def get_stored(
    db: AsyncDatabase, project_id: str, application_id: str, component_id: str, instance_id: str, session: AsyncClientSession | None = None
) -> StoredInstance:
    doc = await db[INSTANCES].find_one(
        {"_id": instance_id, "project_id": project_id, "application_id": application_id, "component_id": component_id}, session=session
    )
    if doc is None:
        raise missing(instance_id)
    return _stored(doc)


async def get(
    db: AsyncDatabase, project_id: str, application_id: str, component_id: str, instance_id: str, session: AsyncClientSession | None = None
) -> Instance:
    return (await get_stored(db, project_id, application_id, component_id, instance_id, session)).instance


async def by_id(db: AsyncDatabase, instance_id: str, session: AsyncClientSession | None = None) -> StoredInstance | None:
    doc = await db[INSTANCES].find_one({"_id": instance_id}, session=session)
    return None if doc is None else _stored(doc)


async def lock(db: AsyncDatabase, instance_id: str, job_id: str, status_detail: StatusDetail, session: AsyncClientSession) -> bool:
    """Take the instance's job lock for ``job_id`` (False when another job holds it)."""
    result = await db[INSTANCES].update_one(
        {"_id": instance_id, "active_job_id": None},
        {"$set": {"active_job_id": job_id, "status_detail": status_detail.model_dump(mode="json")}},
        session=session,
    )
    return result.matched_count == 1


async def save(db: AsyncDatabase, inst: Instance, job_id: str, lock_after: str | None, session: AsyncClientSession) -> bool:
    """Replace the instance as job ``job_id`` (which must hold its lock) leaves it; ``lock_after``:
    the job holding the lock afterwards (``job_id`` while it runs, None to release it, the forced
    delete's job to hand it over)."""
    result = await db[INSTANCES].replace_one({"_id": inst.id, "active_job_id": job_id}, _doc(inst, lock_after), session=session)
    return result.matched_count == 1


async def remove(db: AsyncDatabase, instance_id: str, job_id: str, session: AsyncClientSession) -> bool:
    result = await db[INSTANCES].delete_one({"_id": instance_id, "active_job_id": job_id}, session=session)
    await db[SNAPSHOTS].delete_many({"instance_id": eq(instance_id)}, session=session)
    return result.deleted_count == 1


def _of_component(project_id: str, application_id: str, component_id: str) -> dict[str, Any]:
    """The component's instances: $eq on the fields leading an index (mongo.eq: nx-27017 serves it
    from the index; a plain equality scans the collection)."""
    return {"project_id": eq(project_id), "application_id": eq(application_id), "component_id": eq(component_id)}


async def page(db: AsyncDatabase, project_id: str, q: ListInstances) -> tuple[int, list[Instance]]:
    query = _of_component(project_id, q.application_id, q.component_id)
    total, docs = await mongo.page(db[INSTANCES], query, q.order_by, q.order, q.offset, q.limit)
    return total, [instance(d) for d in docs]


async def names_in_environment(
    db: AsyncDatabase, project_id: str, environment_id: str, session: AsyncClientSession | None = None
) -> list[str]:
    cursor = db[INSTANCES].find({"project_id": eq(project_id), "environment_id": eq(environment_id)}, session=session).limit(10)
    return [d["name"] async for d in cursor]


async def names_of_component(
    db: AsyncDatabase, project_id: str, application_id: str, component_id: str, session: AsyncClientSession | None = None
) -> list[str]:
    cursor = db[INSTANCES].find(_of_component(project_id, application_id, component_id), session=session).limit(10)
    return [d["name"] async for d in cursor]


async def of_component(
    db: AsyncDatabase, project_id: str, application_id: str, component_id: str, session: AsyncClientSession | None = None
) -> list[StoredInstance]:
    """Every instance of the component, with its job lock."""
    cursor = db[INSTANCES].find(_of_component(project_id, application_id, component_id), session=session)
    return [_stored(d) async for d in cursor]


@dataclass(frozen=True)
class Placed:
    """An instance with replicas on a host."""

    instance_id: str
    project_id: str


_PLACED = {"_id": 1, "project_id": 1}


async def placed_on(db: AsyncDatabase, host_id: str) -> list[Placed]:
    """The instances whose refer resources place replicas on ``host_id`` (``hosts_of``, kept in each
    document as ``host_ids``; only vmapp instances run on hosts), and those written before
    ``host_ids`` whose refer resources say so.

    ``host_ids`` is matched by a plain equality, which matches an array holding the value; the
    index serves ``platform_type`` (``$eq``, mongo.eq). nx-27017 deviations: it indexes
    ``json_extract`` expressions, never an array's elements, and once a field is in an index it
    compares the whole value there (an array never equals one host: nothing is found), so host_ids
    is in no index. SQLite checks ``host_ids`` (``json_each``) without a document being loaded:
    only the host's instances are read and sent."""
    vmapp = eq("vmapp")
    found = [Placed(d["_id"], d["project_id"]) async for d in db[INSTANCES].find({"platform_type": vmapp, "host_ids": host_id}, _PLACED)]
    unmarked = db[INSTANCES].find({"platform_type": vmapp, "host_ids": {"$exists": False}}, {**_PLACED, "refer_resources": 1})
    found += [Placed(d["_id"], d["project_id"]) async for d in unmarked if host_id in hosts_of(d.get("refer_resources") or [])]
    return found


# --- snapshots -------------------------------------------------------------------------------
async def add_snapshot(db: AsyncDatabase, snap: Snapshot, session: AsyncClientSession) -> None:
    doc = snap.model_dump(mode="json")
    doc["_id"] = f"{snap.instance_id}:{snap.job_id}"
    await db[SNAPSHOTS].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)


async def snapshots(db: AsyncDatabase, instance_id: str, session: AsyncClientSession | None = None) -> list[Snapshot]:
    return [Snapshot.model_validate(d) async for d in db[SNAPSHOTS].find({"instance_id": eq(instance_id)}, session=session)]


def order_snapshots(items: list[Snapshot], q: ListSnapshots) -> list[Snapshot]:
    if q.snapshot_order_by == "version":
        key = lambda s: (version_key(s.version), s.create_time)  # noqa: E731
    else:
        key = lambda s: (s.create_time, version_key(s.version))  # noqa: E731
    ordered = sorted(items, key=key, reverse=q.order == "desc")
    return ordered[q.offset : q.offset + q.limit] if q.limit else ordered[q.offset : q.offset + 1000]


# --- jobs (the runner's state) -----------------------------------------------------------------
async def insert_job(db: AsyncDatabase, job: Job, session: AsyncClientSession) -> None:
    await db[JOBS].insert_one(job.document(), session=session)


async def job(db: AsyncDatabase, job_id: str, session: AsyncClientSession | None = None) -> Job | None:
    doc = await db[JOBS].find_one({"_id": job_id}, session=session)
    return None if doc is None else Job.model_validate(doc)


async def claim_job(
    db: AsyncDatabase,
    job_id: str,
    runner: str,
    now_ms: int,
    lease_ms: int,
    session: AsyncClientSession | None = None,
    unqueued_only: bool = False,
) -> Job | None:
    """Take the job's lease (free, or expired) for ``runner``; None when another runner holds it
    or the job has ended. ``unqueued_only``: only a free lease of a job queued behind no other."""
    query: dict[str, Any] = {"_id": job_id, "status": {"$nin": _TERMINAL}}
    if unqueued_only:
        attempts = [{**query, "runner": None, "waits_for": None}]
    else:
        # A free lease, else an expired one: the two arms of ``$or: [{runner: None}, {lease_until:
        # {$lt: now}}]`` as two atomic updates by _id (the second only when the first matched
        # nothing), which take the lease in the same cases. nx-27017 deviation: it evaluates a
        # filter holding ``$or`` on every document of the collection (0.1 s at 5,000 jobs, inside
        # a transaction that holds the process's writes), and matches nothing when an ``$or``
        # sits next to a second null-equality condition.
        attempts = [{**query, "runner": None}, {**query, "lease_until": {"$lt": now_ms}}]
    for attempt in attempts:
        doc = await db[JOBS].find_one_and_update(
            attempt,
            {"$set": {"runner": runner, "lease_until": now_ms + lease_ms}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if doc is not None:
            return Job.model_validate(doc)
    return None


def _set(update: JobUpdate) -> dict[str, Any]:
    """The $set of a job update: each field it gives, each task field as ``tasks.t<index>.<field>``."""
    changes: dict[str, Any] = {}
    values = update.model_dump(mode="json", exclude={"tasks"})  # (exclude_unset would reach into an instance)
    for name in update.model_fields_set - {"tasks"}:
        changes[name] = values[name]
    for index, change in update.tasks.items():
        task = change.model_dump(mode="json")
        for name in change.model_fields_set:
            changes[f"tasks.{task_key(int(index))}.{name}"] = task[name]
    return changes


@dataclass(frozen=True)
class Asked:
    """What a forced delete may have asked of a running job, as its runner last knew it."""

    cancel_requested: bool
    handoff_to: str | None


async def update_job(
    db: AsyncDatabase, job_id: str, runner: str | None, update: JobUpdate, session: AsyncClientSession, asked: Asked | None = None
) -> bool:
    """Apply ``update`` when ``runner`` still holds the job's lease (None: whoever holds it) and,
    given ``asked``, when nobody asked the job anything since (False then: read it and decide again)."""
    query: dict = {"_id": job_id}
    if runner is not None:
        query["runner"] = runner
    if asked is not None:
        query["cancel_requested"] = asked.cancel_requested
        query["handoff_to"] = asked.handoff_to
    result = await db[JOBS].update_one(query, {"$set": _set(update)}, session=session)
    return result.matched_count == 1


# The instances as the lifecycle read model loads and shows them (workers/lifecycle/read_models.py):
# only its reads (get, page, a parents' documents) are used; the writes are the functions above.
INSTANCE_READS = NamedDocuments(
    collection=INSTANCES,
    model=Instance,
    parents=("project_id", "application_id", "component_id"),
    noun="instance",
    not_found_code=errors.INSTANCE_NOT_FOUND,
    name_exists_code=errors.INSTANCE_NAME_EXISTS,
    name_sort_field="name",  # as ``page`` sorts them
)
