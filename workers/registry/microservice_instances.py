"""Handlers of openstage.cmd.<project>.registry.instance.* (everything but discovery).

Registration follows Huawei's CSE text where it differs from Service-Center: a customised
``instanceId`` registered again **overwrites** the instance's content; without one, an
instance of the same service with the same endpoints is overwritten under its original id;
otherwise a new id is generated. Either way the lease restarts.

Events (data ``{"serviceId", "instanceId", "instance", "service"}``): ``registered`` (new),
``updated`` (overwritten by a registration, or properties replaced), ``status_changed``,
``deregistered``, and ``expired`` (workers/registry/leases.py). Heartbeats emit nothing."""
from __future__ import annotations

from typing import Any

import orjson
from faststream import Path

from services.adapters.clock import clock
from services.contracts.registry import (
    HeartbeatManyCommand,
    HeartbeatSetRequest,
    InstanceRefCommand,
    ListInstancesCommand,
    RegisterInstanceCommand,
    RegisterInstanceRequest,
    UpdateInstancePropertiesCommand,
    UpdateInstanceStatusCommand,
    UpdatePropertiesRequest,
)
from services.contracts import registry_errors as rerr
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
from services.adapters.store import registry as store
from services.contracts.subjects import REGISTRY, Registry
from workers.registry.common import OK_EMPTY, commit, instance_event, reply, reply_raw
from workers.registry.leases import leases
from workers.registry.services import load_service
from workers.registry.state import state
from workers.runtime import command_router, ctx, on_command

router = command_router()


async def consumer_of(project: str, consumer_id: str | None) -> dict[str, Any] | None:
    """The X-ConsumerId service (None without the header); 400012 when it does not exist."""
    if not consumer_id:
        return None
    v.validate_consumer_id(consumer_id)
    consumer = await load_service(project, consumer_id)
    if consumer is None:
        raise rerr.service_not_exists(f"Consumer[{consumer_id}] does not exist.")
    return consumer


# --- register ----------------------------------------------------------------------------------
@on_command(router, REGISTRY, Registry.INSTANCE_REGISTER, "Register (or re-register) an instance")
async def register_instance(body: RegisterInstanceCommand, project: str = Path()) -> bytes:
    request = v.parse_body(RegisterInstanceRequest, body.body)
    inst = v.validate_register_instance(request.instance, body.service_id)
    sid = inst.service_id
    service = await store.get_service(ctx.db, project, sid)
    if service is None:
        raise rerr.service_not_exists()
    now = clock.seconds()
    ts = unix_timestamp(now)
    ep_key = endpoints_key(inst.endpoints)

    async def write(session):
        if inst.instance_id:
            iid = inst.instance_id
            existing = await store.get_instance(ctx.db, project, sid, iid, session=session)
        else:
            existing = await store.instance_by_endpoints(ctx.db, project, sid, ep_key, session=session)
            iid = existing["instanceId"] if existing else new_instance_id()
        doc = new_instance_json(inst, service, iid, ts, registered_at=existing.get("timestamp") if existing else None)
        ttl = ttl_of(doc)
        await store.put_instance(ctx.db, project, doc, ep_key, ttl, now + ttl, session)
        verb = "updated" if existing else "registered"
        return iid, [instance_event(project, verb, instance_event_data(doc, service))]

    iid = await commit(project, write)
    leases.drop(project, sid, iid)
    return reply({"instanceId": iid})


# --- read --------------------------------------------------------------------------------------
def _with_revision(body: bytes, request_rev: str | None) -> bytes:
    rev = body_revision(body)
    if request_rev and request_rev == rev:
        return reply(status=304, headers={REVISION_HEADER: rev})
    return reply_raw(body, headers={REVISION_HEADER: rev})


@on_command(router, REGISTRY, Registry.INSTANCE_LIST, "A service's instances (X-Resource-Revision, rev -> 304)")
async def list_instances(body: ListInstancesCommand, project: str = Path()) -> bytes:
    tags = v.split_tags(body.tags)
    v.validate_get_instances(body.service_id, consumer_id=body.consumer_id, tags=tags)
    consumer = await consumer_of(project, body.consumer_id)
    provider = await store.get_service(ctx.db, project, body.service_id)
    if provider is None or not accessible(consumer, provider):
        raise rerr.service_not_exists(f"Provider[{body.service_id}] does not exist.")
    instances: list[dict] = []
    if tags:
        _, service_tags = await store.services_with_tags(ctx.db, project, provider.get("appId") or "",
                                                         provider.get("environment") or "")
        have = service_tags.get(provider["serviceId"], {})
        if not all(t in have for t in tags):
            return _with_revision(find_body([]), body.rev)
    instances = sorted(await store.instances_of(ctx.db, project, [provider["serviceId"]]), key=instance_sort_key)
    return _with_revision(find_body(instances), body.rev)


async def get_instance_doc(project: str, service_id: str | None, instance_id: str | None,
                           consumer_id: str | None) -> dict[str, Any]:
    v.validate_get_instances(service_id, consumer_id=consumer_id, instance_id=instance_id)
    consumer = await consumer_of(project, consumer_id)
    provider = await store.get_service(ctx.db, project, service_id)
    if provider is None:
        raise rerr.service_not_exists(f"Provider[{service_id}] does not exist.")
    doc = await store.get_instance(ctx.db, project, service_id, instance_id)
    if doc is None or not accessible(consumer, provider):
        raise rerr.instance_not_exists(f"Provider instance[{instance_id}] does not exist.")
    return doc


@on_command(router, REGISTRY, Registry.INSTANCE_GET, "One instance (X-Resource-Revision, rev -> 304)")
async def get_instance(body: InstanceRefCommand, project: str = Path()) -> bytes:
    doc = await get_instance_doc(project, body.service_id, body.instance_id, body.consumer_id)
    return _with_revision(orjson.dumps({"instance": doc}), body.rev)


# --- changes -----------------------------------------------------------------------------------
async def _change(project: str, service_id: str, instance_id: str, verb: str, change) -> None:
    async def write(session):
        doc = await store.get_instance(ctx.db, project, service_id, instance_id, session=session)
        if doc is None:
            raise rerr.instance_not_exists()
        updated = change(doc)
        if updated is None:
            return None, []
        if not await store.replace_instance_json(ctx.db, project, updated, session):
            raise rerr.instance_not_exists()
        service = await store.get_service(ctx.db, project, service_id, session=session) or {"serviceId": service_id}
        return None, [instance_event(project, verb, instance_event_data(updated, service))]

    await commit(project, write)


@on_command(router, REGISTRY, Registry.INSTANCE_UPDATE_STATUS, "Change an instance's status")
async def update_status(body: UpdateInstanceStatusCommand, project: str = Path()) -> bytes:
    status = v.validate_instance_status(body.value)
    sid, iid = v.validate_heartbeat(body.service_id, body.instance_id)
    ts = unix_timestamp(clock.seconds())
    await _change(project, sid, iid, "status_changed",
                  lambda doc: None if doc.get("status") == status else with_status(doc, status, ts))
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.INSTANCE_UPDATE_PROPERTIES, "Replace an instance's properties")
async def update_properties(body: UpdateInstancePropertiesCommand, project: str = Path()) -> bytes:
    request = v.parse_body(UpdatePropertiesRequest, body.body)
    sid, iid = v.validate_heartbeat(body.service_id, body.instance_id)
    props = v.validate_properties(request.properties or {}, type_name="UpdateInstancePropsRequest")
    ts = unix_timestamp(clock.seconds())
    await _change(project, sid, iid, "updated", lambda doc: with_properties(doc, props, ts))
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.INSTANCE_DELETE, "Deregister an instance")
async def delete_instance(body: InstanceRefCommand, project: str = Path()) -> bytes:
    sid, iid = v.validate_heartbeat(body.service_id, body.instance_id)

    async def write(session):
        doc = await store.get_instance(ctx.db, project, sid, iid, session=session)
        if doc is None:
            raise rerr.instance_not_exists()
        await store.delete_instance(ctx.db, project, sid, iid, session)
        service = await store.get_service(ctx.db, project, sid, session=session) or {"serviceId": sid}
        return None, [instance_event(project, "deregistered", instance_event_data(doc, service))]

    await commit(project, write)
    leases.drop(project, sid, iid)
    return OK_EMPTY


# --- heartbeats --------------------------------------------------------------------------------
async def beat(project: str, service_id: str | None, instance_id: str | None) -> None:
    """Renew a lease in memory (no write): the instance must exist (cached TTL, else one read)."""
    key = (project, service_id, instance_id)
    ttl = state.known.get(key)  # type: ignore[arg-type]
    if ttl is None:
        sid, iid = v.validate_heartbeat(service_id, instance_id)
        ttl = await store.lease_ttl(ctx.db, project, sid, iid)
        if ttl is None:
            raise rerr.instance_not_exists()
        state.remember_instance(project, sid, iid, ttl)
    leases.beat(project, service_id, instance_id, ttl)  # type: ignore[arg-type]


@on_command(router, REGISTRY, Registry.INSTANCE_HEARTBEAT_MANY, "Renew several leases (PUT /heartbeats)")
async def heartbeat_many(body: HeartbeatManyCommand, project: str = Path()) -> bytes:
    request = v.parse_body(HeartbeatSetRequest, body.body)
    results = []
    for e in v.validate_heartbeat_set(request):
        entry: dict[str, Any] = {"serviceId": e.service_id or "", "instanceId": e.instance_id or ""}
        try:
            await beat(project, e.service_id, e.instance_id)
        except rerr.RegistryError as exc:
            entry["errMessage"] = str(exc)
        results.append(entry)
    return reply({"instances": results})
