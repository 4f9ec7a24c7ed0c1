"""The registry's collections (owned by the registry worker).

Every document keeps the resource's v4 JSON as one opaque string (``json``) plus the
scalar fields it is looked up by. Filters are built here from plain strings only, so no input –
an id such as ``{"$gt": ""}`` or ``a.b$c`` – can become an operator or a field path: it is a
literal that matches nothing. ``_id``s are ``<project>/<serviceId>[/<instanceId|schemaId>]``
(a project id has no ``/``; instance and schema ids have none either), so the same ids in two
projects are two documents.

Collections and their indexes (every query below uses one):

* ``registry_services``: (project, app_id, environment) – find/existence/dependency lookups;
  unique (project, environment, app_id, service_name, version) – one service per key.
* ``registry_schemas``: (project, service_id).
* ``registry_dependencies``: one document per consumer -> provider rule;
  (project, consumer_id) and (project, p_environment, p_app_id, p_service_name).
* ``registry_instances``: (project, service_id), (project, service_id, endpoints_key), (deadline) –
  the expiry scan. An instance's lease (``ttl``, ``deadline``) lives in its document, so a
  registration is one write. ``registry_leases`` (where leases lived before) is emptied into the
  instances at start (:func:`ensure_indexes`).

nx-27017 notes: array-contains queries are not supported, hence one dependency document per
rule and service tags kept inside the blob.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.adapters.store import final_writes, mongo
from services.contracts import registry_errors as rerr

SERVICES = "registry_services"
SCHEMAS = "registry_schemas"
DEPENDENCIES = "registry_dependencies"
INSTANCES = "registry_instances"
LEASES = "registry_leases"  # before leases moved into the instances: emptied at start

Session = AsyncClientSession | None
# an instance to write: (project, instance JSON, endpoints key, lease ttl, lease deadline)
InstanceItem = tuple[str, Mapping[str, Any], str, int, float]


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[SERVICES].create_index([("project", ASCENDING), ("app_id", ASCENDING), ("environment", ASCENDING)])
    await db[SERVICES].create_index(
        [("project", ASCENDING), ("environment", ASCENDING), ("app_id", ASCENDING), ("service_name", ASCENDING), ("version", ASCENDING)],
        unique=True,
    )
    await db[SERVICES].create_index([("project", ASCENDING), ("service_id", ASCENDING)])
    await db[SCHEMAS].create_index([("project", ASCENDING), ("service_id", ASCENDING)])
    await db[DEPENDENCIES].create_index([("project", ASCENDING), ("consumer_id", ASCENDING)])
    await db[DEPENDENCIES].create_index(
        [("project", ASCENDING), ("p_environment", ASCENDING), ("p_app_id", ASCENDING), ("p_service_name", ASCENDING)]
    )
    await db[INSTANCES].create_index([("project", ASCENDING), ("service_id", ASCENDING)])
    await db[INSTANCES].create_index([("project", ASCENDING), ("service_id", ASCENDING), ("endpoints_key", ASCENDING)])
    await db[INSTANCES].create_index([("deadline", ASCENDING)])
    await _move_leases_into_instances(db)


async def _move_leases_into_instances(db: AsyncDatabase) -> None:
    """A store written before leases moved into the instance documents: each lease's ttl and
    deadline go into its instance (``$max``: never back), then the lease is removed. Idempotent,
    so processes starting together may each run it."""
    while True:
        leases = [d async for d in db[LEASES].find({}, {"ttl": 1, "deadline": 1}).limit(500)]
        if not leases:
            return
        await db[INSTANCES].bulk_write(
            [UpdateOne({"_id": d["_id"]}, {"$set": {"ttl": d["ttl"]}, "$max": {"deadline": d["deadline"]}}) for d in leases], ordered=False
        )
        await db[LEASES].delete_many({"_id": {"$in": [d["_id"] for d in leases]}})


def _s(value: Any) -> str:
    """Only plain strings reach a filter."""
    if not isinstance(value, str):
        raise rerr.invalid_params("identifiers must be strings")
    return value


def _eq(value: Any) -> dict[str, str]:
    """``mongo.eq`` of a plain string: an equality on a field that leads an index, served from it
    by nx-27017 (a plain equality on ``project`` scanned: 10 ms at 10,000 instances, 0.7 ms so)."""
    return mongo.eq(_s(value))


def service_key(project: str, service_id: str) -> str:
    return f"{_s(project)}/{_s(service_id)}"


def child_key(project: str, service_id: str, child_id: str) -> str:
    return f"{_s(project)}/{_s(service_id)}/{_s(child_id)}"


def _dump(value: Any) -> str:
    # a str, not bytes: nx-27017 cannot upsert/replace documents holding binary values
    return orjson.dumps(value).decode()


def _load(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if doc is None else orjson.loads(doc["json"])


# --- services ----------------------------------------------------------------------------------
def _service_doc(project: str, service: Mapping[str, Any], tags: Mapping[str, str] | None) -> dict[str, Any]:
    return {
        "_id": service_key(project, service["serviceId"]),
        "project": project,
        "service_id": service["serviceId"],
        "environment": service.get("environment") or "",
        "app_id": service.get("appId") or "",
        "service_name": service.get("serviceName") or "",
        "alias": service.get("alias") or "",
        "version": service.get("version") or "",
        "json": _dump(service),
        "tags": _dump(dict(tags or {})),
    }


async def insert_service(
    db: AsyncDatabase, project: str, service: Mapping[str, Any], tags: Mapping[str, str] | None, session: Session
) -> None:
    try:
        await db[SERVICES].insert_one(_service_doc(project, service, tags), session=session)
    except DuplicateKeyError:
        raise rerr.service_already_exists() from None


async def replace_service(db: AsyncDatabase, project: str, service: Mapping[str, Any], session: Session) -> None:
    result = await db[SERVICES].update_one(
        {"_id": service_key(project, service["serviceId"]), "project": project}, {"$set": {"json": _dump(service)}}, session=session
    )
    if result.matched_count == 0:
        raise rerr.service_not_exists()


async def get_service_tags(db: AsyncDatabase, project: str, service_id: str, session: Session = None) -> tuple[dict, dict] | None:
    """A service's JSON and its tag set, or None when it does not exist."""
    doc = await db[SERVICES].find_one(
        {"_id": service_key(project, service_id), "project": project}, {"json": 1, "tags": 1}, session=session
    )
    if doc is None:
        return None
    return orjson.loads(doc["json"]), (orjson.loads(doc["tags"]) if doc.get("tags") else {})


async def set_service_tags(db: AsyncDatabase, project: str, service_id: str, tags: Mapping[str, str], session: Session) -> None:
    """Replace a service's whole tag set (400012 when the service is gone)."""
    result = await db[SERVICES].update_one(
        {"_id": service_key(project, service_id), "project": project}, {"$set": {"tags": _dump(dict(tags))}}, session=session
    )
    if result.matched_count == 0:
        raise rerr.service_not_exists("Service does not exist.")


async def get_service(db: AsyncDatabase, project: str, service_id: str, session: Session = None) -> dict | None:
    doc = await db[SERVICES].find_one({"_id": service_key(project, service_id), "project": project}, {"json": 1}, session=session)
    return _load(doc)


async def service_id_by_key(
    db: AsyncDatabase, project: str, environment: str, app_id: str, service_name: str, version: str, session: Session = None
) -> str | None:
    doc = await db[SERVICES].find_one(
        {
            "project": _eq(project),
            "environment": _s(environment),
            "app_id": _eq(app_id),
            "service_name": _s(service_name),
            "version": _s(version),
        },
        {"service_id": 1},
        session=session,
    )
    return None if doc is None else doc["service_id"]


async def services_of_app(db: AsyncDatabase, project: str, app_id: str, environment: str, session: Session = None) -> list[dict]:
    """Every service of one (project, appId, environment)."""
    cursor = db[SERVICES].find(
        {"project": _eq(project), "app_id": _eq(app_id), "environment": _s(environment)}, {"json": 1}, session=session
    )
    return [orjson.loads(d["json"]) async for d in cursor]


async def services_with_tags(
    db: AsyncDatabase, project: str, app_id: str, environment: str
) -> tuple[list[dict], dict[str, dict[str, str]]]:
    cursor = db[SERVICES].find({"project": _eq(project), "app_id": _eq(app_id), "environment": _s(environment)}, {"json": 1, "tags": 1})
    services, tags = [], {}
    async for d in cursor:
        s = orjson.loads(d["json"])
        services.append(s)
        tags[s["serviceId"]] = orjson.loads(d["tags"]) if d.get("tags") else {}
    return services, tags


async def list_services(
    db: AsyncDatabase,
    project: str,
    *,
    app_id: str | None = None,
    environment: str | None = None,
    service_name: str | None = None,
    version: str | None = None,
) -> list[dict]:
    query: dict[str, Any] = {"project": _eq(project)}
    for field_name, value in (("app_id", app_id), ("environment", environment), ("service_name", service_name), ("version", version)):
        if value is not None:
            query[field_name] = _s(value)
    cursor = db[SERVICES].find(query, {"json": 1}).sort([("_id", ASCENDING)])
    return [orjson.loads(d["json"]) async for d in cursor]


async def all_services(db: AsyncDatabase, project: str, environment: str | None = None, session: Session = None) -> list[dict]:
    query: dict[str, Any] = {"project": _eq(project)}
    if environment is not None:
        query["environment"] = _s(environment)
    cursor = db[SERVICES].find(query, {"json": 1}, session=session)
    return [orjson.loads(d["json"]) async for d in cursor]


async def delete_service(db: AsyncDatabase, project: str, service_id: str, session: Session) -> bool:
    result = await db[SERVICES].delete_one({"_id": service_key(project, service_id), "project": project}, session=session)
    return result.deleted_count == 1


# --- schemas -----------------------------------------------------------------------------------
async def get_schema(db: AsyncDatabase, project: str, service_id: str, schema_id: str, session: Session = None) -> dict | None:
    return await db[SCHEMAS].find_one(
        {"_id": child_key(project, service_id, schema_id), "project": project}, {"schema": 1, "summary": 1, "schema_id": 1}, session=session
    )


async def put_schema(
    db: AsyncDatabase, project: str, service_id: str, schema_id: str, schema: str, summary: str | None, session: Session
) -> None:
    await db[SCHEMAS].replace_one(
        {"_id": child_key(project, service_id, schema_id)},
        {
            "_id": child_key(project, service_id, schema_id),
            "project": project,
            "service_id": service_id,
            "schema_id": schema_id,
            "schema": schema,
            "summary": summary or "",
        },
        upsert=True,
        session=session,
    )


async def list_schemas(db: AsyncDatabase, project: str, service_id: str, session: Session = None) -> list[dict]:
    cursor = db[SCHEMAS].find(
        {"project": _eq(project), "service_id": _s(service_id)}, {"schema_id": 1, "summary": 1, "schema": 1}, session=session
    )
    return sorted([d async for d in cursor], key=lambda d: d["schema_id"])


async def delete_schema(db: AsyncDatabase, project: str, service_id: str, schema_id: str, session: Session) -> bool:
    r = await db[SCHEMAS].delete_one({"_id": child_key(project, service_id, schema_id), "project": project}, session=session)
    return r.deleted_count == 1


async def delete_schemas_of(db: AsyncDatabase, project: str, service_id: str, session: Session) -> None:
    await db[SCHEMAS].delete_many({"project": _eq(project), "service_id": _s(service_id)}, session=session)


# --- dependencies ------------------------------------------------------------------------------
def _rule_id(project: str, consumer_id: str, rule: Mapping[str, str]) -> str:
    return "/".join((_s(project), _s(consumer_id), rule["environment"], rule["appId"], rule["serviceName"]))


async def dependency_rules(db: AsyncDatabase, project: str, consumer_id: str, session: Session = None) -> list[dict[str, str]]:
    cursor = db[DEPENDENCIES].find({"project": _eq(project), "consumer_id": _s(consumer_id)}, session=session)
    docs = sorted([d async for d in cursor], key=lambda d: d.get("seq", 0))
    return [
        {"environment": d["p_environment"], "appId": d["p_app_id"], "serviceName": d["p_service_name"], "version": d["version"]}
        for d in docs
    ]


async def set_dependency_rules(
    db: AsyncDatabase, project: str, consumer_id: str, rules: Iterable[Mapping[str, str]], session: Session
) -> None:
    """Replace every provider rule of a consumer."""
    await db[DEPENDENCIES].delete_many({"project": _eq(project), "consumer_id": _s(consumer_id)}, session=session)
    docs = [
        {
            "_id": _rule_id(project, consumer_id, r),
            "project": project,
            "consumer_id": consumer_id,
            "p_environment": r["environment"],
            "p_app_id": r["appId"],
            "p_service_name": r["serviceName"],
            "version": r["version"],
            "seq": i,
        }
        for i, r in enumerate(rules)
    ]
    if docs:
        await db[DEPENDENCIES].insert_many(docs, session=session)


async def consumers_of(db: AsyncDatabase, project: str, provider: Mapping[str, Any], session: Session = None) -> list[dict[str, str]]:
    """(consumer_id, rule) of every rule naming this provider service by its environment, appId
    and serviceName (not ``*`` rules; whether the rule's version selects it is the caller's)."""
    cursor = db[DEPENDENCIES].find(
        {
            "project": _eq(project),
            "p_environment": _s(provider.get("environment") or ""),
            "p_app_id": _s(provider.get("appId") or ""),
            "p_service_name": _s(provider.get("serviceName") or ""),
        },
        session=session,
    )
    return [
        {
            "consumerId": d["consumer_id"],
            "environment": d["p_environment"],
            "appId": d["p_app_id"],
            "serviceName": d["p_service_name"],
            "version": d["version"],
        }
        async for d in cursor
    ]


async def delete_dependencies_of(db: AsyncDatabase, project: str, consumer_id: str, session: Session) -> None:
    await db[DEPENDENCIES].delete_many({"project": _eq(project), "consumer_id": _s(consumer_id)}, session=session)


# --- instances and leases --------------------------------------------------------------------
def _instance_doc(project: str, instance: Mapping[str, Any], endpoints_key: str, ttl: int, deadline: float) -> dict[str, Any]:
    return {
        "_id": child_key(project, instance["serviceId"], instance["instanceId"]),
        "project": project,
        "service_id": instance["serviceId"],
        "instance_id": instance["instanceId"],
        "endpoints_key": endpoints_key,
        "json": _dump(instance),
        "ttl": ttl,
        "deadline": float(deadline),
    }


async def put_instance(
    db: AsyncDatabase, project: str, instance: Mapping[str, Any], endpoints_key: str, ttl: int, deadline: float, session: Session
) -> None:
    """Insert or overwrite an instance, its lease (re)started."""
    doc = _instance_doc(project, instance, endpoints_key, ttl, deadline)
    await db[INSTANCES].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)


async def instances_by_keys(db: AsyncDatabase, keys: list[str], session: Session = None) -> dict[str, dict]:
    """Instances by their ``_id`` (:func:`child_key`), for those that exist."""
    if not keys:
        return {}
    cursor = db[INSTANCES].find({"_id": {"$in": [_s(k) for k in keys]}}, {"json": 1}, session=session)
    return {d["_id"]: orjson.loads(d["json"]) async for d in cursor}


async def instances_by_endpoints(
    db: AsyncDatabase, project: str, service_id: str, endpoints_keys: list[str], session: Session = None
) -> dict[str, dict]:
    """One instance of a service per endpoints key, for the keys some instance has."""
    keys = [_s(k) for k in endpoints_keys if k]
    if not keys:
        return {}
    query = {"project": _eq(project), "service_id": _s(service_id), "endpoints_key": {"$in": keys}}
    cursor = db[INSTANCES].find(query, {"json": 1, "endpoints_key": 1}, session=session)
    found: dict[str, dict] = {}
    async for d in cursor:
        found.setdefault(d["endpoints_key"], orjson.loads(d["json"]))
    return found


async def put_instances(db: AsyncDatabase, items: Sequence[InstanceItem], session: Session) -> None:
    """:func:`put_instance` for several (project, instance, endpoints key, ttl, deadline) at once:
    one bulk write, in order, so a later item overwrites an earlier one."""
    if not items:
        return
    ops = [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in (_instance_doc(*item) for item in items)]
    await db[INSTANCES].bulk_write(ops, ordered=True, session=session)


async def insert_new_instances(db: AsyncDatabase, items: Sequence[InstanceItem], session: Session) -> set[int]:
    """Insert each (project, instance, endpoints key, ttl, deadline) unless its service already
    has an instance with that endpoints key (that one is left as it is): one bulk write of
    upserts, each found by the (project, service_id, endpoints_key) index. The positions of the
    items inserted. The endpoints keys must be non-empty and distinct per service."""
    ops = [u.operation() for u in new_instance_upserts(items)]
    if not ops:
        return set()
    result = await db[INSTANCES].bulk_write(ops, ordered=True, session=session)
    return set(result.upserted_ids or {})


def new_instance_upserts(items: Sequence[InstanceItem]) -> list[final_writes.Upsert]:
    """The upserts of :func:`insert_new_instances`, one per item, in order (to hand to
    ``final_writes.defer(INSTANCES, ...)``)."""
    upserts = []
    for item in items:
        doc = _instance_doc(*item)
        query = {field: _eq(doc.pop(field)) for field in ("project", "service_id", "endpoints_key")}
        # an upsert's insert starts from the query's equalities ($eq included), then $setOnInsert
        upserts.append(final_writes.Upsert(query, {"$setOnInsert": doc}))
    return upserts


async def replace_instance_json(db: AsyncDatabase, project: str, instance: Mapping[str, Any], session: Session) -> bool:
    r = await db[INSTANCES].update_one(
        {"_id": child_key(project, instance["serviceId"], instance["instanceId"]), "project": project},
        {"$set": {"json": _dump(instance)}},
        session=session,
    )
    return r.matched_count == 1


async def get_instance(db: AsyncDatabase, project: str, service_id: str, instance_id: str, session: Session = None) -> dict | None:
    doc = await db[INSTANCES].find_one(
        {"_id": child_key(project, service_id, instance_id), "project": project}, {"json": 1}, session=session
    )
    return _load(doc)


async def instance_by_endpoints(
    db: AsyncDatabase, project: str, service_id: str, endpoints_key: str, session: Session = None
) -> dict | None:
    if not endpoints_key:
        return None
    doc = await db[INSTANCES].find_one(
        {"project": _eq(project), "service_id": _s(service_id), "endpoints_key": _s(endpoints_key)}, {"json": 1}, session=session
    )
    return _load(doc)


async def instances_of(db: AsyncDatabase, project: str, service_ids: list[str], session: Session = None) -> list[dict]:
    if not service_ids:
        return []
    ids = [_s(i) for i in service_ids]
    query: dict[str, Any] = {"project": _eq(project)}
    query["service_id"] = ids[0] if len(ids) == 1 else {"$in": ids}
    cursor = db[INSTANCES].find(query, {"json": 1}, session=session)
    return [orjson.loads(d["json"]) async for d in cursor]


async def all_instances(db: AsyncDatabase, project: str, session: Session = None) -> list[dict]:
    """Every instance of a project."""
    cursor = db[INSTANCES].find({"project": _eq(project)}, {"json": 1}, session=session)
    return [orjson.loads(d["json"]) async for d in cursor]


async def count_instances(db: AsyncDatabase, project: str, service_id: str, session: Session = None) -> int:
    return await db[INSTANCES].count_documents({"project": _eq(project), "service_id": _s(service_id)}, limit=1, session=session)


async def delete_instance(db: AsyncDatabase, project: str, service_id: str, instance_id: str, session: Session) -> bool:
    key = child_key(project, service_id, instance_id)
    r = await db[INSTANCES].delete_one({"_id": key, "project": project}, session=session)
    return r.deleted_count == 1


async def lease_ttl(db: AsyncDatabase, project: str, service_id: str, instance_id: str) -> int | None:
    """The lease TTL of a live instance (None: no such instance)."""
    doc = await db[INSTANCES].find_one({"_id": child_key(project, service_id, instance_id)}, {"ttl": 1})
    return None if doc is None or doc.get("ttl") is None else int(doc["ttl"])


async def extend_leases(db: AsyncDatabase, deadlines: Mapping[float, list[str]]) -> int:
    """Push the deadline of each lease forward (never back: ``$max``); one write per deadline.
    Leases that no longer exist are not recreated."""
    matched = 0
    for deadline, keys in deadlines.items():
        query: dict[str, Any] = {"_id": keys[0] if len(keys) == 1 else {"$in": keys}}
        r = await db[INSTANCES].update_many(query, {"$max": {"deadline": deadline}})
        matched += r.matched_count
    return matched


async def existing_leases(db: AsyncDatabase, keys: list[str]) -> set[str]:
    """Which of these lease ``_id``s (those of their instances) still exist (read 500 at a time)."""
    present: set[str] = set()
    for i in range(0, len(keys), 500):
        cursor = db[INSTANCES].find({"_id": {"$in": keys[i : i + 500]}}, {"_id": 1})
        present.update([d["_id"] async for d in cursor])
    return present


async def expired_leases(db: AsyncDatabase, before: float, limit: int = 200) -> list[dict]:
    cursor = (
        db[INSTANCES]
        .find({"deadline": {"$lt": float(before)}}, {"project": 1, "service_id": 1, "instance_id": 1, "deadline": 1})
        .limit(limit)
    )
    return [d async for d in cursor]


async def take_expired_instance(db: AsyncDatabase, lease: Mapping[str, Any], session: Session) -> dict | None:
    """Delete an instance only if its lease's deadline is still the one seen (a renewal or a new
    registration meanwhile, or another process that already took it, makes this a no-op): exactly
    one process wins. The instance's JSON when deleted here, else None."""
    doc = await db[INSTANCES].find_one_and_delete({"_id": lease["_id"], "deadline": lease["deadline"]}, {"json": 1}, session=session)
    return _load(doc)


async def delete_instances_of(db: AsyncDatabase, project: str, service_id: str, session: Session) -> None:
    await db[INSTANCES].delete_many({"project": _eq(project), "service_id": _s(service_id)}, session=session)
