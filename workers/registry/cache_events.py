"""Keeps one registry process's caches true: a core-NATS subscription to every registry event
(``openstage.evt.*.registry.>``) on a connection of its own, each event applied with
:meth:`RegistryCaches.apply_event`. Core NATS, not JetStream: a process only needs the events
from now on, and when its connection drops or comes back (events may have been missed) the
caches are dropped instead."""

from __future__ import annotations

import contextlib
import logging

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from services.adapters import bus
from services.contracts.subjects import EVT_PREFIX, REGISTRY, registry_events_filter
from workers.registry.caches import RegistryCaches

log = logging.getLogger("openstage.registry")


class CacheEventSubscription:
    def __init__(self, caches: RegistryCaches) -> None:
        self.caches = caches
        self.nc: NATS | None = None

    def apply(self, subject: str, payload: bytes) -> None:
        """Apply one event message (``openstage.evt.<project>.registry.<entity>.<verb>``); an
        unreadable one drops the caches."""
        parts = subject.split(".")
        if len(parts) != 6 or parts[3] != REGISTRY or f"{parts[0]}.{parts[1]}" != EVT_PREFIX:
            return
        try:
            event = orjson.loads(payload)
            self.caches.apply_event(parts[2], parts[4], parts[5], event.get("data") or {})
        except Exception as exc:  # an unreadable event: be safe, drop the caches
            log.warning("registry event on %s not applied (%s): caches dropped", subject, exc)
            self.caches.clear()

    async def subscribe(self, nats_url: str) -> None:
        async def lost(*_args: object) -> None:
            self.caches.clear()

        async def on_event(msg: Msg) -> None:
            self.apply(msg.subject, msg.data)

        self.nc = await bus.connect(nats_url, name="openstage-registry-cache", disconnected_cb=lost, reconnected_cb=lost)
        await self.nc.subscribe(registry_events_filter("*"), cb=on_event)
        await self.nc.flush()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # shutting down
            if self.nc is not None:
                await self.nc.drain()
