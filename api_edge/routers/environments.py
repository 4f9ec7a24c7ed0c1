"""/v2/{project_id}/cas/environments"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api_edge.route_commands import sends
from api_edge.routers.forwarding import creator, forward, from_query
from services.contracts import environments as contracts
from services.contracts.subjects import LIFECYCLE, Lifecycle

router = APIRouter(prefix="/v2/{project_id}/cas/environments", tags=["environments"])


# show and list are also answered by api_edge/raw_asgi_routes.py, before FastAPI's routing, with
# these builders (a request they refuse is passed on to the routes below, which answer it)
def show_command(environment_id: str) -> contracts.EnvironmentRef:
    return contracts.EnvironmentRef(environment_id=environment_id)


def list_command(query: Mapping[str, str]) -> contracts.ListEnvironments:
    return from_query(contracts.ListEnvironments, query)


def create_command(body: contracts.EnvironmentCreate, caller: str) -> contracts.CreateEnvironment:
    return contracts.CreateEnvironment(**body.model_dump(), creator=caller)


@router.post("", response_model=contracts.Environment, summary="Create an environment")
@sends(LIFECYCLE, Lifecycle.ENVIRONMENT_CREATE)
async def create_environment(project_id: str, body: contracts.EnvironmentCreate, request: Request):
    return await forward(request, project_id, create_command(body, creator(request)))


@router.get("", response_model=contracts.EnvironmentList, summary="Obtain all environments")
@sends(LIFECYCLE, Lifecycle.ENVIRONMENT_LIST)
async def list_environments(project_id: str, query: Annotated[contracts.ListEnvironments, Query()], request: Request):
    return await forward(request, project_id, query)


@router.get("/{environment_id}", response_model=contracts.Environment, summary="Obtain environment details")
@sends(LIFECYCLE, Lifecycle.ENVIRONMENT_GET)
async def show_environment(project_id: str, environment_id: str, request: Request):
    return await forward(request, project_id, show_command(environment_id))


@router.put("/{environment_id}", response_model=contracts.Environment, summary="Modify an environment")
@sends(LIFECYCLE, Lifecycle.ENVIRONMENT_UPDATE)
async def change_environment(project_id: str, environment_id: str, body: contracts.EnvironmentModify, request: Request):
    return await forward(request, project_id, contracts.UpdateEnvironment(environment_id=environment_id, body=body))


@router.patch("/{environment_id}/resources", response_model=contracts.Environment, summary="Modify environment resources")
@sends(LIFECYCLE, Lifecycle.ENVIRONMENT_CHANGE_RESOURCES)
async def change_environment_resources(project_id: str, environment_id: str, body: contracts.EnvironmentResourceModify, request: Request):
    return await forward(request, project_id, contracts.ChangeEnvironmentResources(environment_id=environment_id, body=body))


@router.delete("/{environment_id}", status_code=204, summary="Delete an environment")
@sends(LIFECYCLE, Lifecycle.ENVIRONMENT_DELETE)
async def delete_environment(project_id: str, environment_id: str, request: Request):
    return await forward(request, project_id, contracts.EnvironmentRef(environment_id=environment_id))
