"""Handlers of openstage.cmd.<project>.registry.instance.*: registration, reads and changes
(heartbeats: workers/registry/heartbeats.py; discovery: workers/registry/discovery.py).

Registration follows Huawei's CSE text where it differs from Service-Center: a customised
``instanceId`` registered again **overwrites** the instance's content; without one, an
instance of the same service with the same endpoints is overwritten under its original id;
otherwise a new id is generated. Either way the lease restarts.

Events (data ``{"serviceId", "instanceId", "instance", "service"}``): ``registered`` (new),
``updated`` (overwritten by a registration, or properties replaced), ``status_changed``,
``deregistered``, and ``expired`` (workers/registry/leases.py). Heartbeats emit nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import orjson
from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.events import CloudEvent
from services.contracts.registry import (
    GetInstancesResponse,
    GetOneInstanceResponse,
    InstanceRefCommand,
    ListInstancesCommand,
    MicroServiceInstance,
    RegisterInstanceCommand,
    RegisterInstanceResponse,
    UpdateInstancePropertiesCommand,
    UpdateInstanceStatusCommand,
    UpdateManyInstanceStatusCommand,
)
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import validation as v
from services.domain.registry.identity import new_instance_id, unix_timestamp
from services.domain.registry.model import (
    accessible,
    body_revision,
    endpoints_key,
    find_body,
    instance_event_data,
    instance_sort_key,
    new_instance_json,
    ttl_of,
    with_properties,
    with_status,
)
from services.domain.registry.revision import REVISION_HEADER
from workers.registry.caches import Reregistration
from workers.registry.deps import RegistryDeps
from workers.registry.events import instance_event
from workers.registry.microservices import load_service
from workers.registry.replies import OK_EMPTY, reply, reply_with_json
from workers.registry.transactions import apply_events
from workers.runtime import CONCURRENT_COMMANDS, command_router, on_command

router = command_router()
# instance.register: served by the fast path's own subscription at run time (workers/registry/app.py)
fast_path_router = command_router()


async def consumer_of(deps: RegistryDeps, project: str, consumer_id: str | None) -> dict[str, Any] | None:
    """The X-ConsumerId service (None without the header); 400012 when it does not exist."""
    if not consumer_id:
        return None
    v.validate_consumer_id(consumer_id)
    consumer = await load_service(deps, project, consumer_id)
    if consumer is None:
        raise rerr.service_not_exists(f"Consumer[{consumer_id}] does not exist.")
    return consumer


# --- register ----------------------------------------------------------------------------------
def register_from_memory(deps: RegistryDeps, project: str, inst: MicroServiceInstance, service: dict[str, Any], ep_key: str) -> str | None:
    """The instance id when this registration would write exactly what this process last committed
    for that instance (same id or endpoints, same content; only ``modTimestamp`` would move): its
    lease is renewed in memory, as a heartbeat's, and nothing is written – Service-Center, too,
    answers the registration of a known instance as a renewal. None: register it in the store.

    Safe with several registry processes: the remembered JSON is dropped by any other event for
    the instance, and a registration racing another change is not remembered (``caches``); what
    remains is the delay of an event between processes, the same window a heartbeat answered from
    memory has."""
    seen = _unchanged(deps, project, inst, service, ep_key)
    if seen is None:
        return None
    deps.leases.renew(*seen.instance, seen.ttl)
    return seen.instance[2]


def _unchanged(deps: RegistryDeps, project: str, inst: MicroServiceInstance, service: dict[str, Any], ep_key: str) -> Reregistration | None:
    sid = service["serviceId"]
    iid = inst.instance_id or (deps.caches.endpoint_ids.get((project, sid, ep_key)) if ep_key else None)
    if not iid:
        return None
    known = deps.caches.registered_doc(project, sid, iid)
    if known is None:
        return None
    doc = new_instance_json(inst, service, iid, known.get("modTimestamp") or "", registered_at=known.get("timestamp"))
    if doc != known:
        return None
    by_endpoints = None if inst.instance_id else ep_key
    return Reregistration(service, known, (project, sid, iid), by_endpoints, ttl_of(doc), reply({"instanceId": iid}))


def register_from_memory_fields(
    deps: RegistryDeps, project: str, fields: dict[str, Any], payload: bytes = b""
) -> bytes | Callable[[], Awaitable[bytes]] | None:
    """The fast path's memory step (workers/registry/fast_path.py): the reply to an unchanged
    re-registration of an instance this process knows, from the command's fields as decoded (and
    its bytes: the same bytes as an earlier unchanged re-registration whose comparison still holds
    are answered without validating them again). Any other valid registration: what is left to
    do with the instance as validated here (:func:`register_validated`, run in a task; a new
    instance is not validated twice). None (a command that does not validate): the handler,
    :func:`register_instance`, answers it with its error."""
    seen = deps.caches.reregistrations.get((project, payload)) if payload else None
    if seen is None or not seen.holds(deps.caches):
        try:
            body = RegisterInstanceCommand.model_validate(fields)
            inst = v.validate_register_instance(body.body.instance, body.service_id)
        except Exception:  # the handler gives the error its proper reply
            return None
        service = deps.caches.services.get((project, inst.service_id or ""))
        seen = None if service is None else _unchanged(deps, project, inst, service, endpoints_key(inst.endpoints))
        if seen is None:
            return partial(register_validated, deps, project, inst)
        if payload:
            deps.caches.remember_reregistration(project, payload, seen)
    deps.leases.renew(*seen.instance, seen.ttl)
    return seen.answer


@on_command(
    fast_path_router,
    REGISTRY,
    Registry.INSTANCE_REGISTER,
    "Register (or re-register) an instance",
    reply=RegisterInstanceResponse,
    max_workers=CONCURRENT_COMMANDS,
)
async def register_instance(body: RegisterInstanceCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    return await register_validated(deps, project, v.validate_register_instance(body.body.instance, body.service_id))


async def register_validated(deps: RegistryDeps, project: str, inst: MicroServiceInstance) -> bytes:
    """:func:`register_instance` once its instance is validated."""
    sid = inst.service_id
    assert sid is not None  # validated
    service = await load_service(deps, project, sid)
    if service is None:
        raise rerr.service_not_exists()
    ep_key = endpoints_key(inst.endpoints)
    known = register_from_memory(deps, project, inst, service, ep_key)
    if known is not None:
        return reply({"instanceId": known})
    if deps.registrations is not None:  # concurrent registrations written together
        iid = await deps.registrations.register(project, inst, service, ep_key)
    else:
        iid = await register_alone(deps, project, inst, service, ep_key)
    deps.leases.forget(project, sid, iid)
    return reply({"instanceId": iid})


async def register_alone(deps: RegistryDeps, project: str, inst: MicroServiceInstance, service: dict[str, Any], ep_key: str) -> str:
    """Write one registration (its own outbox transaction); the instance id."""
    sid = service["serviceId"]
    now = deps.clock.seconds()
    ts = unix_timestamp(now)
    generation = deps.caches.instance_generation
    written: list[dict[str, Any]] = []

    async def write(session):
        if not inst.instance_id and ep_key:  # a new instance is inserted unless its endpoints have one: no read
            doc = new_instance_json(inst, service, new_instance_id(), ts)
            ttl = ttl_of(doc)
            if await store.insert_new_instances(deps.db, [(project, doc, ep_key, ttl, now + ttl)], session):
                written[:] = [doc]
                return doc["instanceId"], [instance_event(project, "registered", instance_event_data(doc, service))]
        if inst.instance_id:
            iid = inst.instance_id
            existing = await store.get_instance(deps.db, project, sid, iid, session=session)
        else:
            existing = await store.instance_by_endpoints(deps.db, project, sid, ep_key, session=session)
            iid = existing["instanceId"] if existing else new_instance_id()
        doc = new_instance_json(inst, service, iid, ts, registered_at=existing.get("timestamp") if existing else None)
        ttl = ttl_of(doc)
        await store.put_instance(deps.db, project, doc, ep_key, ttl, now + ttl, session)
        written[:] = [doc]
        verb = "updated" if existing else "registered"
        return iid, [instance_event(project, verb, instance_event_data(doc, service))]

    def committed(events: Sequence[CloudEvent]) -> None:
        # this process's caches learn the change before its event is even published, so the
        # event's echo is recognised as this process's own (caches.RegistryCaches)
        deps.caches.remember_registration(project, written[0], ep_key, generation)
        apply_events(deps.caches, project, events)

    return await deps.outbox.transaction(write, on_commit=committed)


# --- read --------------------------------------------------------------------------------------
def _with_revision(body: bytes, request_rev: str | None) -> bytes:
    rev = body_revision(body)
    if request_rev and request_rev == rev:
        return reply(status=304, headers={REVISION_HEADER: rev})
    return reply_with_json(body, headers={REVISION_HEADER: rev})


@on_command(router, REGISTRY, Registry.INSTANCE_LIST, "A service's instances (X-Resource-Revision, rev -> 304)", reply=GetInstancesResponse)
async def list_instances(body: ListInstancesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    tags = v.split_tags(body.tags)
    v.validate_get_instances(body.service_id, consumer_id=body.consumer_id, tags=tags)
    assert body.service_id is not None  # validated
    consumer = await consumer_of(deps, project, body.consumer_id)
    provider = await store.get_service(deps.db, project, body.service_id)
    if provider is None or not accessible(consumer, provider):
        raise rerr.service_not_exists(f"Provider[{body.service_id}] does not exist.")
    if tags:
        _, service_tags = await store.services_with_tags(deps.db, project, provider.get("appId") or "", provider.get("environment") or "")
        have = service_tags.get(provider["serviceId"], {})
        if not all(t in have for t in tags):
            return _with_revision(find_body([]), body.rev)
    instances = sorted(await store.instances_of(deps.db, project, [provider["serviceId"]]), key=instance_sort_key)
    return _with_revision(find_body(instances), body.rev)


async def get_instance_doc(
    deps: RegistryDeps, project: str, service_id: str | None, instance_id: str | None, consumer_id: str | None
) -> dict[str, Any]:
    """One instance's JSON as a consumer may see it; 400012/400017 otherwise."""
    v.validate_get_instances(service_id, consumer_id=consumer_id, instance_id=instance_id)
    assert service_id is not None and instance_id is not None  # validated
    consumer = await consumer_of(deps, project, consumer_id)
    provider = await store.get_service(deps.db, project, service_id)
    if provider is None:
        raise rerr.service_not_exists(f"Provider[{service_id}] does not exist.")
    doc = await store.get_instance(deps.db, project, service_id, instance_id)
    if doc is None or not accessible(consumer, provider):
        raise rerr.instance_not_exists(f"Provider instance[{instance_id}] does not exist.")
    return doc


@on_command(router, REGISTRY, Registry.INSTANCE_GET, "One instance (X-Resource-Revision, rev -> 304)", reply=GetOneInstanceResponse)
async def get_instance(body: InstanceRefCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    doc = await get_instance_doc(deps, project, body.service_id, body.instance_id, body.consumer_id)
    return _with_revision(orjson.dumps({"instance": doc}), body.rev)


# --- changes -----------------------------------------------------------------------------------
async def _change(
    deps: RegistryDeps,
    project: str,
    service_id: str,
    instance_id: str,
    verb: str,
    change: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> None:
    """Replace an instance's JSON with ``change(doc)`` (None: nothing to change, no event)."""

    async def write(session):
        doc = await store.get_instance(deps.db, project, service_id, instance_id, session=session)
        if doc is None:
            raise rerr.instance_not_exists()
        updated = change(doc)
        if updated is None:
            return None, []
        if not await store.replace_instance_json(deps.db, project, updated, session):
            raise rerr.instance_not_exists()
        service = await store.get_service(deps.db, project, service_id, session=session) or {"serviceId": service_id}
        return None, [instance_event(project, verb, instance_event_data(updated, service))]

    await deps.commit(project, write)


@on_command(router, REGISTRY, Registry.INSTANCE_UPDATE_STATUS, "Change an instance's status", reply=None)
async def update_status(body: UpdateInstanceStatusCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    status = v.validate_instance_status(body.value)
    sid, iid = v.validate_heartbeat(body.service_id, body.instance_id)
    ts = unix_timestamp(deps.clock.seconds())
    await _change(
        deps, project, sid, iid, "status_changed", lambda doc: None if doc.get("status") == status else with_status(doc, status, ts)
    )
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.INSTANCE_UPDATE_STATUS_MANY, "Change the status of every instance matching properties", reply=None)
async def update_status_many(body: UpdateManyInstanceStatusCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    """Service-Center HEAD ``datasource/etcd/ms.go`` lines 1573-1623 ``UpdateManyInstanceStatus``:
    every instance of the project whose properties hold all of ``matches.properties`` (none given:
    every instance) gets ``status``, in one transaction. Service-Center checks the status against
    nothing; **openstage** checks it as a single status update (400001). An instance already in
    that status is left alone (no write, no event)."""
    status = v.validate_instance_status(body.body.status)
    wanted = (body.body.matches.properties if body.body.matches else None) or {}
    ts = unix_timestamp(deps.clock.seconds())

    async def write(session):
        events = []
        services: dict[str, dict] = {}
        for doc in await store.all_instances(deps.db, project, session=session):
            props = doc.get("properties") or {}
            if doc.get("status") == status or any(props.get(k) != val for k, val in wanted.items()):
                continue
            updated = with_status(doc, status, ts)
            await store.replace_instance_json(deps.db, project, updated, session)
            sid = doc["serviceId"]
            if sid not in services:
                services[sid] = await store.get_service(deps.db, project, sid, session=session) or {"serviceId": sid}
            events.append(instance_event(project, "status_changed", instance_event_data(updated, services[sid])))
        return None, events

    await deps.commit(project, write)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.INSTANCE_UPDATE_PROPERTIES, "Replace an instance's properties", reply=None)
async def update_properties(body: UpdateInstancePropertiesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid, iid = v.validate_heartbeat(body.service_id, body.instance_id)
    props = v.validate_properties(body.body.properties or {}, type_name="UpdateInstancePropsRequest")
    ts = unix_timestamp(deps.clock.seconds())
    await _change(deps, project, sid, iid, "updated", lambda doc: with_properties(doc, props, ts))
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.INSTANCE_DELETE, "Deregister an instance", reply=None)
async def delete_instance(body: InstanceRefCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid, iid = v.validate_heartbeat(body.service_id, body.instance_id)

    async def write(session):
        doc = await store.get_instance(deps.db, project, sid, iid, session=session)
        if doc is None:
            raise rerr.instance_not_exists()
        await store.delete_instance(deps.db, project, sid, iid, session)
        service = await store.get_service(deps.db, project, sid, session=session) or {"serviceId": sid}
        return None, [instance_event(project, "deregistered", instance_event_data(doc, service))]

    await deps.commit(project, write)
    deps.leases.forget(project, sid, iid)
    return OK_EMPTY
