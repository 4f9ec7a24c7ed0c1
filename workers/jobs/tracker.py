"""The job tracker: durable pull consumer ``jobs-tracker`` on OPENSTAGE_EVENTS, filtered to
``openstage.evt.*.lifecycle.job.*`` and ``openstage.evt.*.lifecycle.task.*``. Each event is folded
into its job's document and acked after the write; a failure naks it for redelivery. The fold
ignores duplicates and order (services/domain/jobs/fold.py), so redeliveries and several tracker
processes are safe.

The documents this process keeps in memory (workers/jobs/documents.py) spare the fold its read;
each folded document is kept there and noticed to the other jobs processes before its events are
acked."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.background import cancel_and_wait
from services.adapters.store import jobs as store
from services.contracts import subjects
from services.contracts.subjects import LIFECYCLE
from services.domain.jobs import fold
from workers.jobs.documents import JobDocuments

log = logging.getLogger("openstage.jobs.tracker")

CONSUMER = "jobs-tracker"
FILTERS = [f"{subjects.EVT_PREFIX}.*.{LIFECYCLE}.job.*", f"{subjects.EVT_PREFIX}.*.{LIFECYCLE}.task.*"]


class Tracker:
    def __init__(self, db: AsyncDatabase, js: JetStreamContext, documents: JobDocuments, batch: int = 64) -> None:
        self.db = db
        self.js = js
        self.documents = documents
        self.batch = batch
        self._task: asyncio.Task | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_deliver=-1,
            max_ack_pending=10_000,
            filter_subjects=FILTERS,
        )
        self._sub = await self.js.pull_subscribe(FILTERS[0], durable=CONSUMER, stream=subjects.EVENTS_STREAM, config=config)
        self._task = asyncio.create_task(self._loop(), name="job-tracker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        assert self._sub is not None
        while True:
            try:
                msgs = await self._sub.fetch(self.batch, timeout=1.0)
            except (TimeoutError, NatsTimeout):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("tracker fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            await self.handle_batch(msgs)

    async def handle(self, msg: Msg) -> None:
        await self.handle_batch([msg])

    async def handle_batch(self, msgs: list[Msg]) -> None:
        """Fold a fetched batch: the events of one job with one read and one write (a job's ~13
        events arrive together when its runner writes its steps together), then ack them."""
        by_job: dict[str, list[tuple[Msg, dict]]] = {}
        for msg in msgs:
            event = await self._foldable(msg)
            if event is not None:
                by_job.setdefault(event["data"]["job_id"], []).append((msg, event))
        folded: list[tuple[dict, list[Msg]]] = []
        for job_id, items in by_job.items():
            try:
                doc = await store.apply_events(self.db, job_id, [e for _, e in items], known=self.documents.cached(job_id))
            except Exception as exc:
                log.warning("events of job %s not folded yet: %s", job_id, exc)
                await self._settle([m for m, _ in items], folded=False)
                continue
            self.documents.committed(doc)
            folded.append((doc, [m for m, _ in items]))
        try:
            await self.documents.notify([doc for doc, _ in folded])
        except Exception as exc:  # folded, but the other jobs processes may not know: fold them again later
            log.warning("notices of folded jobs not sent: %s", exc)
            await self._settle([m for _, msgs in folded for m in msgs], folded=False)
            return
        await self._settle([m for _, msgs in folded for m in msgs], folded=True)

    @staticmethod
    async def _settle(msgs: list[Msg], folded: bool) -> None:
        for m in msgs:
            with contextlib.suppress(Exception):
                await (m.ack() if folded else m.nak(delay=0.5))

    async def _foldable(self, msg: Msg) -> dict | None:
        """The job or task event a message carries; anything else is settled here and None returned."""
        try:
            event = orjson.loads(msg.data)
        except Exception:
            await msg.term()
            return None
        if not fold.is_job_event(event):
            await msg.ack()
            return None
        if fold.event_data(event) is None:  # its data breaks the job event contract: nothing to fold
            log.warning("event %s of type %s is not a valid job or task event; skipped", event.get("id"), event.get("type"))
            await msg.ack()
            return None
        return event
