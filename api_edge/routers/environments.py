"""/v2/{project_id}/cas/environments"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api_edge.routers.forwarding import forward, principal
from services.contracts.environments import (
    ChangeEnvironmentResources,
    CreateEnvironment,
    Environment,
    EnvironmentCreate,
    EnvironmentList,
    EnvironmentModify,
    EnvironmentRef,
    EnvironmentResourceModify,
    ListEnvironments,
    UpdateEnvironment,
)
from services.contracts.subjects import LIFECYCLE, Lifecycle

router = APIRouter(prefix="/v2/{project_id}/cas/environments", tags=["environments"])


@router.post("", response_model=Environment, summary="Create an environment")
async def create_environment(project_id: str, body: EnvironmentCreate, request: Request):
    cmd = CreateEnvironment(**body.model_dump(), creator=principal(request).key_id)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.ENVIRONMENT_CREATE, cmd)


@router.get("", response_model=EnvironmentList, summary="Obtain all environments")
async def list_environments(project_id: str, query: Annotated[ListEnvironments, Query()], request: Request):
    return await forward(request, project_id, LIFECYCLE, Lifecycle.ENVIRONMENT_LIST, query)


@router.get("/{environment_id}", response_model=Environment, summary="Obtain environment details")
async def show_environment(project_id: str, environment_id: str, request: Request):
    cmd = EnvironmentRef(environment_id=environment_id)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.ENVIRONMENT_GET, cmd)


@router.put("/{environment_id}", response_model=Environment, summary="Modify an environment")
async def change_environment(project_id: str, environment_id: str, body: EnvironmentModify, request: Request):
    cmd = UpdateEnvironment(environment_id=environment_id, body=body)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.ENVIRONMENT_UPDATE, cmd)


@router.patch("/{environment_id}/resources", response_model=Environment, summary="Modify environment resources")
async def change_environment_resources(project_id: str, environment_id: str, body: EnvironmentResourceModify,
                                       request: Request):
    cmd = ChangeEnvironmentResources(environment_id=environment_id, body=body)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.ENVIRONMENT_CHANGE_RESOURCES, cmd)


@router.delete("/{environment_id}", status_code=204, summary="Delete an environment")
async def delete_environment(project_id: str, environment_id: str, request: Request):
    cmd = EnvironmentRef(environment_id=environment_id)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.ENVIRONMENT_DELETE, cmd)
