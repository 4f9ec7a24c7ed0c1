"""Keeps a process's registry caches true: a core-NATS subscription to every registry event
(``openstage.evt.*.registry.>``) on a connection of its own, each event applied with the cache's
``apply_event``. Core NATS, not JetStream: a process only needs the events from now on, and when
its connection drops or comes back (events may have been missed) the cache is dropped instead.

Two caches follow it: a registry worker's (workers/registry/caches.py ``RegistryCaches``) and
the edge's (api_edge/registry_memory.py ``EdgeRegistryMemory``)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Protocol

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from services.adapters import bus
from services.contracts.subjects import EVT_PREFIX, REGISTRY, registry_events_filter

log = logging.getLogger("openstage.registry")


class RegistryEventFollower(Protocol):
    """A cache kept true by registry events."""

    def apply_event(self, project: str, entity: str, verb: str, data: dict[str, Any]) -> None: ...

    def clear(self) -> None: ...


class RegistryEventSubscription:
    def __init__(self, caches: RegistryEventFollower, connection_name: str = "openstage-registry-cache") -> None:
        self.caches = caches
        self.connection_name = connection_name
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

        self.nc = await bus.connect(nats_url, name=self.connection_name, disconnected_cb=lost, reconnected_cb=lost)
        await self.nc.subscribe(registry_events_filter("*"), cb=on_event)
        await self.nc.flush()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # shutting down
            if self.nc is not None:
                await self.nc.drain()
