"""ServiceComb-Kie's collections (owned by the config worker).

- ``kie_kvs``: one document per KV, ``_id`` = the KV's id (``services.domain.config.kie.kv_id``),
  with ``project_id``, ``label_format`` and the fields Kie answers (id, key, value, value_type,
  labels, status, create/update revision and time). Label keys are *values* inside ``labels`` as
  stored, and are never used as field names in a filter: a list reads the project's KVs (or those
  of one ``label_format`` for ``match=exact``) and the worker applies Kie's rules to them.
- ``kie_revisions``: the project's revision counter, ``{_id: project, count}``; every create, update
  and delete (one per batch delete) increments it in the same transaction (Kie keeps one per
  domain: apache/servicecomb-kie ``server/datasource/mongo/counter/revision.go`` L38-81).
- ``kie_kv_history``: a copy of a KV at each of its revisions, the newest ``MAX_HISTORY`` kept
  (Kie: ``server/datasource/mongo/history/history_dao.go`` L40-111, ``MaxHistoryNum`` = 100);
  removed with the KV (Kie lets a TTL index remove them later).

Filters are built from the project (subject), ids (validated strings) and label formats computed
by the domain rules: no input can become a MongoDB operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

KVS = "kie_kvs"
REVISIONS = "kie_revisions"
HISTORY = "kie_kv_history"
MAX_HISTORY = 100

_PROJECTION = {"project_id": 0, "label_format": 0, "_id": 0}


def _string(value: str) -> str:
    if not isinstance(value, str):  # defence in depth: only plain strings reach a filter
        raise TypeError("kie filters take strings only")
    return value


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[KVS].create_index([("project_id", ASCENDING), ("label_format", ASCENDING), ("key", ASCENDING)], unique=True)
    await db[HISTORY].create_index([("project_id", ASCENDING), ("id", ASCENDING), ("update_revision", DESCENDING)])


async def current_revision(db: AsyncDatabase, project_id: str, session: AsyncClientSession | None = None) -> int:
    doc = await db[REVISIONS].find_one({"_id": _string(project_id)}, session=session)
    return int(doc["count"]) if doc else 0


async def next_revision(db: AsyncDatabase, project_id: str, session: AsyncClientSession) -> int:
    """Increment the project's revision and return the new value."""
    doc = await db[REVISIONS].find_one_and_update(
        {"_id": _string(project_id)}, {"$inc": {"count": 1}}, upsert=True, return_document=ReturnDocument.AFTER, session=session
    )
    return int(doc["count"])


async def get(db: AsyncDatabase, project_id: str, kv_id: str, session: AsyncClientSession | None = None) -> dict | None:
    return await db[KVS].find_one({"_id": _string(kv_id), "project_id": _string(project_id)}, projection=_PROJECTION, session=session)


async def of_project(db: AsyncDatabase, project_id: str, label_format: str | None = None) -> list[dict[str, Any]]:
    """The project's KVs (only those with exactly one label set when ``label_format`` is given)."""
    query = {"project_id": _string(project_id)}
    if label_format is not None:
        query["label_format"] = _string(label_format)
    return [doc async for doc in db[KVS].find(query, projection=_PROJECTION)]


async def many(db: AsyncDatabase, project_id: str, ids: Iterable[str], session: AsyncClientSession) -> list[dict[str, Any]]:
    wanted = [_string(i) for i in ids]
    cursor = db[KVS].find({"_id": {"$in": wanted}, "project_id": _string(project_id)}, projection=_PROJECTION, session=session)
    return [doc async for doc in cursor]


async def insert(db: AsyncDatabase, project_id: str, label_format: str, kv: dict[str, Any], session: AsyncClientSession) -> None:
    await db[KVS].insert_one({"_id": kv["id"], "project_id": project_id, "label_format": label_format, **kv}, session=session)
    await _remember(db, project_id, kv, session)


async def update(db: AsyncDatabase, project_id: str, kv: dict[str, Any], changes: dict[str, Any], session: AsyncClientSession) -> None:
    """Write ``changes`` (value/status and the new update revision and time) to the KV ``kv`` (as it now is)."""
    await db[KVS].update_one({"_id": _string(kv["id"]), "project_id": _string(project_id)}, {"$set": changes}, session=session)
    await _remember(db, project_id, {**kv, **changes}, session)


async def remove(db: AsyncDatabase, project_id: str, ids: list[str], session: AsyncClientSession) -> None:
    wanted = [_string(i) for i in ids]
    if wanted:
        await db[KVS].delete_many({"_id": {"$in": wanted}, "project_id": _string(project_id)}, session=session)
        await db[HISTORY].delete_many({"id": {"$in": wanted}, "project_id": _string(project_id)}, session=session)


async def _remember(db: AsyncDatabase, project_id: str, kv: dict[str, Any], session: AsyncClientSession) -> None:
    """Keep a copy of the KV at this revision; drop the oldest beyond ``MAX_HISTORY``."""
    doc_id = f"{kv['id']}:{kv['update_revision']}"
    await db[HISTORY].replace_one({"_id": doc_id}, {"_id": doc_id, "project_id": project_id, **kv}, upsert=True, session=session)
    query = {"project_id": _string(project_id), "id": _string(kv["id"])}
    old = db[HISTORY].find(query, projection={"_id": 1}, session=session).sort("update_revision", DESCENDING).skip(MAX_HISTORY)
    stale = [doc["_id"] async for doc in old]
    if stale:
        await db[HISTORY].delete_many({"_id": {"$in": stale}}, session=session)


async def history(db: AsyncDatabase, project_id: str, kv_id: str, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of a KV's revisions, newest first (``limit`` 0: all)."""
    query = {"project_id": _string(project_id), "id": _string(kv_id)}
    total = await db[HISTORY].count_documents(query)
    cursor = db[HISTORY].find(query, projection={"_id": 0, "project_id": 0}).sort("update_revision", DESCENDING).skip(offset)
    if limit:
        cursor = cursor.limit(limit)
    return total, [doc async for doc in cursor]
