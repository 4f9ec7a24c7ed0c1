"""The MongoDB client. Production runs a real MongoDB (replica set, so transactions work);
the embedded default and the tests run nx-27017, a MongoDB wire-protocol server over SQLite."""
from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase


def connect(url: str, db_name: str) -> AsyncIOMotorDatabase:
    client = AsyncIOMotorClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard")
    return client[db_name]


def without_id(doc: dict | None) -> dict | None:
    if doc is None:
        return None
    doc = dict(doc)
    doc.pop("_id", None)
    return doc
