"""/v2/{project_id}/cas/applications"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api_edge.routers.forwarding import forward, principal
from services.contracts.applications import (
    Application,
    ApplicationCreate,
    ApplicationList,
    ApplicationModify,
    ApplicationRef,
    CreateApplication,
    ListApplications,
    UpdateApplication,
)
from services.contracts.subjects import LIFECYCLE, Lifecycle

router = APIRouter(prefix="/v2/{project_id}/cas/applications", tags=["applications"])


@router.post("", response_model=Application, summary="Create an application")
async def create_application(project_id: str, body: ApplicationCreate, request: Request):
    cmd = CreateApplication(**body.model_dump(), creator=principal(request).key_id)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.APPLICATION_CREATE, cmd)


@router.get("", response_model=ApplicationList, summary="Obtain all applications")
async def list_applications(project_id: str, query: Annotated[ListApplications, Query()], request: Request):
    return await forward(request, project_id, LIFECYCLE, Lifecycle.APPLICATION_LIST, query)


@router.get("/{application_id}", response_model=Application, summary="Obtain application details")
async def show_application(project_id: str, application_id: str, request: Request):
    cmd = ApplicationRef(application_id=application_id)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.APPLICATION_GET, cmd)


@router.put("/{application_id}", response_model=Application, summary="Modify an application")
async def change_application(project_id: str, application_id: str, body: ApplicationModify, request: Request):
    cmd = UpdateApplication(application_id=application_id, body=body)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.APPLICATION_UPDATE, cmd)


@router.delete("/{application_id}", status_code=204, summary="Delete an application (it must have no components)")
async def delete_application(project_id: str, application_id: str, request: Request):
    cmd = ApplicationRef(application_id=application_id)
    return await forward(request, project_id, LIFECYCLE, Lifecycle.APPLICATION_DELETE, cmd)
