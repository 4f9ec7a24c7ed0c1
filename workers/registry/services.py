"""Handlers of openstage.cmd.<project>.registry.service.*: micro-services and existence.

Events: ``registry.service.created|updated|deleted`` (data ``{"serviceId", "service"}``); a
deletion also emits ``registry.instance.deregistered`` for each instance it removes."""
from __future__ import annotations

from typing import Any

from faststream import Path

from services.adapters.clock import clock
from services.contracts.registry import (
    CreateServiceCommand,
    CreateServiceRequest,
    DeleteServiceCommand,
    DeleteServicesCommand,
    DeleteServicesRequest,
    ExistenceCommand,
    ListServicesCommand,
    ServiceRefCommand,
    UpdatePropertiesRequest,
    UpdateServicePropertiesCommand,
)
from services.contracts import registry_errors as rerr
from services.domain.registry import validation as v
from services.domain.registry.identity import default_service_id, new_instance_id, unix_timestamp
from services.domain.registry.model import (
    endpoints_key,
    instance_event_data,
    new_instance_json,
    new_service_json,
    registration_outcome,
    ttl_of,
    with_properties,
)
from services.adapters.store import registry as store
from services.contracts.subjects import REGISTRY, Registry
from workers.registry.common import OK_EMPTY, commit, instance_event, reply, service_event
from workers.registry.state import state
from workers.runtime import command_router, ctx, on_command

router = command_router()

# Service-Center's domain: every project lives in the one domain "default" (X-Domain-Name is
# not used for tenancy here: the project in the path is).
DOMAIN = "default"


async def load_service(project: str, service_id: str) -> dict[str, Any] | None:
    """A service's JSON (cached; None when it does not exist)."""
    svc = state.services.get((project, service_id))
    if svc is None:
        svc = await store.get_service(ctx.db, project, service_id)
        if svc is not None:
            state.remember_service(project, svc)
    return svc


async def require_service(project: str, service_id: str | None, detail: str = "Service does not exist.") -> dict:
    sid = v.validate_service_id(service_id)
    svc = await load_service(project, sid)
    if svc is None:
        raise rerr.service_not_exists(detail)
    return svc


# --- create ------------------------------------------------------------------------------------
@on_command(router, REGISTRY, Registry.SERVICE_CREATE, "Register a micro-service (POST /microservices)")
async def create_service(body: CreateServiceCommand, project: str = Path()) -> bytes:
    request = v.validate_create_service(v.parse_body(CreateServiceRequest, body.body))
    service = request.service
    requested = service.service_id or None
    env = service.environment or ""
    now = clock.seconds()
    ts = unix_timestamp(now)

    async def write(session):
        existing = await store.service_id_by_key(ctx.db, project, env, service.app_id, service.service_name,
                                                 service.version, session=session)
        id_taken = False
        if requested and existing is None:
            id_taken = await store.get_service(ctx.db, project, requested, session=session) is not None
        answer = registration_outcome(requested, existing, id_taken)
        if answer is not None:
            return answer, []
        sid = requested or default_service_id(DOMAIN, project, env, service.app_id, service.service_name,
                                               service.version)
        if not requested and await store.get_service(ctx.db, project, sid, session=session) is not None:
            raise rerr.service_already_exists()
        doc = new_service_json(service.model_copy(update={"service_id": None}), sid, ts)
        await store.insert_service(ctx.db, project, doc, request.tags, session)
        events = [service_event(project, "created", doc)]
        for inst in request.instances or []:
            iid = inst.instance_id or new_instance_id()
            idoc = new_instance_json(inst.model_copy(update={"service_id": sid}), doc, iid, ts)
            ttl = ttl_of(idoc)
            await store.put_instance(ctx.db, project, idoc, endpoints_key(inst.endpoints), ttl, now + ttl, session)
            events.append(instance_event(project, "registered", instance_event_data(idoc, doc)))
        return sid, events

    sid = await commit(project, write)
    return reply({"serviceId": sid})


# --- read --------------------------------------------------------------------------------------
@on_command(router, REGISTRY, Registry.SERVICE_GET, "Show a micro-service")
async def get_service(body: ServiceRefCommand, project: str = Path()) -> bytes:
    sid = v.validate_service_id(body.service_id)
    svc = await store.get_service(ctx.db, project, sid)
    if svc is None:
        raise rerr.service_not_exists()
    return reply({"service": svc})


@on_command(router, REGISTRY, Registry.SERVICE_LIST, "List micro-services (optional exact filters)")
async def list_services(body: ListServicesCommand, project: str = Path()) -> bytes:
    t = "GetServicesRequest"
    v.check_str(t, "Environment", body.environment, pattern=v.ENVIRONMENT)
    v.check_str(t, "AppId", body.app_id, max=160, pattern=v.NAME)
    v.check_str(t, "ServiceName", body.service_name, max=128, pattern=v.NAME)
    if body.version:
        v.check_version(t, "Version", body.version)
    services = await store.list_services(ctx.db, project, app_id=body.app_id or None,
                                         environment=body.environment, service_name=body.service_name or None,
                                         version=body.version or None)
    return reply({"services": services} if services else {})


@on_command(router, REGISTRY, Registry.SERVICE_EXISTENCE, "Unique serviceId of a key, or a schema's summary")
async def existence(body: ExistenceCommand, project: str = Path()) -> bytes:
    kind = v.validate_existence(type=body.type, environment=body.environment, app_id=body.app_id,
                                service_name=body.service_name, version=body.version,
                                service_id=body.service_id, schema_id=body.schema_id)
    if kind == "schema":
        svc = await store.get_service(ctx.db, project, body.service_id)
        if svc is None:
            raise rerr.service_not_exists("service does not exist.")
        schema = await store.get_schema(ctx.db, project, body.service_id, body.schema_id)
        if schema is None:
            raise rerr.schema_not_exists()
        summary = schema.get("summary") or ""
        return reply({"serviceId": svc["serviceId"], "schemaId": schema["schema_id"], "summary": summary},
                     headers={"X-Schema-Summary": summary})
    env = body.environment or ""
    flag = f"{env}/{body.app_id}/{body.service_name}/{body.version}"
    services = await store.services_of_app(ctx.db, project, body.app_id, env)
    named = [s for s in services if s.get("serviceName") == body.service_name]
    if not named:
        named = [s for s in services if s.get("alias") and s.get("alias") == body.service_name]
    if not named:
        raise rerr.service_not_exists(f"{flag} does not exist.")
    exact = [s for s in named if s.get("version") == body.version]
    if not exact:
        raise rerr.service_version_not_exists(f"{flag} version mismatch.")
    return reply({"serviceId": exact[0]["serviceId"]})


# --- properties --------------------------------------------------------------------------------
@on_command(router, REGISTRY, Registry.SERVICE_UPDATE_PROPERTIES, "Replace a micro-service's properties")
async def update_properties(body: UpdateServicePropertiesCommand, project: str = Path()) -> bytes:
    request = v.parse_body(UpdatePropertiesRequest, body.body)
    sid = v.validate_service_id(body.service_id, type_name="UpdateServicePropsRequest")
    props = v.validate_update_service_properties(sid, request.properties)
    ts = unix_timestamp(clock.seconds())

    async def write(session):
        svc = await store.get_service(ctx.db, project, sid, session=session)
        if svc is None:
            raise rerr.service_not_exists()
        updated = with_properties(svc, props, ts)
        await store.replace_service(ctx.db, project, updated, session)
        return None, [service_event(project, "updated", updated)]

    await commit(project, write)
    return OK_EMPTY


# --- delete ------------------------------------------------------------------------------------
async def _delete(project: str, service_id: str, force: bool) -> None:
    """Service-Center's UnregisterService: refused while other services depend on it (400023) or
    while it has instances (400013), unless forced; otherwise the service, its schemas, its
    dependency rules and all its instances go (each instance with a ``deregistered`` event)."""

    async def write(session):
        svc = await store.get_service(ctx.db, project, service_id, session=session)
        if svc is None:
            raise rerr.service_not_exists()
        if not force:
            from services.domain.registry.model import dependency_matches

            rules = await store.consumers_of(ctx.db, project, svc.get("environment") or "", svc.get("appId") or "",
                                             svc.get("serviceName") or "", session=session)
            if any(r["consumerId"] != service_id and dependency_matches(r, svc) for r in rules):
                raise rerr.depended_on_consumer()
            if await store.count_instances(ctx.db, project, service_id, session=session):
                raise rerr.deployed_instance()
        instances = await store.instances_of(ctx.db, project, [service_id], session=session)
        await store.delete_instances_of(ctx.db, project, service_id, session)
        await store.delete_schemas_of(ctx.db, project, service_id, session)
        await store.delete_dependencies_of(ctx.db, project, service_id, session)
        await store.delete_service(ctx.db, project, service_id, session)
        events = [instance_event(project, "deregistered", instance_event_data(i, svc)) for i in instances]
        events.append(service_event(project, "deleted", svc))
        return None, events

    await commit(project, write)


@on_command(router, REGISTRY, Registry.SERVICE_DELETE, "Delete a micro-service (?force=true deregisters its instances)")
async def delete_service(body: DeleteServiceCommand, project: str = Path()) -> bytes:
    force = v.parse_force(body.force)
    sid = v.validate_service_id(body.service_id, type_name="DeleteServiceRequest")
    await _delete(project, sid, force)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.SERVICE_DELETE_MANY, "Delete micro-services in a batch")
async def delete_services(body: DeleteServicesCommand, project: str = Path()) -> bytes:
    request = v.parse_body(DeleteServicesRequest, body.body)
    ids = v.validate_delete_services(request)
    results = []
    for sid in ids:
        try:
            await _delete(project, sid, bool(request.force))
            results.append({"serviceId": sid})
        except rerr.RegistryError as exc:
            if exc.internal:
                raise
            results.append({"serviceId": sid, "errMessage": str(exc)})
    return reply({"services": results})
