"""/v2/{project_id}/cas/applications/{application_id}/components"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api_edge.routers.forwarding import forward, principal
from services.contracts.components import (
    Component,
    ComponentCreate,
    ComponentList,
    ComponentListQuery,
    ComponentModify,
    ComponentOverviewList,
    ComponentRef,
    CreateComponent,
    DeleteComponent,
    ListComponents,
    UpdateComponent,
)
from services.domain.lifecycle import components as rules
from services.contracts.subjects import LIFECYCLE, Lifecycle

router = APIRouter(prefix="/v2/{project_id}/cas/applications/{application_id}/components", tags=["components"])


@router.post("", response_model=Component, summary="Create an application component")
async def create_component(project_id: str, application_id: str, body: ComponentCreate, request: Request):
    cmd = CreateComponent(application_id=application_id, body=body, creator=principal(request).key_id)
    rules.check_create(body)  # a rule violation is answered here, before anything is sent
    return await forward(request, project_id, LIFECYCLE, Lifecycle.COMPONENT_CREATE, cmd)


@router.get("", response_model=ComponentList, summary="Obtain all components of an application")
async def list_components(project_id: str, application_id: str, query: Annotated[ComponentListQuery, Query()],
                          request: Request):
    cmd = ListComponents(application_id=application_id, **query.model_dump())
    return await forward(request, project_id, LIFECYCLE, Lifecycle.COMPONENT_LIST, cmd)


@router.get("/overviews", response_model=ComponentOverviewList,
            summary="Obtain all components of an application with their instances")
async def list_component_overviews(project_id: str, application_id: str,
                                   query: Annotated[ComponentListQuery, Query()], request: Request):
    cmd = ListComponents(application_id=application_id, **query.model_dump())
    return await forward(request, project_id, LIFECYCLE, Lifecycle.COMPONENT_OVERVIEWS, cmd)


@router.get("/{component_id}", response_model=Component, summary="Obtain component details")
async def show_component(project_id: str, application_id: str, component_id: str, request: Request):
    cmd = ComponentRef(application_id=application_id, component_id=component_id)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.COMPONENT_GET, cmd)


@router.put("/{component_id}", response_model=Component, summary="Modify a component")
async def change_component(project_id: str, application_id: str, component_id: str, body: ComponentModify,
                           request: Request):
    cmd = UpdateComponent(application_id=application_id, component_id=component_id, body=body)
    rules.check_modify(body)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.COMPONENT_UPDATE, cmd)


@router.delete("/{component_id}", status_code=204, summary="Delete a component (it must have no instances)")
async def delete_component(project_id: str, application_id: str, component_id: str, request: Request,
                           force: bool = False):
    cmd = DeleteComponent(application_id=application_id, component_id=component_id, force=force)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.COMPONENT_DELETE, cmd)
