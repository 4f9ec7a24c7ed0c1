"""A group commit's plain inserts, sent together: one ``insert_many`` per collection.

In a group commit (services/adapters/store/outbox.py) each write of the group used to send its
own ``insert_one``: k creates, k store round trips before the outbox's insert and the commit.
Inside a group, :func:`defer` keeps such an insert instead, and :func:`flush` sends the kept
documents, in order, one ``insert_many`` per collection, in the same transaction, just before
the outbox's insert. The result must stay the one of running the writes one at a time, so:

- a document that breaks a unique index (a name taken, also by another create of the same
  group) fails the ``insert_many`` and so the group: each write then runs again alone, where
  nothing is deferred, and meets its own ``DuplicateKeyError``;
- once a collection has inserts kept, any further use of it in the group (a read that ought to
  see them, such as an application delete counting its components, or another write) raises
  :class:`PendingInsertsUsed` before it reaches the store (``check_unused``, called by every
  collection method of services/adapters/store/mongo.py), which also fails the group.

Only ``Documents.insert`` defers (environments, applications, components). Outside a group (a
transaction of one write) nothing is deferred."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

_pending: contextvars.ContextVar[dict[str, list[dict[str, Any]]] | None] = contextvars.ContextVar("openstage_group_inserts", default=None)


class PendingInsertsUsed(Exception):
    """A collection with inserts kept for the group was used again in it: the group runs its
    writes one at a time instead."""


def defer(collection: str, doc: dict[str, Any]) -> bool:
    """Keep ``doc`` for the group's ``insert_many`` into ``collection``; False outside a group
    (insert it now)."""
    pending = _pending.get()
    if pending is None:
        return False
    pending.setdefault(collection, []).append(doc)
    return True


def check_unused(collection: str) -> None:
    """Raise PendingInsertsUsed if ``collection`` has inserts kept for the group."""
    pending = _pending.get()
    if pending and collection in pending:
        raise PendingInsertsUsed(f"{collection} used again after inserts kept for the group")


@contextlib.contextmanager
def collecting() -> Iterator[None]:
    """Inserts deferred while inside are kept for :func:`flush` (a group's transaction)."""
    token = _pending.set({})
    try:
        yield
    finally:
        _pending.reset(token)


async def flush(db: Any, session: Any) -> None:
    """Send the kept inserts (one ``insert_many`` per collection, in order) in ``session``."""
    pending = _pending.get()
    if not pending:
        return
    kept = dict(pending)
    pending.clear()  # (the collections are free again for the inserts themselves)
    for collection, docs in kept.items():
        await db[collection].insert_many(docs, ordered=True, session=session)
