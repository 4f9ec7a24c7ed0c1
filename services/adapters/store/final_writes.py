"""A transaction's last writes, sent together with its outbox insert: one store round trip
instead of two.

A write of an outbox transaction (services/adapters/store/outbox.py) whose last step is a batch
of upserts can hand them over with :func:`defer` instead of sending them: the outbox then sends
them and its own insert of the transaction's events as **one** client-level ``bulkWrite``
(MongoDB 8.0+; nx-27017 has it too), in the same transaction, just before the commit. A batch of
new registrations (workers/registry/registrations.py) is then two store round trips (this write
and the commit) instead of three.

The events were chosen before the upserts ran, on the guess that each upsert inserts. Once they
ran, the write's ``settle`` hears which did (``inserted``, one flag per upsert) and may finish
the write in the same transaction (an upsert that found a document instead: that one is
rewritten) and replace events it got wrong (by id): the outbox then swaps their documents in the
outbox collection before the commit, and publishes the replacements. So the committed state and
events are those of sending the upserts first.

Where the server has no ``bulkWrite`` command (MongoDB before 8.0: ``maxWireVersion`` < 25) the
upserts go as one ``bulk_write`` per write and the events as one ``insert_many``, as before.

Every filter passes ``mongo.check_filter`` (a client-level bulk write passes no collection
wrapper), and a collection with inserts kept for a group (services/adapters/store/group_inserts.py)
is refused here as anywhere else."""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import InsertOne, UpdateOne

from services.adapters.store import group_inserts, mongo
from services.contracts.events import CloudEvent

CLIENT_BULK_WRITE_WIRE_VERSION = 25  # MongoDB 8.0

# called once the upserts ran, with one flag per upsert (whether it inserted); the events of the
# write to replace, by the id of the event each replaces
Settle = Callable[[list[bool]], Awaitable[Mapping[str, CloudEvent]]]


@dataclass(frozen=True)
class Upsert:
    """Insert ``update``'s ``$setOnInsert`` document unless a document matches ``query``."""

    query: Mapping[str, Any]
    update: Mapping[str, Any]

    def operation(self, namespace: str | None = None) -> UpdateOne:
        """PyMongo's upsert (``namespace``: "db.collection", for a client-level bulk write)."""
        if namespace is None:
            return UpdateOne(dict(self.query), dict(self.update), upsert=True)
        return UpdateOne(dict(self.query), dict(self.update), upsert=True, namespace=namespace)


@dataclass
class _Deferred:
    collection: str
    upserts: list[Upsert]
    settle: Settle


@dataclass
class _Kept:
    deferred: list[_Deferred] = field(default_factory=list)


_kept: contextvars.ContextVar[_Kept | None] = contextvars.ContextVar("openstage_final_writes", default=None)
# client -> whether its server has the bulkWrite command (asked once per client)
_client_bulk: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def defer(collection: str, upserts: Sequence[Upsert], settle: Settle) -> bool:
    """Keep ``upserts`` into ``collection`` to go with the outbox's insert, ``settle`` to be
    called after them (module docstring); False outside an outbox transaction (send them now)."""
    kept = _kept.get()
    if kept is None:
        return False
    group_inserts.check_unused(collection)
    for upsert in upserts:
        mongo.check_filter(collection, upsert.query)
    kept.deferred.append(_Deferred(collection, list(upserts), settle))
    return True


@contextlib.contextmanager
def collecting() -> Iterator[None]:
    """Upserts deferred while inside are kept for :func:`send_with_outbox` (a transaction's writes)."""
    token = _kept.set(_Kept())
    try:
        yield
    finally:
        _kept.reset(token)


async def send_with_outbox(db: Any, session: Any, outbox: str, docs: list[dict[str, Any]]) -> dict[str, CloudEvent]:
    """Send the kept upserts and the outbox's ``docs`` (one client-level bulk write where the
    server has it), then settle each deferred write; the events they replace, by replaced id."""
    kept = _kept.get()
    deferred = list(kept.deferred) if kept is not None else []
    if kept is not None:
        kept.deferred.clear()
    if not deferred:
        if docs:
            await db[outbox].insert_many(docs, session=session)
        return {}
    if await _has_client_bulk_write(db.client):
        flags = await _one_bulk_write(db, session, outbox, deferred, docs)
    else:
        flags = [await _upsert(db, session, d) for d in deferred]
        if docs:
            await db[outbox].insert_many(docs, session=session)
    replaced: dict[str, CloudEvent] = {}
    for d, inserted in zip(deferred, flags, strict=True):
        replaced.update(await d.settle(inserted))
    return replaced


async def _has_client_bulk_write(client: Any) -> bool:
    known = _client_bulk.get(client)
    if known is None:
        hello = await client.admin.command("hello")
        known = _client_bulk[client] = int(hello.get("maxWireVersion", 0)) >= CLIENT_BULK_WRITE_WIRE_VERSION
    return known


async def _one_bulk_write(db: Any, session: Any, outbox: str, deferred: list[_Deferred], docs: list[dict[str, Any]]) -> list[list[bool]]:
    ops: list[Any] = []
    spans = []
    for d in deferred:
        namespace = f"{db.name}.{d.collection}"
        spans.append((len(ops), len(d.upserts)))
        ops += [u.operation(namespace) for u in d.upserts]
    ops += [InsertOne(doc, namespace=f"{db.name}.{outbox}") for doc in docs]
    result = await db.client.bulk_write(ops, session=session, ordered=True, verbose_results=True)
    updates = result.update_results
    return [[updates[i].upserted_id is not None for i in range(start, start + n)] for start, n in spans]


async def _upsert(db: Any, session: Any, d: _Deferred) -> list[bool]:
    result = await db[d.collection].bulk_write([u.operation() for u in d.upserts], ordered=True, session=session)
    upserted = result.upserted_ids or {}
    return [i in upserted for i in range(len(d.upserts))]
