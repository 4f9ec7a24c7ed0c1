"""/v2/{project_id}/cas/applications"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api_edge.route_commands import sends
from api_edge.routers.forwarding import creator, forward
from services.contracts import applications as contracts
from services.contracts.subjects import LIFECYCLE, Lifecycle

router = APIRouter(prefix="/v2/{project_id}/cas/applications", tags=["applications"])


# create is also answered by api_edge/raw_asgi_routes.py, before FastAPI's routing, with this builder
def create_command(body: contracts.ApplicationCreate, caller: str) -> contracts.CreateApplication:
    return contracts.CreateApplication(**body.model_dump(), creator=caller)


@router.post("", response_model=contracts.Application, summary="Create an application")
@sends(LIFECYCLE, Lifecycle.APPLICATION_CREATE)
async def create_application(project_id: str, body: contracts.ApplicationCreate, request: Request):
    return await forward(request, project_id, create_command(body, creator(request)))


@router.get("", response_model=contracts.ApplicationList, summary="Obtain all applications")
@sends(LIFECYCLE, Lifecycle.APPLICATION_LIST)
async def list_applications(project_id: str, query: Annotated[contracts.ListApplications, Query()], request: Request):
    return await forward(request, project_id, query)


@router.get("/{application_id}", response_model=contracts.Application, summary="Obtain application details")
@sends(LIFECYCLE, Lifecycle.APPLICATION_GET)
async def show_application(project_id: str, application_id: str, request: Request):
    return await forward(request, project_id, contracts.ApplicationRef(application_id=application_id))


@router.put("/{application_id}", response_model=contracts.Application, summary="Modify an application")
@sends(LIFECYCLE, Lifecycle.APPLICATION_UPDATE)
async def change_application(project_id: str, application_id: str, body: contracts.ApplicationModify, request: Request):
    return await forward(request, project_id, contracts.UpdateApplication(application_id=application_id, body=body))


@router.delete("/{application_id}", status_code=204, summary="Delete an application (it must have no components)")
@sends(LIFECYCLE, Lifecycle.APPLICATION_DELETE)
async def delete_application(project_id: str, application_id: str, request: Request):
    return await forward(request, project_id, contracts.ApplicationRef(application_id=application_id))
