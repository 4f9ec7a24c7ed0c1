"""Handlers of openstage.cmd.<project>.registry.health.get and .version: Service-Center's cluster
health and version.

Service-Center HEAD (983f3f39) ``server/rest/controller/v4/main_controller.go`` lines 50 and
54-61 (``GET /v4/{project}/registry/health``; ``/health`` in ``v3/main_controller.go`` line 48)
-> ``server/service/disco/instance.go`` lines 441-472 ``ClusterHealth``: when the registry is
healthy, 200 ``{"instances": [...]}`` with the instances of its own ``default/SERVICECENTER``
service. Here: the project's SERVICECENTER instances, registered on first use with the edge's
address (workers/registry/global_services.py); a store that does not answer is 503/500011 as for
every command."""

from __future__ import annotations

from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts.registry import GetInstancesResponse, HealthCommand, VersionResponse
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry.global_services import SC_VERSION, SERVICECENTER, global_service, version_body
from workers.registry.deps import RegistryDeps
from workers.registry.global_services import ensure_global_services
from workers.registry.replies import reply
from workers.runtime import command_router, on_command

router = command_router()


@on_command(router, REGISTRY, Registry.HEALTH, "Cluster health: the SERVICECENTER instances (GET /health)", reply=GetInstancesResponse)
async def health(body: HealthCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    await ensure_global_services(deps, project)  # reads the store: unavailable -> 503/500011
    service = global_service(project, SERVICECENTER, SC_VERSION, "")
    instances = await store.instances_of(deps.db, project, [service["serviceId"]])
    return reply({"instances": instances} if instances else {})


@on_command(router, REGISTRY, Registry.VERSION, "Service-Center's version (GET /version)", reply=VersionResponse)
async def version(body: HealthCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    """``server/rest/controller/v4/main_controller.go`` lines 38-41, 63-72: the version of the
    Service-Center openstage follows and the API version 4.0.0 (a constant: no store read)."""
    return reply(version_body())
