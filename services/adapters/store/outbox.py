"""Transactional outbox: a state change and the events it emits are written in one MongoDB
transaction; then the events are published to JetStream with ``Nats-Msg-Id`` = event id and
removed from the outbox. A relay sweeps what a crash left behind. JetStream's duplicate window
drops a re-publish of the same id, so no event is lost and none is seen twice on the stream.

An outbox document holds the events of one commit, in order: ``{_id: its first event's id,
events: [{id, subject, payload}], created: datetime, created_ms: epoch ms}``; it leaves the outbox
once all of them are published (one partly published keeps only the events still to publish, so
none is published twice after JetStream's duplicate window). (One document per commit, not per event: on nx-27017 a document
costs ~120 µs of the store's CPU to insert and again to delete, and a commit of a registration
batch holds several events.) Documents written before, one per event (``{_id: event id, subject,
payload, ...}``), are still swept.
The sweeper finds the old ones by ``created_ms``, indexed (``ensure_indexes``). nx-27017 deviation:
it compares a datetime field as ``datetime(json_extract(...)) <= datetime(?)`` -- whole seconds, and
an expression no index serves -- and sorts and limits such a query's every match in Python; a number
compares, sorts and limits in SQL, from the index (5,000 documents: 16 ms by ``created`` when none
is old, 116 ms when 500 are; 1.3 ms and 23 ms by ``created_ms``). ``created`` stays for the
documents written before ``created_ms`` (and for processes that still sweep by it): a process
sweeps by ``created`` until it has seen none of those left."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from nats.js import JetStreamContext
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.adapters.background import cancel_and_wait
from services.adapters.clock import Clock
from services.adapters.store import final_writes, group_inserts, mongo, nx_sessions
from services.adapters.store.mongo import transaction_scope
from services.contracts.events import CloudEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
OUTBOX = "outbox"
TRANSIENT_RETRIES = 3
# Events younger than this are left to the fast path of the process that wrote them.
SWEEP_GRACE_SECONDS = 2.0
# Published events leave the outbox in one delete per this many seconds, not one per commit: on
# nx-27017 a delete holds the process's write lane, and done at once it delayed the very next write
# (often the one the published events caused: a job runner's claim after an instance create). A
# crash before the delete leaves them to the sweeper, whose republish JetStream drops as a duplicate
# (as for a crash between publish and delete before).
DELETE_EVERY_SECONDS = 0.5
DELETE_BATCH = 500  # ids per delete
SWEEP_BATCH = 500  # events per sweep
# Set while a group commit runs its writes: a transaction asked for inside one runs on its own.
_in_group: contextvars.ContextVar[bool] = contextvars.ContextVar("openstage_outbox_group", default=False)


def encode_event(event: CloudEvent) -> bytes:
    return event.model_dump_json().encode()


# an event to publish: (event id, subject, payload)
Item = tuple[str, str, bytes]


def _items(doc: dict) -> list[Item]:
    """The events of an outbox document, in order (one per document as written before: the
    document is the event)."""
    if "events" in doc:
        return [(e["id"], e["subject"], bytes(e["payload"])) for e in doc["events"]]
    return [(doc["_id"], doc["subject"], bytes(doc["payload"]))]


def _of_commit(items: list[Item]) -> list[tuple[str, list[Item]]]:
    """A commit's events as (outbox document id, events): its document is named by its first event."""
    return [(items[0][0], items)] if items else []


def _documents_published(documents: list[tuple[str, list[Item]]], published: list[str]) -> tuple[list[str], list[tuple[str, list[Item]]]]:
    """Of the outbox documents (id, events): the ids of those whose events were all published,
    and those partly published with the events still to publish."""
    done = set(published)
    whole, partly = [], []
    for doc_id, items in documents:
        left = [item for item in items if item[0] not in done]
        if not left:
            whole.append(doc_id)
        elif len(left) < len(items):
            partly.append((doc_id, left))
    return whole, partly


Write = Callable[[AsyncClientSession], Awaitable[tuple[T, Sequence[CloudEvent]]]]
OnCommit = Callable[[Sequence[CloudEvent]], None]
# At most this many concurrent transactions of one process share one commit (group commit).
MAX_GROUP = 64


@dataclass(eq=False)
class _Queued:
    write: Write
    on_commit: OnCommit | None
    done: asyncio.Future
    result: object = None
    events: Sequence[CloudEvent] = ()


class Outbox:
    """``transaction(write)`` is the one way a worker changes its state (see the module docstring).

    **Group commit**: the transactions a process asks for while one commits are queued and then
    run together, one after the other in **one** MongoDB transaction (one session, one outbox
    insert, one commit, one outbox delete after the events are published): the same result as
    running them one at a time in that order, for a fraction of the store round trips. If any
    write of a group raises (a refusal such as 409, a fenced job step), the group's transaction is
    aborted and each write runs again alone, so one failure never affects another caller (writes
    are re-runnable: they read what they need inside the transaction, as the transient retry
    already requires). A caller cancelled before its write started is left out."""

    def __init__(self, db: AsyncDatabase, js: JetStreamContext, clock: Clock, max_group: int = MAX_GROUP) -> None:
        self.db = db
        self.js = js
        self.clock = clock
        self.max_group = max_group
        self._sweeper: asyncio.Task | None = None
        self._queue: list[_Queued] = []
        self._runner: asyncio.Task | None = None
        self._publishing: asyncio.Task | None = None  # the last group's publication (the lane's tail)
        self._published: list[str] = []  # published event ids waiting for the next delete
        self._deleter: asyncio.Task | None = None
        # called with the events of every commit of this process, in commit order, before they are
        # published (read models kept in memory apply their own process's changes here)
        self.commit_listeners: list[OnCommit] = []
        self._unstamped = True  # documents without ``created_ms`` may be left (module docstring)

    async def ensure_indexes(self) -> None:
        """The sweeper's index (the worker's shared parts make it, workers/runtime.py connect_deps)."""
        await self.db[OUTBOX].create_index([("created_ms", ASCENDING)])

    async def transaction(self, write: Write[T], on_commit: OnCommit | None = None) -> T:
        """Run ``write(session)``; it returns (result, events). The writes and the events commit
        together or not at all; then the events are published. ``on_commit(events)`` runs right
        after the commit, before the events are published (and only when the commit succeeded)."""
        # nx-27017 runs a transaction as a SAVEPOINT on its database's one SQLite connection:
        # transactions (and plain writes) interleaved with an open one corrupt each other. With
        # serialize_writes on (embedded store only) the scope runs this process's transactions one
        # at a time and holds every other write of the process until it ends (see mongo.py); on
        # MongoDB transactions run concurrently (each group commit is one of them).
        if self.max_group <= 1 or _in_group.get():  # a transaction asked for inside a write runs on its own
            return await self._alone(write, on_commit)
        item = _Queued(write, on_commit, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_queue(), name="outbox-group-commit")
        return await item.done

    async def _alone(self, write: Write[T], on_commit: OnCommit | None) -> T:
        result, events, items = await self._with_retries([write])
        self._notify(events[0])
        if on_commit is not None:
            on_commit(events[0])
        if items:
            await self._publish(items)
        return result[0]  # type: ignore[return-value]

    async def _with_retries(self, writes: list[Write]) -> tuple[list[object], list[Sequence[CloudEvent]], list[Item]]:
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return await self._commit_group(writes)
            except PyMongoError as exc:
                # MongoDB labels write conflicts and elections TransientTransactionError: the
                # whole transaction may be run again (write() reads what it needs inside it).
                if attempt == TRANSIENT_RETRIES or not exc.has_error_label("TransientTransactionError"):
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _run_queue(self) -> None:
        token = _in_group.set(True)
        try:
            while self._queue:
                group = [q for q in self._queue[: self.max_group] if not q.done.done()]
                del self._queue[: self.max_group]
                if not group:
                    continue
                try:
                    await self._run_group(group)
                except BaseException as exc:  # never leave a caller waiting (cancelled at shutdown, a bug)
                    for q in group:
                        if not q.done.done():
                            q.done.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
                    if not isinstance(exc, Exception):
                        raise
        finally:
            _in_group.reset(token)

    async def _run_group(self, group: list[_Queued]) -> None:
        """Commit a group, then hand its events to the publishing lane and return: the next group
        commits while this one's events are published (in commit order, one lane)."""
        if len(group) == 1:
            await self._run_alone(group[0])
            return
        try:
            results, events, items = await self._with_retries([q.write for q in group])
        except Exception:  # one write refused (or the store failed): each runs again alone
            for q in group:
                await self._run_alone(q)
            return
        for q, result, evs in zip(group, results, events, strict=True):
            q.result, q.events = result, evs
            self._call_on_commit(q)
        self._publish_then_answer(group, items)

    async def _run_alone(self, q: _Queued) -> None:
        if q.done.done():
            return
        try:
            results, events, items = await self._with_retries([q.write])
        except Exception as exc:  # the caller's own failure
            if not q.done.done():
                q.done.set_exception(exc)
            return
        q.result, q.events = results[0], events[0]
        self._call_on_commit(q)
        self._publish_then_answer([q], items)

    def _publish_then_answer(self, group: list[_Queued], items: list[Item]) -> None:
        """Publish a committed group's events (``items``, as in its outbox document) after those
        of the groups committed before it, then answer its callers (an answer never precedes its
        events' publication)."""
        previous = self._publishing

        async def publish() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            done: list[str] = []
            try:
                done = await self._send(items)
            except Exception as exc:  # committed: what is left in the outbox is the sweeper's
                log.warning("events of a commit not all published yet: %s", exc)
            finally:
                for q in group:
                    if not q.done.done():
                        q.done.set_result(q.result)
            # housekeeping: neither the callers nor the next write wait for it
            whole, partly = _documents_published(_of_commit(items), done)
            self._delete_soon(whole)
            await self._keep_unpublished(partly)

        self._publishing = asyncio.create_task(publish(), name="outbox-publish")

    def _call_on_commit(self, q: _Queued) -> None:
        self._notify(q.events)
        if q.on_commit is None:
            return
        try:
            q.on_commit(q.events)
        except Exception as exc:  # the commit stands; a hook's failure must not hide it
            log.warning("after-commit hook failed: %s", exc)

    def _notify(self, events: Sequence[CloudEvent]) -> None:
        if not events:
            return
        for listener in self.commit_listeners:
            try:
                listener(events)
            except Exception as exc:  # the commit stands
                log.warning("commit listener failed: %s", exc)

    async def _commit_group(self, writes: list[Write]) -> tuple[list[object], list[Sequence[CloudEvent]], list[Item]]:
        """Run ``writes`` in one transaction with the outbox document of their events; (results,
        events per write, the events to publish as in the outbox document)."""
        results: list[object] = []
        events: list[Sequence[CloudEvent]] = []
        async with transaction_scope():
            # PyMongo async: start_session() returns the session, start_transaction() is a coroutine
            async with self.db.client.start_session() as session:
                nx_sessions.note(session)  # nx-27017: a transaction left open by a crash is ended on restart
                async with await session.start_transaction():
                    # a group's plain inserts leave together, before the outbox's (group_inserts.py);
                    # a write's last upserts leave with the outbox's insert (final_writes.py)
                    with group_inserts.collecting() if len(writes) > 1 else contextlib.nullcontext(), final_writes.collecting():
                        for write in writes:
                            result, evs = await write(session)
                            results.append(result)
                            events.append(list(evs))
                        await group_inserts.flush(self.db, session)
                        doc = self._outbox_doc([e for evs in events for e in evs])
                        replaced = await final_writes.send_with_outbox(self.db, session, OUTBOX, [doc] if doc else [])
                    if replaced:  # events a write settled differently: its document is swapped
                        assert doc is not None
                        events = [[replaced.get(e.id, e) for e in evs] for evs in events]
                        await self.db[OUTBOX].delete_many({"_id": {"$in": [doc["_id"]]}}, session=session)
                        doc = self._outbox_doc([e for evs in events for e in evs])
                        await self.db[OUTBOX].insert_many([doc], session=session)
        return results, events, _items(doc) if doc else []

    def _outbox_doc(self, events: Sequence[CloudEvent]) -> dict | None:
        """The outbox document of a commit's events (None without any)."""
        if not events:
            return None
        return {
            "_id": events[0].id,
            "events": [{"id": e.id, "subject": e.openstagesubject, "payload": encode_event(e)} for e in events],
            "created": self.clock.now(),
            "created_ms": self.clock.millis(),
        }

    async def _publish(self, items: list[Item]) -> None:
        """Publish one commit's events and remove its outbox document once all are published."""
        await self._published_from(_of_commit(items), await self._send(items))

    async def _published_from(self, documents: list[tuple[str, list[Item]]], published: list[str]) -> None:
        whole, partly = _documents_published(documents, published)
        await self._delete(whole)
        await self._keep_unpublished(partly)

    async def _keep_unpublished(self, partly: list[tuple[str, list[Item]]]) -> None:
        """Leave in a partly published document only the events still to publish: the sweeper
        publishes those, and never again the others (after JetStream's duplicate window it would
        store them twice)."""
        try:
            for doc_id, left in partly:
                events = [{"id": event_id, "subject": subject, "payload": payload} for event_id, subject, payload in left]
                await self.db[OUTBOX].update_one({"_id": doc_id}, {"$set": {"events": events}})
        except Exception as exc:  # the sweeper publishes the whole document again: JetStream drops duplicates within its window
            log.warning("a partly published outbox document not trimmed: %s", exc)

    async def _send(self, items: list[Item]) -> list[str]:
        """Publish events (in order: the messages leave on the one connection in the order given,
        their acks are awaited together); the ids JetStream acknowledged, up to the first failure
        (the rest are left in the outbox for the sweeper, in order)."""
        if not items:
            return []
        outcomes = await asyncio.gather(
            *(self.js.publish(subject, payload, headers={"Nats-Msg-Id": event_id}) for event_id, subject, payload in items),
            return_exceptions=True,
        )
        done = []
        for (event_id, _, _), outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("event %s not published yet: %s", event_id, outcome)
                break
            done.append(event_id)
        return done

    def _delete_soon(self, done: list[str]) -> None:
        """Remove outbox documents whose events are published with the next batched delete
        (DELETE_EVERY_SECONDS)."""
        self._published.extend(done)
        if self._published and (self._deleter is None or self._deleter.done()):
            self._deleter = asyncio.create_task(self._delete_published(DELETE_EVERY_SECONDS), name="outbox-delete")

    async def _delete_published(self, after: float) -> None:
        await asyncio.sleep(after)
        done, self._published = self._published, []
        try:
            for start in range(0, len(done), DELETE_BATCH):
                await self._delete(done[start : start + DELETE_BATCH])
        except Exception as exc:
            log.warning("published events not removed from the outbox yet (the sweeper republishes them): %s", exc)

    async def _delete(self, done: list[str]) -> None:
        if done:
            await self.db[OUTBOX].delete_many({"_id": {"$in": done}})

    async def sweep_once(self, grace_seconds: float = SWEEP_GRACE_SECONDS) -> int:
        """Publish (and remove) up to SWEEP_BATCH events older than ``grace_seconds``, oldest first."""
        if self._unstamped:  # by ``created``: also the documents written before ``created_ms``
            query, field = {"created": {"$lte": self.clock.now() - timedelta(seconds=grace_seconds)}}, "created"
        else:
            query, field = {"created_ms": {"$lte": self.clock.millis() - round(grace_seconds * 1000)}}, "created_ms"
        cursor = self.db[OUTBOX].find(query).sort([(field, 1)]).limit(SWEEP_BATCH)
        documents = [(d["_id"], _items(d)) async for d in cursor]
        items = [item for _, of_document in documents for item in of_document]
        if items:
            await self._published_from(documents, await self._send(items))
        if self._unstamped:  # until none is left (this process writes none)
            self._unstamped = await mongo.exists(self.db[OUTBOX], {"created_ms": {"$exists": False}})
        return len(items)

    def start_sweeper(self, interval: float) -> None:
        async def loop() -> None:
            while True:
                try:
                    await self.sweep_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # store or bus down: try again next round
                    log.warning("outbox sweep failed: %s", exc)
                await asyncio.sleep(interval)

        self._sweeper = asyncio.create_task(loop(), name="outbox-sweeper")

    async def stop(self) -> None:
        if self._publishing is not None:  # let committed events go out (bounded; the sweeper's otherwise)
            await asyncio.wait([self._publishing], timeout=5)
        if self._deleter is not None and not self._deleter.done():  # remove the published ones now
            self._deleter.cancel()
            await asyncio.wait([asyncio.create_task(self._delete_published(0))], timeout=5)
        await cancel_and_wait(self._sweeper)
