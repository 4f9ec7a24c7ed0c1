"""The MongoDB client. Production runs a real MongoDB (replica set, so transactions work);
the embedded default and the tests run nx-27017, a MongoDB wire-protocol server over SQLite.

Each domain worker owns its own database, ``<OPENSTAGE_MONGODB_DB>_<domain>`` (e.g.
``openstage_lifecycle``): workers never read each other's collections.

nx-27017 deviation (worked around here, harmless on MongoDB): nx runs a session's transaction
as a SAVEPOINT on the one SQLite connection of that database, so a write from anyone else to the
same database while a transaction is open becomes part of it, and is rolled back if it aborts.
Per-domain databases (nx's ``--data-dir`` mode gives each its own SQLite file and connection)
keep workers apart; within a process, ``serialize_writes`` makes every write wait while a
transaction is open (``transaction_scope`` marks the transaction's own writes). The embedded
runtime turns it on (OPENSTAGE_STORE_SERIALIZE_WRITES=1); on MongoDB it stays off.

No query operator is ever built from input: every collection ``connect`` hands out checks each
filter before it is sent (``check_filter``). An operator may stand only where the code declared
it (``FILTER_OPERATORS``), with plain values as its operands; any other dict or list where a value
is expected (``{"$gt": ""}`` or ``["a"]`` arriving where an id was meant) is refused with
``UnsafeFilter``, a programming error (500), since the contracts already refuse such input.
tests/fuzz/README.md explains the choice."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Mapping
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.store import group_inserts

_WRITE_METHODS = frozenset(
    {
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "bulk_write",
    }
)

# Where the code puts a query operator in a filter: collection -> field -> operators. Logical
# operators ($or, $and, $nor) may hold any filter, which is checked in turn. A new use of an
# operator is declared here.
FILTER_OPERATORS: dict[str, dict[str, frozenset[str]]] = {
    "config_items": {"_id": frozenset({"$in"}), "dimension": frozenset({"$in"})},
    # lifecycle: {"$eq": v} on the fields of an index (``eq`` below, an nx-27017 work-around)
    "environments": {"project_id": frozenset({"$eq"})},
    "applications": {"project_id": frozenset({"$eq"})},
    "components": {"project_id": frozenset({"$eq"}), "application_id": frozenset({"$eq"})},
    "instances": {
        "project_id": frozenset({"$eq"}),
        "application_id": frozenset({"$eq"}),
        "component_id": frozenset({"$in", "$eq"}),  # $in: store/components.py instance_overviews
        "environment_id": frozenset({"$eq"}),
        "name": frozenset({"$eq"}),
        "platform_type": frozenset({"$eq"}),  # store/component_instances.py placed_on
        "host_ids": frozenset({"$exists"}),  # placed_on: the documents written before host_ids
    },
    "instance_snapshots": {"instance_id": frozenset({"$eq"})},
    "instance_replicas": {"_id": frozenset({"$in"}), "instance_id": frozenset({"$eq"})},  # workers/lifecycle/replica_reports.py
    "instance_jobs": {"status": frozenset({"$nin"}), "lease_until": frozenset({"$lt"})},
    "kie_kv_history": {"_id": frozenset({"$in"}), "id": frozenset({"$in"})},  # store/kie_kvs.py
    "kie_kvs": {"_id": frozenset({"$in"})},  # store/kie_kvs.py
    "outbox": {"_id": frozenset({"$in"}), "created": frozenset({"$lte"}), "created_ms": frozenset({"$lte", "$exists"})},
    # registry: {"$eq": v} on the field leading an index (store/registry.py _eq, an nx-27017 work-around)
    "registry_dependencies": {"project": frozenset({"$eq"})},
    "registry_instances": {
        "_id": frozenset({"$in"}),
        "project": frozenset({"$eq"}),
        "service_id": frozenset({"$in", "$eq"}),
        "endpoints_key": frozenset({"$in", "$eq"}),
        "deadline": frozenset({"$lt"}),  # leases live in the instances (store/registry.py)
    },
    "registry_leases": {"_id": frozenset({"$in"})},  # emptied into registry_instances at start (store/registry.py)
    "registry_schemas": {"project": frozenset({"$eq"})},
    "registry_services": {"project": frozenset({"$eq"}), "app_id": frozenset({"$eq"})},
}
_LOGICAL = frozenset({"$or", "$and", "$nor"})
_LIST_OPERATORS = frozenset({"$in", "$nin"})
_FILTER_METHODS = frozenset(
    {
        "find",
        "find_one",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "count_documents",
        "distinct",
    }
)
# every use of a collection that reads or writes its documents (group_inserts.check_unused)
_COLLECTION_USES = _FILTER_METHODS | _WRITE_METHODS | {"aggregate", "estimated_document_count", "watch"}


class UnsafeFilter(TypeError):
    """A filter holds an operator (or a dict or list) the code did not put there."""


def _plain(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple, set))


def check_filter(collection: str, query: Any) -> None:
    """Refuse a filter unless each of its operators is declared for its field in
    ``FILTER_OPERATORS`` and takes plain values: a value taken from input can never act as one."""
    if query is None:
        return
    if not isinstance(query, Mapping):
        raise UnsafeFilter(f"{collection}: a filter must be a document")
    declared = FILTER_OPERATORS.get(collection, {})
    for field, value in query.items():
        if field in _LOGICAL:
            if not isinstance(value, list):
                raise UnsafeFilter(f"{collection}: {field} takes a list of filters")
            for sub in value:
                check_filter(collection, sub)
        elif field.startswith("$"):
            raise UnsafeFilter(f"{collection}: operator {field} is not used by openstage")
        elif isinstance(value, Mapping):
            allowed = declared.get(field, frozenset())
            for op, operand in value.items():
                if op not in allowed:
                    raise UnsafeFilter(f"{collection}.{field}: {op!r} is not an operator declared for this field")
                if op in _LIST_OPERATORS:
                    ok = isinstance(operand, (list, tuple)) and all(_plain(v) for v in operand)
                else:
                    ok = _plain(operand)
                if not ok:
                    raise UnsafeFilter(f"{collection}.{field}: {op} takes plain values")
        elif not _plain(value):
            raise UnsafeFilter(f"{collection}.{field}: a {type(value).__name__} where a plain value is expected")


def _check_pipeline(collection: str, pipeline: Any) -> None:
    for stage in pipeline or ():
        if isinstance(stage, Mapping) and "$match" in stage:
            check_filter(collection, stage["$match"])


class _GuardedCollection:
    """A collection whose every filter passes ``check_filter`` before it is sent."""

    def __init__(self, collection) -> None:
        self._c = collection

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._c, name)
        if name in _COLLECTION_USES:
            group_inserts.check_unused(self._c.name)  # a group's kept inserts must not be skipped over
        if name not in _FILTER_METHODS and name != "aggregate":
            return attr
        collection = self._c.name

        def checked(*args, **kwargs):
            if name == "aggregate":
                _check_pipeline(collection, args[0] if args else kwargs.get("pipeline"))
            else:
                position = 1 if name == "distinct" else 0  # distinct(key, filter)
                query = args[position] if len(args) > position else kwargs.get("filter")
                check_filter(collection, query)
            return attr(*args, **kwargs)

        return checked

    def __getitem__(self, name: str) -> _GuardedCollection:
        return _GuardedCollection(self._c[name])


class _DatabaseWrapper:
    """A database whose collections come wrapped in ``collection_wrapper``."""

    collection_wrapper: type

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    @property
    def client(self) -> AsyncMongoClient:
        return self._db.client

    @property
    def name(self) -> str:
        return self._db.name

    def __getitem__(self, name: str):
        return self.collection_wrapper(self._db[name])

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._db, name)
        if isinstance(attr, (AsyncCollection, *_DatabaseWrapper.wrapped_types)):
            return self.collection_wrapper(attr)
        return attr


class GuardedDatabase(_DatabaseWrapper):
    """A database whose collections check their filters (``check_filter``)."""

    collection_wrapper = _GuardedCollection


_write_lock: asyncio.Lock | None = None
# On only for nx-27017 (set by connect(serialize_writes=True)); real MongoDB runs transactions
# concurrently and retries the ones it labels transient (services/adapters/store/outbox.py).
_serialize_transactions = False
_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar("openstage_in_transaction", default=False)


def _lock() -> asyncio.Lock:
    global _write_lock
    if _write_lock is None:
        _write_lock = asyncio.Lock()
    return _write_lock


@contextlib.asynccontextmanager
async def transaction_scope():
    """Hold the process's write lock for a transaction (nx-27017 only); writes made inside it
    (same task) go through."""
    if _in_transaction.get() or not _serialize_transactions:
        yield
        return
    async with _lock():
        token = _in_transaction.set(True)
        try:
            yield
        finally:
            _in_transaction.reset(token)


class _SerializedCollection:
    def __init__(self, collection) -> None:
        self._c = collection

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._c, name)
        if name not in _WRITE_METHODS:
            return attr

        async def write(*args, **kwargs):
            if _in_transaction.get():
                return await attr(*args, **kwargs)
            async with _lock():
                return await attr(*args, **kwargs)

        return write

    def __getitem__(self, name: str) -> _SerializedCollection:
        return _SerializedCollection(self._c[name])


class SerializedDatabase(_DatabaseWrapper):
    """A database whose writes wait while this process has a transaction open."""

    collection_wrapper = _SerializedCollection


_DatabaseWrapper.wrapped_types = (_GuardedCollection, _SerializedCollection)


def database_name(base: str, domain: str) -> str:
    return f"{base}_{domain}"


def connect(url: str, db_name: str, serialize_writes: bool = False) -> AsyncDatabase:
    client: AsyncMongoClient = AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard")
    db = GuardedDatabase(client[db_name])
    if serialize_writes:
        global _serialize_transactions
        _serialize_transactions = True
        return SerializedDatabase(db)  # type: ignore[return-value]
    return db


def eq(value: str) -> dict[str, str]:
    """An equality on a field of an index, as ``{"$eq": value}``: on MongoDB exactly the plain
    value's match. nx-27017 deviation: a plain equality on a field other than ``_id`` also matches
    arrays holding the value, an OR with a ``json_each`` check that keeps SQLite from using the
    index (a scan of the collection); ``$eq`` compiles to the plain ``json_extract(...) = ?`` the
    index serves. Used by the lifecycle and registry stores' queries that are not by ``_id`` (the
    registry's through store/registry.py ``_eq``); each field is declared in ``FILTER_OPERATORS``."""
    return {"$eq": value}


async def count(collection, query: dict, session=None) -> int:
    """Documents matching ``query``. ``$match`` + ``$count`` is standard MongoDB; on nx-27017 it is
    ~30x faster than ``count_documents`` (whose ``$group`` stage nx evaluates row by row)."""
    cursor = await collection.aggregate([{"$match": query}, {"$count": "n"}], session=session)  # a coroutine in PyMongo async
    rows = await cursor.to_list(1)
    return rows[0]["n"] if rows else 0


async def exists(collection, query: dict, session=None) -> bool:
    return await collection.find_one(query, {"_id": 1}, session=session) is not None


# A list call without a limit is not paged, but never returns more than this.
UNPAGED_MAX = 1000
_MAX_SKIP = 2**63 - 1


async def page(collection, query: dict, sort_field: str, order: str, offset: int, limit: int | None) -> tuple[int, list[dict]]:
    """(total matching, one page of documents) sorted by ``sort_field`` then ``_id`` (stable
    paging), ``order`` "asc" | "desc". ``sort_field`` must come from a whitelist, never from input."""
    total = await count(collection, query)
    direction = -1 if order == "desc" else 1
    # skip() takes a 64-bit integer; any offset past the end is an empty page all the same
    cursor = collection.find(query).sort([(sort_field, direction), ("_id", direction)]).skip(min(offset, _MAX_SKIP))
    cursor = cursor.limit(limit or UNPAGED_MAX)
    return total, [d async for d in cursor]
