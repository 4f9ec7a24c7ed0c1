"""Handlers of openstage.cmd.<project>.registry.govern.*: Service-Center's governance views
(``/v4/{project}/govern/...``), which go-chassis (``autoIPIndex``, sc-client ``GetAllResources``,
``GetAllApplications``) and Service-Center's console call.

Service-Center HEAD (983f3f39) ``server/resource/govern/govern_resource.go`` lines 38-45 (routes),
47-135 (query parsing: ``options``, ``appId``, ``serviceName``, ``env``, ``withShared``,
``property=k:v``, ``countOnly`` must be 0/1/blank -> 400001 ``parameter countOnly must be 1 or
0``), ``server/service/govern/view.go`` and ``graph.go``; the computations are pure
(services/domain/registry/govern.py). Read-only: no events."""

from __future__ import annotations

from typing import Any

from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.registry import (
    GovernAppsCommand,
    GovernAppsResponse,
    GovernGraphResponse,
    GovernRelationsCommand,
    GovernServiceResponse,
    GovernServicesCommand,
    GovernServicesResponse,
    GovernStatisticsCommand,
    GovernStatisticsResponse,
    ServiceRefCommand,
)
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import govern as g
from services.domain.registry import validation as v
from workers.registry.dependencies import consumers_of_provider, providers_of
from workers.registry.deps import RegistryDeps
from workers.registry.microservices import stored_service
from workers.registry.replies import reply
from workers.runtime import command_router, on_command

router = command_router()


async def _instances_by_service(deps: RegistryDeps, project: str, services: list[dict[str, Any]]) -> dict[str, list[dict]]:
    by: dict[str, list[dict]] = {}
    for doc in await store.instances_of(deps.db, project, [s["serviceId"] for s in services]):
        by.setdefault(doc.get("serviceId") or "", []).append(doc)
    return by


async def _schemas(deps: RegistryDeps, project: str, service_id: str) -> list[dict[str, str]]:
    out = []
    for d in await store.list_schemas(deps.db, project, service_id):
        item = {"schemaId": d["schema_id"]}
        for key in ("summary", "schema"):
            if d.get(key):
                item[key] = d[key]
        out.append(item)
    return out


async def _tags(deps: RegistryDeps, project: str, service_id: str) -> dict[str, str]:
    found = await store.get_service_tags(deps.db, project, service_id)
    return found[1] if found else {}


@on_command(router, REGISTRY, Registry.GOVERN_SERVICES, "Services with details (GET /govern/microservices)", reply=GovernServicesResponse)
async def list_details(body: GovernServicesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    count_only = body.count_only or ""
    if count_only not in ("0", "1") and count_only.strip():
        raise rerr.invalid_params("parameter countOnly must be 1 or 0")
    options, with_statistics = g.parse_options(body.options)
    with_shared = v.string_true(body.with_shared)
    services = await store.all_services(deps.db, project)
    by_service = await _instances_by_service(deps, project, services)
    out: dict[str, Any] = {}
    if with_statistics:
        ids = [sid for sid, docs in by_service.items() for _ in docs]
        out["statistics"] = g.statistics(services, ids, with_shared)
        if set((body.options or "").split(",")) == {"statistics"}:  # view.go lines 66-71
            return reply(out)
    details = []
    for s in g.filter_services(
        services,
        app_id=body.app_id or "",
        service_name=body.service_name or "",
        environment=body.environment or "",
        properties=g.parse_properties(body.properties),
        with_shared=with_shared,
    ):
        sid = s["serviceId"]
        parts: dict[str, Any] = {}
        if "tags" in options:
            parts["tags"] = await _tags(deps, project, sid)
        if "instances" in options:
            if count_only == "1":
                parts["instance_count"] = len(by_service.get(sid, []))
            else:
                parts["instances"] = [g.overview_instance(i) for i in by_service.get(sid, [])]
        if "schemas" in options:
            parts["schemas"] = await _schemas(deps, project, sid)
        if "dependencies" in options:
            parts["consumers"] = await consumers_of_provider(deps, project, dict(s), no_self=True)
            parts["providers"] = await providers_of(deps, project, dict(s), no_self=True)
        detail = g.detail(g.service_overview(s), **parts)
        if count_only == "1":  # view.go lines 119-121: countOnly gives every detail its (maybe empty) statics
            detail.setdefault("statics", {})
        details.append(detail)
    if details:
        out["allServicesDetail"] = details
    return reply(out)


@on_command(router, REGISTRY, Registry.GOVERN_SERVICE, "A service's details (GET /govern/microservices/{id})", reply=GovernServiceResponse)
async def get_detail(body: ServiceRefCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    if not body.service_id:
        raise rerr.invalid_params("Invalid request for getting service detail.")
    sid = v.validate_service_id(body.service_id)
    service = await stored_service(deps, project, sid)
    same_key = await store.services_of_app(deps.db, project, service.get("appId") or "", service.get("environment") or "")
    versions = [s.get("version") or "" for s in same_key if s.get("serviceName") == service.get("serviceName")]
    detail = g.detail(
        service,
        tags=await _tags(deps, project, sid),
        instances=await store.instances_of(deps.db, project, [sid]),
        schemas=await _schemas(deps, project, sid),
        providers=await providers_of(deps, project, service, no_self=False),
        consumers=await consumers_of_provider(deps, project, service, no_self=False),
        versions=versions,
    )
    return reply({"service": detail})


@on_command(router, REGISTRY, Registry.GOVERN_RELATIONS, "The dependency graph (GET /govern/relations)", reply=GovernGraphResponse)
async def relations(body: GovernRelationsCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    with_shared = v.string_true(body.with_shared)
    services = [s for s in await store.all_services(deps.db, project) if g.visible(s, with_shared)]
    providers = {s["serviceId"]: await providers_of(deps, project, s, no_self=True) for s in services}
    return reply(g.graph(services, providers, with_shared))


@on_command(router, REGISTRY, Registry.GOVERN_APPS, "The apps of a project (GET /govern/apps)", reply=GovernAppsResponse)
async def apps(body: GovernAppsCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    v.check_str("GetAppsRequest", "Environment", body.environment, pattern=v.ENVIRONMENT)
    with_shared = v.string_true(body.with_shared)
    services = await store.all_services(deps.db, project, body.environment or "")
    app_ids = list(dict.fromkeys(s.get("appId") or "" for s in services if g.visible(s, with_shared)))
    return reply({"appIds": app_ids} if app_ids else {})


@on_command(router, REGISTRY, Registry.GOVERN_STATISTICS, "Counts (GET /govern/statistics)", reply=GovernStatisticsResponse)
async def overview(body: GovernStatisticsCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    services = await store.all_services(deps.db, project)
    by_service = await _instances_by_service(deps, project, services)
    ids = [sid for sid, docs in by_service.items() for _ in docs]
    return reply({"statistics": g.statistics(services, ids, False)})
