"""Handlers of openstage.cmd.<project>.registry.service.*: micro-services and existence.

Events: ``registry.service.created|updated|deleted`` (data ``{"serviceId", "service"}``); a
deletion also emits ``registry.instance.deregistered`` for each instance it removes."""

from __future__ import annotations

from typing import Any

from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.registry import (
    CreateServiceCommand,
    CreateServiceResponse,
    DeleteServiceCommand,
    DeleteServicesCommand,
    DeleteServicesResponse,
    ExistenceCommand,
    GetExistenceResponse,
    GetServiceResponse,
    GetServicesResponse,
    ListServicesCommand,
    ServiceRefCommand,
    UpdateServicePropertiesCommand,
)
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import validation as v
from services.domain.registry.global_services import is_global
from services.domain.registry.identity import default_service_id, new_instance_id, unix_timestamp
from services.domain.registry.model import (
    dependency_matches,
    endpoints_key,
    instance_event_data,
    new_instance_json,
    new_service_json,
    registration_outcome,
    ttl_of,
    with_properties,
)
from services.domain.registry.revision import SCHEMA_SUMMARY_HEADER
from workers.registry.deps import RegistryDeps
from workers.registry.events import instance_event, service_event
from workers.registry.replies import OK_EMPTY, reply
from workers.runtime import command_router, on_command

router = command_router()

# Service-Center's domain when X-Domain-Name is absent. The header only enters the generated
# serviceId (sha1 of /cse-sr/ms/indexes/<domain>/<project>/...), as Service-Center's; tenancy is
# the project in the path (a credential is scoped to projects).
DOMAIN = "default"


async def stored_service(
    deps: RegistryDeps, project: str, service_id: str, session: Any = None, missing: str = "Service does not exist."
) -> dict[str, Any]:
    """A service's JSON as stored now (in ``session`` when given); 400012 ``missing`` when it
    does not exist."""
    svc = await store.get_service(deps.db, project, service_id, session=session)
    if svc is None:
        raise rerr.service_not_exists(missing)
    return svc


async def load_service(deps: RegistryDeps, project: str, service_id: str) -> dict[str, Any] | None:
    """A service's JSON (cached; None when it does not exist)."""
    svc = deps.caches.services.get((project, service_id))
    if svc is None:
        svc = await store.get_service(deps.db, project, service_id)
        if svc is not None:
            deps.caches.remember_service(project, svc)
    return svc


# --- create ------------------------------------------------------------------------------------
@on_command(router, REGISTRY, Registry.SERVICE_CREATE, "Register a micro-service (POST /microservices)", reply=CreateServiceResponse)
async def create_service(body: CreateServiceCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    request = v.validate_create_service(body.body)
    service = request.service
    assert service is not None  # validate_create_service refuses a request without one
    requested = service.service_id or None
    env = service.environment or ""
    now = deps.clock.seconds()
    ts = unix_timestamp(now)

    async def write(session):
        existing = await store.service_id_by_key(
            deps.db, project, env, service.app_id, service.service_name, service.version, session=session
        )
        id_taken = False
        if requested and existing is None:
            id_taken = await store.get_service(deps.db, project, requested, session=session) is not None
        answer = registration_outcome(requested, existing, id_taken)
        if answer is not None:
            return answer, []
        domain = v.check_str("CreateServiceRequest", "Domain", body.domain, max=256) or DOMAIN
        sid = requested or default_service_id(domain, project, env, service.app_id, service.service_name, service.version)
        if not requested and await store.get_service(deps.db, project, sid, session=session) is not None:
            raise rerr.service_already_exists()
        doc = new_service_json(service.model_copy(update={"service_id": None}), sid, ts)
        await store.insert_service(deps.db, project, doc, request.tags, session)
        events = [service_event(project, "created", doc)]
        for inst in request.instances or []:
            iid = inst.instance_id or new_instance_id()
            idoc = new_instance_json(inst.model_copy(update={"service_id": sid}), doc, iid, ts)
            ttl = ttl_of(idoc)
            await store.put_instance(deps.db, project, idoc, endpoints_key(inst.endpoints), ttl, now + ttl, session)
            events.append(instance_event(project, "registered", instance_event_data(idoc, doc)))
        return sid, events

    sid = await deps.commit(project, write)
    return reply({"serviceId": sid})


# --- read --------------------------------------------------------------------------------------
@on_command(router, REGISTRY, Registry.SERVICE_GET, "Show a micro-service", reply=GetServiceResponse)
async def get_service(body: ServiceRefCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    svc = await stored_service(deps, project, v.validate_service_id(body.service_id))
    return reply({"service": svc})


@on_command(router, REGISTRY, Registry.SERVICE_LIST, "List micro-services (optional exact filters)", reply=GetServicesResponse)
async def list_services(body: ListServicesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    t = "GetServicesRequest"
    v.check_str(t, "Environment", body.environment, pattern=v.ENVIRONMENT)
    v.check_str(t, "AppId", body.app_id, max=160, pattern=v.NAME)
    v.check_str(t, "ServiceName", body.service_name, max=128, pattern=v.NAME)
    if body.version:
        v.check_version(t, "Version", body.version)
    services = await store.list_services(
        deps.db,
        project,
        app_id=body.app_id or None,
        environment=body.environment,
        service_name=body.service_name or None,
        version=body.version or None,
    )
    if not v.string_true(body.with_shared):  # Service-Center datasource/ms_util.go lines 125-141 RemoveGlobalServices
        services = [s for s in services if not is_global(s.get("appId"), s.get("serviceName"))]
    return reply({"services": services} if services else {})


@on_command(router, REGISTRY, Registry.SERVICE_EXISTENCE, "Unique serviceId of a key, or a schema's summary", reply=GetExistenceResponse)
async def existence(body: ExistenceCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    kind = v.validate_existence(
        type=body.type,
        environment=body.environment,
        app_id=body.app_id,
        service_name=body.service_name,
        version=body.version,
        service_id=body.service_id,
        schema_id=body.schema_id,
    )
    if kind == "schema":
        assert body.service_id is not None and body.schema_id is not None  # validated
        svc = await stored_service(deps, project, body.service_id, missing="service does not exist.")
        schema = await store.get_schema(deps.db, project, body.service_id, body.schema_id)
        if schema is None:
            raise rerr.schema_not_exists()
        summary = schema.get("summary") or ""
        return reply(
            {"serviceId": svc["serviceId"], "schemaId": schema["schema_id"], "summary": summary}, headers={SCHEMA_SUMMARY_HEADER: summary}
        )
    assert body.app_id is not None and body.service_name is not None  # validated
    env = body.environment or ""
    flag = f"{env}/{body.app_id}/{body.service_name}/{body.version}"
    services = await store.services_of_app(deps.db, project, body.app_id, env)
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
@on_command(router, REGISTRY, Registry.SERVICE_UPDATE_PROPERTIES, "Replace a micro-service's properties", reply=None)
async def update_properties(body: UpdateServicePropertiesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="UpdateServicePropsRequest")
    props = v.validate_update_service_properties(sid, body.body.properties)
    ts = unix_timestamp(deps.clock.seconds())

    async def write(session):
        updated = with_properties(await stored_service(deps, project, sid, session), props, ts)
        await store.replace_service(deps.db, project, updated, session)
        return None, [service_event(project, "updated", updated)]

    await deps.commit(project, write)
    return OK_EMPTY


# --- delete ------------------------------------------------------------------------------------
async def _delete(deps: RegistryDeps, project: str, service_id: str, force: bool) -> None:
    """Service-Center's UnregisterService: refused while other services depend on it (400023) or
    while it has instances (400013), unless forced; otherwise the service, its schemas, its
    dependency rules and all its instances go (each instance with a ``deregistered`` event)."""

    async def write(session):
        svc = await stored_service(deps, project, service_id, session)
        if not force:
            rules = await store.consumers_of(deps.db, project, svc, session=session)
            if any(r["consumerId"] != service_id and dependency_matches(r, svc) for r in rules):
                raise rerr.depended_on_consumer()
            if await store.count_instances(deps.db, project, service_id, session=session):
                raise rerr.deployed_instance()
        instances = await store.instances_of(deps.db, project, [service_id], session=session)
        await store.delete_instances_of(deps.db, project, service_id, session)
        await store.delete_schemas_of(deps.db, project, service_id, session)
        await store.delete_dependencies_of(deps.db, project, service_id, session)
        await store.delete_service(deps.db, project, service_id, session)
        events = [instance_event(project, "deregistered", instance_event_data(i, svc)) for i in instances]
        events.append(service_event(project, "deleted", svc))
        return None, events

    await deps.commit(project, write)


@on_command(router, REGISTRY, Registry.SERVICE_DELETE, "Delete a micro-service (?force=true deregisters its instances)", reply=None)
async def delete_service(body: DeleteServiceCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    force = v.parse_force(body.force)
    sid = v.validate_service_id(body.service_id, type_name="DeleteServiceRequest")
    await _delete(deps, project, sid, force)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.SERVICE_DELETE_MANY, "Delete micro-services in a batch", reply=DeleteServicesResponse)
async def delete_services(body: DeleteServicesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    ids = v.validate_delete_services(body.body)
    results = []
    for sid in ids:
        try:
            await _delete(deps, project, sid, bool(body.body.force))
            results.append({"serviceId": sid})
        except rerr.RegistryError as exc:
            if exc.internal:
                raise
            results.append({"serviceId": sid, "errMessage": str(exc)})
    return reply({"services": results})
