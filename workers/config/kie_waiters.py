"""Kie long polling in the config worker: lists that wait (``wait=5s``) for a change of their labels.

apache/servicecomb-kie ``server/resource/v1/common.go`` L213-236 (eventHappened: an observer per
waiting request, answered by the first matching change or after ``wait``) and
``server/pubsub/struct.go`` L99-122 (Topic.Match: which change answers which wait). Kie spreads
changes between its nodes with serf; here every config worker process subscribes (core NATS, on
its events connection) to every KV event, ``openstage.evt.*.config.kv.>``, so a change committed
by *any* config worker wakes the waits of its project in every process. The process that made a
change also wakes its own waiters directly after the commit (:meth:`KieWaiters.notify`), without
waiting for the event to come back.

A wait is bounded by the caller's ``wait`` (at most 5 minutes); :meth:`KieWaiters.stop` wakes every
wait at shutdown (it answers 304, and the client polls again, elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.contracts.subjects import Config
from services.domain.config import kie as rules

log = logging.getLogger("openstage.config.kie")


class Waiter:
    """One waiting list: its labels and match, and the event set when a matching change comes."""

    __slots__ = ("changed", "labels", "match", "project")

    def __init__(self, project: str, labels: Mapping[str, str], match: str) -> None:
        self.project = project
        self.labels = dict(labels)
        self.match = match
        self.changed = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """True when a matching change (or shutdown) came within ``seconds``."""
        try:
            async with asyncio.timeout(seconds):
                await self.changed.wait()
        except TimeoutError:
            return False
        return True


class KieWaiters:
    def __init__(self) -> None:
        self._waiters: dict[str, set[Waiter]] = {}
        self._subscription: Subscription | None = None
        self.closed = False

    def __len__(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    @contextlib.contextmanager
    def watch(self, project: str, labels: Mapping[str, str], match: str) -> Iterator[Waiter]:
        """Register a wait for the ``with`` block (register first, then read the revision: a change
        between the two is not missed)."""
        waiter = Waiter(project, labels, match)
        if self.closed:
            waiter.changed.set()
        self._waiters.setdefault(project, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiting = self._waiters.get(project)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[project]

    def notify(self, project: str, labels: Mapping[str, str]) -> None:
        """A KV with ``labels`` changed in ``project``: wake the waits it answers."""
        for waiter in list(self._waiters.get(project, ())):
            if rules.labels_match(waiter.labels, labels, waiter.match):
                waiter.changed.set()

    async def _on_event(self, msg: Msg) -> None:
        # openstage.evt.<project>.config.kv.<verb>, data {"kv": {..., "labels": {...}}, ...}
        try:
            project = msg.subject.split(".")[2]
            labels = orjson.loads(msg.data)["data"]["kv"]["labels"]
            if not isinstance(labels, dict):
                raise TypeError("labels is not an object")
        except (IndexError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            log.warning("unreadable kie event on %s: %s", msg.subject, exc)
            return
        self.notify(project, labels)

    async def start(self, nc: NATS) -> None:
        self.closed = False
        self._subscription = await nc.subscribe(Config.KV_EVENTS_FILTER, cb=self._on_event)

    async def stop(self) -> None:
        """Stop listening and wake every wait (each answers 304 at once)."""
        self.closed = True
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._subscription.unsubscribe(), timeout=1)
            self._subscription = None
        for waiting in self._waiters.values():
            for waiter in waiting:
                waiter.changed.set()
