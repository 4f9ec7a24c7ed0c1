"""The global services (SERVICECENTER, KIE, CseConfigCenter) registered in a project on its first
use, with the edge's address (services/domain/registry/global_services.py).

Service-Center keeps its own registration in ``default/default`` and finds it from every domain,
project, app and environment (``datasource/etcd/ms.go`` lines 636-638 and 709-731). openstage's
projects share no store scope, so each project gets its own copy: written once per process and
project (``RegistryCaches.globals_ready``), in one outbox transaction with its events
(``service.created``, ``instance.registered``), with a lease that never lapses (the edge is the
instance; nobody heartbeats it). When the edge's address changed since, the old instance is
replaced (``instance.deregistered`` + ``instance.registered``)."""

from __future__ import annotations

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.domain.registry.global_services import GLOBAL_SERVICE_NAMES, SC_VERSION, global_instance, global_service
from services.domain.registry.identity import unix_timestamp
from services.domain.registry.model import endpoints_key, instance_event_data, ttl_of
from services.settings import registry_advertise_url
from workers.registry.deps import RegistryDeps
from workers.registry.events import instance_event, service_event

#: the global instances' lease deadline, this far ahead (it is never renewed)
NEVER_LAPSES = 100 * 365 * 24 * 3600.0


async def ensure_global_services(deps: RegistryDeps, project: str) -> None:
    """Register the global services and their one instance (the edge) in ``project`` unless this
    process already did."""
    if project in deps.caches.globals_ready:
        return
    now = deps.clock.seconds()
    ts = unix_timestamp(now)
    address = registry_advertise_url(deps.settings)

    async def write(session):
        events = []
        for name in GLOBAL_SERVICE_NAMES:
            service = global_service(project, name, SC_VERSION, ts)
            stored = await store.get_service(deps.db, project, service["serviceId"], session=session)
            if stored is None:
                await store.insert_service(deps.db, project, service, None, session)
                events.append(service_event(project, "created", service))
            else:
                service = stored
            instance = global_instance(service, address, ts)
            if await store.get_instance(deps.db, project, service["serviceId"], instance["instanceId"], session=session) is not None:
                continue
            for old in await store.instances_of(deps.db, project, [service["serviceId"]], session=session):
                await store.delete_instance(deps.db, project, service["serviceId"], old["instanceId"], session)
                events.append(instance_event(project, "deregistered", instance_event_data(old, service)))
            key = endpoints_key(instance["endpoints"])
            await store.put_instance(deps.db, project, instance, key, ttl_of(instance), now + NEVER_LAPSES, session)
            events.append(instance_event(project, "registered", instance_event_data(instance, service)))
        return None, events

    try:
        await deps.commit(project, write)
    except rerr.RegistryError as exc:  # another process registered them at the same moment
        if exc.code != "400010":
            raise
        await deps.commit(project, write)
    deps.caches.globals_ready.add(project)
