"""Transactional outbox: a state change and the events it emits are written in one MongoDB
transaction; then the events are published to JetStream with ``Nats-Msg-Id`` = event id and
removed from the outbox. A relay sweeps what a crash left behind. JetStream's duplicate window
drops a re-publish of the same id, so no event is lost and none is seen twice on the stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from nats.js import JetStreamContext
from pymongo.errors import PyMongoError

from services.adapters.background import cancel_and_wait
from services.adapters.clock import Clock
from services.adapters.store import nx_sessions
from services.adapters.store.mongo import transaction_scope
from services.contracts.events import CloudEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
OUTBOX = "outbox"
TRANSIENT_RETRIES = 3
# Events younger than this are left to the fast path of the process that wrote them.
SWEEP_GRACE_SECONDS = 2.0


def encode_event(event: CloudEvent) -> bytes:
    return event.model_dump_json().encode()


class Outbox:
    def __init__(self, db: AsyncIOMotorDatabase, js: JetStreamContext, clock: Clock) -> None:
        self.db = db
        self.js = js
        self.clock = clock
        self._sweeper: asyncio.Task | None = None

    async def transaction(self, write: Callable[[AsyncIOMotorClientSession], Awaitable[tuple[T, Sequence[CloudEvent]]]]) -> T:
        """Run ``write(session)``; it returns (result, events). The writes and the events commit
        together or not at all; then the events are published."""
        # nx-27017 runs a transaction as a SAVEPOINT on its database's one SQLite connection:
        # transactions (and plain writes) interleaved with an open one corrupt each other. With
        # serialize_writes on (embedded store only) the scope runs this process's transactions one
        # at a time and holds every other write of the process until it ends (see mongo.py); on
        # MongoDB transactions run concurrently.
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                result, events = await self._commit(write)
                break
            except PyMongoError as exc:
                # MongoDB labels write conflicts and elections TransientTransactionError: the
                # whole transaction may be run again (write() reads what it needs inside it).
                if attempt == TRANSIENT_RETRIES or not exc.has_error_label("TransientTransactionError"):
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        if events:
            await self._publish([(e.id, e.openstagesubject, encode_event(e)) for e in events])
        return result

    async def _commit(self, write):
        async with transaction_scope():
            async with await self.db.client.start_session() as session:
                nx_sessions.note(session)  # nx-27017: a transaction left open by a crash is ended on restart
                async with session.start_transaction():
                    result, events = await write(session)
                    if events:
                        await self.db[OUTBOX].insert_many(
                            [
                                {"_id": e.id, "subject": e.openstagesubject, "payload": encode_event(e), "created": self.clock.now()}
                                for e in events
                            ],
                            session=session,
                        )
        return result, events

    async def _publish(self, items: list[tuple[str, str, bytes]]) -> None:
        done = []
        for event_id, subject, payload in items:
            try:
                await self.js.publish(subject, payload, headers={"Nats-Msg-Id": event_id})
            except Exception as exc:  # left in the outbox; the sweeper retries
                log.warning("event %s not published yet: %s", event_id, exc)
                break
            done.append(event_id)
        if done:
            await self.db[OUTBOX].delete_many({"_id": {"$in": done}})

    async def sweep_once(self, grace_seconds: float = SWEEP_GRACE_SECONDS) -> int:
        cutoff = self.clock.now() - timedelta(seconds=grace_seconds)
        cursor = self.db[OUTBOX].find({"created": {"$lte": cutoff}}).sort([("created", 1)]).limit(500)
        items = [(d["_id"], d["subject"], bytes(d["payload"])) async for d in cursor]
        if items:
            await self._publish(items)
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
        await cancel_and_wait(self._sweeper)
