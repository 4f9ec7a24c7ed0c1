"""The jobs worker's read model: job documents (services/adapters/store/jobs.py) kept in memory, so
``jobs.job.get`` answers without a store round trip and the tracker folds without reading first.

The trackers are the only writers of job documents, and every write bumps the document's ``rev``.
So a document in memory is true until a newer ``rev`` is committed:

- this process's tracker hands over each document it commits (``committed``): kept at once;
- every tracker then publishes a notice (core NATS, ``FOLDED``: the job and its new ``rev``) and
  waits until the server has it before it acks the events (``notify``; a tracker that dies first
  leaves them to be folded again, which notices again), and every jobs process drops a document
  older than a notice it hears (``on_notice``). A reader is stale by a notice's transit at most;
- a document read from the store is kept only if no newer notice came while it was read;
- a notice may be lost while the connection is down, or dropped by a slow subscriber: on a
  disconnect, a reconnect or an error of the connection everything is dropped (and loads in flight
  are not kept). Without a bus (in-process handler tests) the own commits suffice.

Each kept document also keeps the answers already made of it (the reply's JSON per page asked), so
a repeated show costs a dictionary lookup. The least recently used documents go beyond ``capacity``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters import bus
from services.adapters.store import jobs as store
from services.contracts import subjects

log = logging.getLogger("openstage.jobs.documents")

FOLDED = subjects.JOBS_FOLDED  # the notices (services/contracts/subjects.py)
CAPACITY = 1_000  # documents kept: the recent jobs, the ones polled (a deployed job's is ~7 kB, its answers ~1.5 kB each)
ANSWERS_PER_DOCUMENT = 4  # pages of one document kept as JSON (show, show?limit=10, ...)

Doc = dict[str, Any]
PageKey = tuple[int | None, int, bool]  # (limit, offset, desc)


@dataclass
class _Kept:
    doc: Doc
    answers: dict[PageKey, bytes] = field(default_factory=dict)


def rev_of(doc: Doc | None) -> int:
    return int(doc.get("rev", 0)) if doc else -1


class JobDocuments:
    def __init__(self, db: AsyncDatabase, capacity: int = CAPACITY) -> None:
        self.db = db
        self.capacity = capacity
        self.nc: NATS | None = None
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        # jobs being read from the store -> the highest rev noticed meanwhile (0: none yet)
        self._loading: dict[str, int] = {}
        self._loads: dict[str, int] = {}  # loads in flight per job
        self._epoch = 0  # bumped when everything is dropped (a load that saw it change keeps nothing)
        self._waiters: dict[str, list[asyncio.Future]] = {}

    # --- reading ----------------------------------------------------------------------------------
    def cached(self, job_id: str) -> Doc | None:
        kept = self._kept.get(job_id)
        if kept is None:
            return None
        self._kept.move_to_end(job_id)
        return kept.doc

    def answer(self, job_id: str, page: PageKey, make: Callable[[Doc], Any]) -> bytes | None:
        """The JSON of ``make(doc)`` for a kept document (made once per page and rev), else None."""
        kept = self._kept.get(job_id)
        if kept is None:
            return None
        self._kept.move_to_end(job_id)
        out = kept.answers.get(page)
        if out is None:
            out = orjson.dumps(make(kept.doc))
            if len(kept.answers) >= ANSWERS_PER_DOCUMENT:
                kept.answers.clear()
            kept.answers[page] = out
        return out

    async def get(self, job_id: str) -> Doc | None:
        """The job's document: from memory, else read from the store (and kept unless a newer
        commit was noticed while it was read)."""
        doc = self.cached(job_id)
        if doc is not None:
            return doc
        epoch = self._epoch
        self._loads[job_id] = self._loads.get(job_id, 0) + 1
        self._loading.setdefault(job_id, 0)
        try:
            doc = await store.by_id(self.db, job_id)
            noticed = self._loading.get(job_id, 0)
        finally:
            left = self._loads[job_id] - 1
            if left:
                self._loads[job_id] = left
            else:
                del self._loads[job_id]
                self._loading.pop(job_id, None)
        if doc is not None and epoch == self._epoch and rev_of(doc) >= noticed:
            self._keep(job_id, doc)
        return doc

    async def changed(self, job_id: str, timeout: float) -> None:
        """Wait until a commit of the job is heard (own or noticed), at most ``timeout`` seconds."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, []).append(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
        finally:
            waiting = self._waiters.get(job_id)
            if waiting is not None:
                with contextlib.suppress(ValueError):
                    waiting.remove(future)
                if not waiting:
                    del self._waiters[job_id]

    # --- following the commits --------------------------------------------------------------------
    def committed(self, doc: Doc) -> None:
        """A document this process's tracker folded (written, or found up to date): kept."""
        job_id = doc["_id"]
        self._overtake(job_id, rev_of(doc))
        self._keep(job_id, doc)
        self._wake(job_id)

    async def notify(self, docs: list[Doc]) -> None:
        """Tell every jobs process that these documents were committed, and wait until the server
        has the notices (raises when it cannot be told: the tracker then leaves the events
        unacknowledged, and folding them again sends the notices again)."""
        if self.nc is None or not docs:
            return
        for doc in docs:
            await self.nc.publish(FOLDED, orjson.dumps({"job_id": doc["_id"], "rev": rev_of(doc)}))
        await self.nc.flush(timeout=5)

    def on_notice(self, job_id: str, rev: int) -> None:
        """Some tracker committed ``rev`` of the job: a document older than it is dropped."""
        self._overtake(job_id, rev)
        kept = self._kept.get(job_id)
        if kept is not None and rev_of(kept.doc) < rev:
            del self._kept[job_id]
        self._wake(job_id)

    def _overtake(self, job_id: str, rev: int) -> None:
        """A load of the job in flight that reads an older rev than ``rev`` keeps nothing."""
        if job_id in self._loading:
            self._loading[job_id] = max(self._loading[job_id], rev)

    def drop_all(self) -> None:
        """Notices may have been missed: forget everything (loads in flight keep nothing)."""
        self._epoch += 1
        self._kept.clear()

    def _keep(self, job_id: str, doc: Doc) -> None:
        kept = self._kept.get(job_id)
        if kept is not None:
            if rev_of(kept.doc) >= rev_of(doc):
                return
            del self._kept[job_id]
        self._kept[job_id] = _Kept(doc)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    def _wake(self, job_id: str) -> None:
        for future in self._waiters.get(job_id, ()):
            if not future.done():
                future.set_result(None)

    # --- the notices' connection --------------------------------------------------------------------
    async def subscribe(self, nats_url: str) -> None:
        """Hear the notices on a connection of this read model's own; when it drops, comes back or
        reports an error (a slow subscriber's lost messages), everything is dropped."""

        async def lost(*_args: object) -> None:
            self.drop_all()

        async def on_notice(msg: Msg) -> None:
            try:
                notice = orjson.loads(msg.data)
                job_id, rev = str(notice["job_id"]), int(notice["rev"])
            except Exception:
                return
            self.on_notice(job_id, rev)

        self.nc = await bus.connect(nats_url, name="openstage-jobs-documents", disconnected_cb=lost, reconnected_cb=lost, error_cb=lost)
        await self.nc.subscribe(FOLDED, cb=on_notice, pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 28)
        await self.nc.flush()

    async def start(self) -> None:
        """(Subscribed by ``compose``, before the handlers answer: nothing to start.)"""

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # shutting down
            if self.nc is not None:
                await self.nc.drain()
