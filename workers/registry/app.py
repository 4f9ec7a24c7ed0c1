"""The registry worker's FastStream app: `openstage worker registry`.

Besides its command subscribers each process runs:

* a core-NATS subscription to ``openstage.evt.*.registry.>`` on its own connection, applying
  every registry event to the process's caches (workers/registry/state.py); on a disconnect or
  reconnect the caches are dropped (events may have been missed);
* the lease loop (workers/registry/leases.py): flush heartbeats, expire lapsed instances."""
from __future__ import annotations

import logging

import orjson
from faststream import FastStream

from services import bus
from services.store import registry as registry_store
from services.subjects import EVT_PREFIX, REGISTRY, registry_events_filter
from workers.registry import dependencies, discovery, instances, schemas, services
from workers.registry.leases import leases
from workers.registry.state import state
from workers.runtime import WorkerContext, build_worker

log = logging.getLogger("openstage.registry")

ROUTERS = [services.router, schemas.router, dependencies.router, instances.router, discovery.router]

_events_nc = None


async def _indexes(c: WorkerContext) -> None:
    await registry_store.ensure_indexes(c.db)


def _on_event(msg) -> None:
    # openstage.evt.<project>.registry.<entity>.<verb>
    parts = msg.subject.split(".")
    if len(parts) != 6 or parts[3] != REGISTRY or f"{parts[0]}.{parts[1]}" != EVT_PREFIX:
        return
    try:
        event = orjson.loads(msg.data)
        state.apply_event(parts[2], parts[4], parts[5], event.get("data") or {})
    except Exception as exc:  # noqa: BLE001 - unreadable event: be safe, drop the caches
        log.warning("registry event on %s not applied (%s): caches dropped", msg.subject, exc)
        state.clear()


async def _subscribe_events(c: WorkerContext) -> None:
    global _events_nc

    async def lost(*_args) -> None:
        state.clear()

    _events_nc = await bus.connect(c.settings.nats_url, name="openstage-registry-cache",
                                   disconnected_cb=lost, reconnected_cb=lost)

    async def handler(msg) -> None:
        _on_event(msg)

    await _events_nc.subscribe(registry_events_filter("*"), cb=handler)
    await _events_nc.flush()


async def _start_leases(c: WorkerContext) -> None:
    leases.start()


async def _stop(c: WorkerContext) -> None:
    await leases.stop()
    if _events_nc is not None:
        try:
            await _events_nc.drain()
        except Exception:  # noqa: BLE001 - shutting down
            pass


ON_STARTUP = [_indexes, _subscribe_events]
AFTER_STARTUP = [_start_leases]
ON_SHUTDOWN = [_stop]


def build() -> FastStream:
    return build_worker(REGISTRY, ROUTERS, on_startup=ON_STARTUP, after_startup=AFTER_STARTUP,
                        on_shutdown=ON_SHUTDOWN)
