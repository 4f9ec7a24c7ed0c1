"""Service-Center's health and version calls.

Service-Center HEAD (983f3f39):

* ``server/rest/controller/v4/main_controller.go`` lines 47-52: ``GET /v4/{project}/registry/version``
  and ``GET /v4/{project}/registry/health``; ``server/rest/controller/v3/main_controller.go``
  lines 47-48: ``GET /version`` and ``GET /health`` (the same handlers, project ``default``).
* version (lines 38-41, 63-72): ``{"version", "buildTag", "goVersion", "os", "arch",
  "apiVersion": "4.0.0"}`` (services/domain/registry/global_services.py ``version_body``),
  answered by the registry worker (``registry.health.version``).
* health (lines 54-61 -> ``server/service/disco/instance.go`` lines 441-472): 200
  ``{"instances": [<SERVICECENTER instances>]}`` when the registry is healthy, else its error;
  answered by the registry worker (``registry.health.get``, workers/registry/health.py).
* ``GET /v4/{project}/registry/health/readiness``: not a route of Service-Center at that commit;
  java-chassis 3 probes it (``ServiceCenterRawClient.ADDRESS_CHECK_PATH``) and only looks at a
  2xx, so it answers as ``/health``.

``/health`` and ``/version`` sit outside ``/v4`` and so outside the edge's authentication, as
Service-Center's own are with its default (no RBAC) configuration."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api_edge.route_commands import route_command, sends
from api_edge.routers.forwarding import forward
from services.contracts.registry import GetInstancesResponse, HealthCommand, VersionResponse
from services.contracts.subjects import REGISTRY, Registry

router = APIRouter(tags=["registry (Service-Center v4)"])

#: Service-Center's v3 routes are its project ``default``
ROOT_PROJECT = "default"


@router.get("/v4/{project_id}/registry/version", summary="Service-Center version", response_model=VersionResponse)
@sends(REGISTRY, Registry.VERSION)
async def version(project_id: str, request: Request):
    return await forward(request, project_id, HealthCommand())


@router.get("/version", summary="Service-Center version (project default)", response_model=VersionResponse)
@sends(REGISTRY, Registry.VERSION)
async def root_version(request: Request) -> Response:
    return await _forward_as_default(request, "version")


@router.get("/v4/{project_id}/registry/health", summary="Registry health: the SERVICECENTER instances", response_model=GetInstancesResponse)
@sends(REGISTRY, Registry.HEALTH)
async def health(project_id: str, request: Request):
    return await forward(request, project_id, HealthCommand())


@router.get("/v4/{project_id}/registry/health/readiness", summary="Readiness probe (java-chassis): as /health")
@sends(REGISTRY, Registry.HEALTH)
async def readiness(project_id: str, request: Request):
    return await forward(request, project_id, HealthCommand())


@router.get("/health", summary="Registry health (project default)", response_model=GetInstancesResponse)
@sends(REGISTRY, Registry.HEALTH)
async def root_health(request: Request) -> Response:
    return await _forward_as_default(request, "health")


async def _forward_as_default(request: Request, name: str) -> Response:
    """A root call as project ``default``'s; errors in Service-Center's shape (the path given for
    the reply mapping is the v4 one)."""
    command = route_command(request.scope["endpoint"])
    return await request.app.state.bus.forward(f"/v4/{ROOT_PROJECT}/registry/{name}", ROOT_PROJECT, command, HealthCommand())
