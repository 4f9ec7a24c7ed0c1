"""/v4/{project_id}/govern: Service-Center's governance views (answered by the registry worker,
workers/registry/govern.py). Routes as Service-Center HEAD (983f3f39)
``server/resource/govern/govern_resource.go`` lines 38-45; query values are passed on as sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api_edge.route_commands import sends
from api_edge.routers.forwarding import forward
from services.contracts import registry as contracts
from services.contracts.subjects import REGISTRY, Registry

router = APIRouter(prefix="/v4/{project_id}/govern", tags=["registry (Service-Center v4)"])

QueryText = Annotated[str | None, Query()]


@router.get(
    "/microservices",
    summary="Services with details and statistics (options=tags,instances,schemas,dependencies,statistics|all)",
    response_model=contracts.GovernServicesResponse,
)
@sends(REGISTRY, Registry.GOVERN_SERVICES)
async def list_details(
    project_id: str,
    request: Request,
    options: QueryText = None,
    appId: QueryText = None,
    serviceName: QueryText = None,
    env: QueryText = None,
    withShared: QueryText = None,
    countOnly: QueryText = None,
    property: Annotated[list[str] | None, Query()] = None,
):
    cmd = contracts.GovernServicesCommand(
        options=options,
        app_id=appId,
        service_name=serviceName,
        environment=env,
        with_shared=withShared,
        count_only=countOnly,
        properties=property or [],
    )
    return await forward(request, project_id, cmd)


@router.get("/microservices/{service_id}", summary="One service's details", response_model=contracts.GovernServiceResponse)
@sends(REGISTRY, Registry.GOVERN_SERVICE)
async def get_detail(project_id: str, service_id: str, request: Request):
    return await forward(request, project_id, contracts.ServiceRefCommand(service_id=service_id))


@router.get("/relations", summary="The dependency graph", response_model=contracts.GovernGraphResponse)
@sends(REGISTRY, Registry.GOVERN_RELATIONS)
async def relations(project_id: str, request: Request, withShared: QueryText = None):
    return await forward(request, project_id, contracts.GovernRelationsCommand(with_shared=withShared))


@router.get("/apps", summary="The project's apps", response_model=contracts.GovernAppsResponse)
@sends(REGISTRY, Registry.GOVERN_APPS)
async def apps(project_id: str, request: Request, env: QueryText = None, withShared: QueryText = None):
    return await forward(request, project_id, contracts.GovernAppsCommand(environment=env, with_shared=withShared))


@router.get("/statistics", summary="Counts of services, instances and apps", response_model=contracts.GovernStatisticsResponse)
@sends(REGISTRY, Registry.GOVERN_STATISTICS)
async def statistics(project_id: str, request: Request):
    return await forward(request, project_id, contracts.GovernStatisticsCommand())


# --- unknown routes ------------------------------------------------------------------------------
# Matched after every other router (api_edge/routers/__init__.py puts it last): a path under the
# registry or govern prefixes that no route takes, whatever the method. Service-Center answers
# such a request 404 (pkg/rest/router.go line 100 ``http.NotFound``); here with the registry's
# error keys and a code whose thousands are the status (``status = errorCode // 1000``), the code
# go-chassis/cari gives a missing record (``config/error.go`` line 31 ``ErrRecordNotExists``).
NOT_FOUND_CODE = "404001"
_ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


async def not_a_route(request: Request) -> JSONResponse:
    detail = f"{request.method} {request.url.path} is not a route of the registry"
    return JSONResponse({"errorCode": NOT_FOUND_CODE, "errorMessage": "Not Found", "detail": detail}, status_code=404)


# plain Starlette routes (not API routes: they send no command, and are no part of the API)
fallback_router = APIRouter()
for _prefix in ("/v4/{project_id}/registry/{rest:path}", "/v4/{project_id}/govern/{rest:path}"):
    fallback_router.add_route(_prefix, not_a_route, methods=_ALL_METHODS, include_in_schema=False)
