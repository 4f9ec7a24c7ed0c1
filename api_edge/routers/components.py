"""/v2/{project_id}/cas/applications/{application_id}/components"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api_edge.route_commands import sends
from api_edge.routers.forwarding import creator, forward
from services.contracts import components as contracts
from services.contracts.subjects import LIFECYCLE, Lifecycle
from services.domain.lifecycle import components as rules

router = APIRouter(prefix="/v2/{project_id}/cas/applications/{application_id}/components", tags=["components"])


# create is also answered by api_edge/raw_asgi_routes.py, before FastAPI's routing, with this builder
def create_command(application_id: str, body: contracts.ComponentCreate, caller: str) -> contracts.CreateComponent:
    cmd = contracts.CreateComponent(application_id=application_id, body=body, creator=caller)
    rules.check_create(body)  # a rule violation is answered here, before anything is sent
    return cmd


@router.post("", response_model=contracts.Component, summary="Create an application component")
@sends(LIFECYCLE, Lifecycle.COMPONENT_CREATE)
async def create_component(project_id: str, application_id: str, body: contracts.ComponentCreate, request: Request):
    return await forward(request, project_id, create_command(application_id, body, creator(request)))


@router.get("", response_model=contracts.ComponentList, summary="Obtain all components of an application")
@sends(LIFECYCLE, Lifecycle.COMPONENT_LIST)
async def list_components(project_id: str, application_id: str, query: Annotated[contracts.ComponentListQuery, Query()], request: Request):
    return await forward(request, project_id, contracts.ListComponents(application_id=application_id, **query.model_dump()))


@router.get(
    "/overviews", response_model=contracts.ComponentOverviewList, summary="Obtain all components of an application with their instances"
)
@sends(LIFECYCLE, Lifecycle.COMPONENT_OVERVIEWS)
async def list_component_overviews(
    project_id: str, application_id: str, query: Annotated[contracts.ComponentListQuery, Query()], request: Request
):
    return await forward(request, project_id, contracts.ListComponents(application_id=application_id, **query.model_dump()))


@router.get("/{component_id}", response_model=contracts.Component, summary="Obtain component details")
@sends(LIFECYCLE, Lifecycle.COMPONENT_GET)
async def show_component(project_id: str, application_id: str, component_id: str, request: Request):
    return await forward(request, project_id, contracts.ComponentRef(application_id=application_id, component_id=component_id))


@router.put("/{component_id}", response_model=contracts.Component, summary="Modify a component")
@sends(LIFECYCLE, Lifecycle.COMPONENT_UPDATE)
async def change_component(project_id: str, application_id: str, component_id: str, body: contracts.ComponentModify, request: Request):
    cmd = contracts.UpdateComponent(application_id=application_id, component_id=component_id, body=body)
    rules.check_modify(body)
    return await forward(request, project_id, cmd)


@router.delete(
    "/{component_id}", status_code=204, summary="Delete a component (one with instances only with force=true, which deletes them first)"
)
@sends(LIFECYCLE, Lifecycle.COMPONENT_DELETE)
async def delete_component(project_id: str, application_id: str, component_id: str, request: Request, force: bool = False):
    cmd = contracts.DeleteComponent(application_id=application_id, component_id=component_id, force=force, creator=creator(request))
    return await forward(request, project_id, cmd)
