"""The config-center items collection (owned by the config worker).

``config_items``: one document per item,
``{"_id", "project_id", "environment", "dimension", "key", "value", "update_time"}`` where
``dimension`` is ``application``, ``svc@app``, ``darklaunch@app`` or ``svc@app#version`` and
``environment`` is the ``X-Environment`` the item was written with (``""`` = none). The key is a
*value* of a field, never a field name, so any key ("a.b", "$x") is stored as it is; ``_id`` is a
sha1 of (project, environment, dimension, key), so the same item always has the same id.

Every filter here is built from typed, validated strings (the project from the subject, an
environment out of a fixed list, dimensions produced by ``services.domain.registry.config_center``, keys
that are ``str``): no input can become a MongoDB operator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "config_items"


def item_id(project_id: str, environment: str, dimension: str, key: str) -> str:
    raw = json.dumps([project_id, environment, dimension, key], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(raw.encode()).hexdigest()


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[COLLECTION].create_index(
        [("project_id", ASCENDING), ("environment", ASCENDING), ("dimension", ASCENDING), ("key", ASCENDING)], unique=True
    )


def _strings(values: Iterable[str]) -> list[str]:
    out = [v for v in values]
    if not all(isinstance(v, str) for v in out):  # defence in depth: only plain strings reach a filter
        raise TypeError("config item filters take strings only")
    return out


async def by_dimension(db: AsyncDatabase, project_id: str, environment: str, dimensions: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{dimension: {key: value}}`` of the given dimensions (those without items are absent)."""
    dims = _strings(dimensions)
    query = {"project_id": _strings([project_id])[0], "environment": _strings([environment])[0], "dimension": {"$in": dims}}
    out: dict[str, dict[str, Any]] = {}
    cursor = db[COLLECTION].find(query, projection={"dimension": 1, "key": 1, "value": 1})
    async for doc in cursor.sort([("dimension", ASCENDING), ("key", ASCENDING)]):
        out.setdefault(doc["dimension"], {})[doc["key"]] = doc["value"]
    return out


async def values(
    db: AsyncDatabase, project_id: str, environment: str, dimension: str, keys: Iterable[str], session: AsyncClientSession | None = None
) -> dict[str, Any]:
    """The current values of ``keys`` in one dimension (missing keys are absent)."""
    ids = [item_id(project_id, environment, dimension, k) for k in _strings(keys)]
    cursor = db[COLLECTION].find({"_id": {"$in": ids}}, projection={"key": 1, "value": 1}, session=session)
    return {doc["key"]: doc["value"] async for doc in cursor}


async def put(
    db: AsyncDatabase, project_id: str, environment: str, dimension: str, items: dict[str, Any], now: int, session: AsyncClientSession
) -> None:
    """Create or overwrite the items of one dimension."""
    for key, value in items.items():
        doc_id = item_id(project_id, environment, dimension, key)
        doc = {
            "_id": doc_id,
            "project_id": project_id,
            "environment": environment,
            "dimension": dimension,
            "key": key,
            "value": value,
            "update_time": now,
        }
        await db[COLLECTION].replace_one({"_id": doc_id}, doc, upsert=True, session=session)


async def remove(
    db: AsyncDatabase, project_id: str, environment: str, dimension: str, keys: Iterable[str], session: AsyncClientSession
) -> None:
    ids = [item_id(project_id, environment, dimension, k) for k in _strings(keys)]
    if ids:
        await db[COLLECTION].delete_many({"_id": {"$in": ids}}, session=session)
