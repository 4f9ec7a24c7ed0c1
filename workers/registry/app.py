"""The registry worker's FastStream app: `openstage worker registry`.

Besides its command subscribers each process runs:

* a core-NATS subscription to ``openstage.evt.*.registry.>`` on its own connection, applying
  every registry event to the process's caches (workers/registry/state.py); on a disconnect or
  reconnect the caches are dropped (events may have been missed);
* the lease loop (workers/registry/leases.py): flush heartbeats, expire lapsed instances;
* plain nats-py subscriptions for the hot subjects (workers/registry/hot.py)."""
from __future__ import annotations

import logging

import orjson
from faststream import FastStream

from services.adapters import bus

from services.contracts import subjects
from services.adapters.store import registry as registry_store
from services.contracts.subjects import EVT_PREFIX, REGISTRY, Registry, registry_events_filter
from services.contracts.registry import (
    DependencyChangedData,
    InstanceEventData,
    SchemaChangedData,
    ServiceEventData,
)
from workers.registry import dependencies, discovery, hot, schemas, services
from workers.registry import microservice_instances as instances
from workers.registry.leases import leases
from workers.registry.state import state
from workers.runtime import WorkerContext, build_worker

log = logging.getLogger("openstage.registry")

# Every command subscriber (for the bus documentation). hot.router's two subjects are served by
# plain nats-py subscriptions at run time (workers/registry/hot.py), so the broker leaves it out.
ROUTERS = [hot.router, services.router, schemas.router, dependencies.router, instances.router, discovery.router]
RUNTIME_ROUTERS = [r for r in ROUTERS if r is not hot.router]

EVENTS = {
    **{subjects.event_type(REGISTRY, "service", verb): ServiceEventData for verb in Registry.SERVICE_EVENTS},
    **{subjects.event_type(REGISTRY, "instance", verb): InstanceEventData for verb in Registry.INSTANCE_EVENTS},
    subjects.event_type(REGISTRY, "schema", "changed"): SchemaChangedData,
    subjects.event_type(REGISTRY, "dependency", "changed"): DependencyChangedData,
}

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
    await hot.stop(c)
    await leases.stop()
    if _events_nc is not None:
        try:
            await _events_nc.drain()
        except Exception:  # noqa: BLE001 - shutting down
            pass


ON_STARTUP = [_indexes, _subscribe_events, hot.start]
AFTER_STARTUP = [_start_leases]
ON_SHUTDOWN = [_stop]


def build() -> FastStream:
    return build_worker(REGISTRY, RUNTIME_ROUTERS, on_startup=ON_STARTUP, after_startup=AFTER_STARTUP,
                        on_shutdown=ON_SHUTDOWN)
