"""The registry worker's FastStream app (`openstage worker registry`) and its composition root.

Besides its command subscribers (the broker's connection) and the events connection every
worker has (outbox publishes), each registry process runs, each on a connection of its own:

* the cache events: a core-NATS subscription to ``openstage.evt.*.registry.>`` applying every
  registry event to the process's caches (services/adapters/registry_events.py, caches.py); on a
  disconnect or reconnect the caches are dropped (events may have been missed);
* the fast path: plain nats-py subscriptions serving ``instance.heartbeat`` and
  ``instance.find`` (workers/registry/fast_path.py);

and the lease loop (workers/registry/leases.py): flush heartbeats, expire lapsed instances."""

from __future__ import annotations

from faststream import FastStream

from services.adapters.registry_events import RegistryEventSubscription
from services.adapters.store import registry as registry_store
from services.contracts import subjects
from services.contracts.registry import DependencyChangedData, InstanceEventData, SchemaChangedData, ServiceEventData, TagsChangedData
from services.contracts.subjects import REGISTRY, Registry
from workers.registry import dependencies, discovery, govern, health, heartbeats, microservice_instances, microservices, schemas, tags
from workers.registry.caches import RegistryCaches
from workers.registry.deps import RegistryDeps
from workers.registry.fast_path import FastPath
from workers.registry.leases import LeaseKeeper
from workers.registry.registrations import RegistrationBatcher
from workers.runtime import WorkerDeps, build_worker

# The subjects the fast path serves at run time: their handlers' FastStream subscribers are in the
# bus documentation and the in-process tests, but the worker's broker leaves them out, so no
# message of theirs is ever taken by a second, slower subscriber of the queue group.
FAST_PATH_ROUTERS = [heartbeats.fast_path_router, discovery.fast_path_router, microservice_instances.fast_path_router]
# Every command subscriber of the worker (the bus documentation reads ROUTERS).
ROUTERS = [
    microservices.router,
    tags.router,
    health.router,
    govern.router,
    schemas.router,
    dependencies.router,
    microservice_instances.router,
    heartbeats.router,
    discovery.router,
    *FAST_PATH_ROUTERS,
]
BROKER_ROUTERS = [r for r in ROUTERS if r not in FAST_PATH_ROUTERS]

EVENTS = {
    **{subjects.event_type(REGISTRY, "service", verb): ServiceEventData for verb in Registry.SERVICE_EVENTS},
    **{subjects.event_type(REGISTRY, "instance", verb): InstanceEventData for verb in Registry.INSTANCE_EVENTS},
    subjects.event_type(REGISTRY, "schema", "changed"): SchemaChangedData,
    subjects.event_type(REGISTRY, "dependency", "changed"): DependencyChangedData,
    subjects.event_type(REGISTRY, "tag", "changed"): TagsChangedData,
}


async def compose(base: WorkerDeps) -> RegistryDeps:
    """The registry worker's dependencies, built from the shared parts: the store's indexes, the
    process's caches, the lease keeper, the cache-event subscription and the fast path (none of
    them connected yet: :meth:`RegistryDeps.subscribe` does, ``start`` runs the lease loop)."""
    await registry_store.ensure_indexes(base.db)
    caches = RegistryCaches(base.clock)
    deps = RegistryDeps(
        **base.base(),
        caches=caches,
        leases=LeaseKeeper(base.db, base.clock, base.outbox, caches),
        cache_events=RegistryEventSubscription(caches),
    )
    deps.fast_path = FastPath(deps)
    deps.registrations = RegistrationBatcher(
        base.db, base.outbox, caches, base.clock, lambda *args: microservice_instances.register_alone(deps, *args)
    )
    return deps


async def compose_subscribed(base: WorkerDeps) -> RegistryDeps:
    """:func:`compose`, then subscribe the cache events and the fast path before the broker's own
    subscribers (and its ping) go live: a worker that answers ping serves heartbeats, and no find
    is cached before the events that invalidate it are heard."""
    deps = await compose(base)
    await deps.subscribe()
    return deps


def build() -> FastStream:
    return build_worker(REGISTRY, BROKER_ROUTERS, compose_subscribed)
