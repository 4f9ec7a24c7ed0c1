"""/v2/{project_id}/cas/applications/{application_id}/components/{component_id}/instances"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api_edge.route_commands import sends
from api_edge.routers.forwarding import creator, forward
from services.contracts import component_instances as contracts
from services.contracts.envelope import Offset
from services.contracts.subjects import LIFECYCLE, ComponentInstances

router = APIRouter(prefix="/v2/{project_id}/cas/applications/{application_id}/components/{component_id}/instances", tags=["instances"])


class InstanceListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    offset: Offset = 0
    order_by: Literal["create_time", "update_time", "name"] = "create_time"
    order: Literal["desc", "asc"] = "desc"


class SnapshotListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    offset: Offset = 0
    snapshot_order_by: Literal["create_time", "version"] = "create_time"
    order: Literal["desc", "asc"] = "desc"


def _at(application_id: str, component_id: str, instance_id: str | None = None) -> dict[str, str]:
    """The address fields of an instance command: the component's, and the instance's when given."""
    where = {"application_id": application_id, "component_id": component_id}
    return where if instance_id is None else {**where, "instance_id": instance_id}


# create is also answered by api_edge/raw_asgi_routes.py, before FastAPI's routing, with this builder
def create_command(application_id: str, component_id: str, body: contracts.InstanceCreate, caller: str) -> contracts.CreateInstance:
    return contracts.CreateInstance(**_at(application_id, component_id), body=body, creator=caller)


@router.post("", response_model=contracts.JobAccepted, summary="Create a component instance (deploys it asynchronously)")
@sends(LIFECYCLE, ComponentInstances.CREATE)
async def create_instance(project_id: str, application_id: str, component_id: str, body: contracts.InstanceCreate, request: Request):
    return await forward(request, project_id, create_command(application_id, component_id, body, creator(request)))


@router.get("", response_model=contracts.InstanceList, summary="Obtain all instances of a component")
@sends(LIFECYCLE, ComponentInstances.LIST)
async def list_instances(
    project_id: str, application_id: str, component_id: str, query: Annotated[InstanceListQuery, Query()], request: Request
):
    return await forward(request, project_id, contracts.ListInstances(**_at(application_id, component_id), **query.model_dump()))


@router.get("/{instance_id}", response_model=contracts.Instance, summary="Query instance details")
@sends(LIFECYCLE, ComponentInstances.GET)
async def show_instance(project_id: str, application_id: str, component_id: str, instance_id: str, request: Request):
    return await forward(request, project_id, contracts.InstanceRef(**_at(application_id, component_id, instance_id)))


@router.put("/{instance_id}", response_model=contracts.JobAccepted, summary="Modify a component instance (upgrade job)")
@sends(LIFECYCLE, ComponentInstances.UPDATE)
async def change_instance(
    project_id: str, application_id: str, component_id: str, instance_id: str, body: contracts.InstanceModify, request: Request
):
    cmd = contracts.UpdateInstance(**_at(application_id, component_id, instance_id), body=body, creator=creator(request))
    return await forward(request, project_id, cmd)


@router.delete(
    "/{instance_id}", response_model=contracts.JobAccepted, summary="Delete a component instance (force=true cancels a running job first)"
)
@sends(LIFECYCLE, ComponentInstances.DELETE)
async def delete_instance(project_id: str, application_id: str, component_id: str, instance_id: str, request: Request, force: bool = False):
    cmd = contracts.DeleteInstance(**_at(application_id, component_id, instance_id), force=force, creator=creator(request))
    return await forward(request, project_id, cmd)


@router.post(
    "/{instance_id}/action",
    response_model=contracts.JobAccepted,
    summary="Perform an operation on a component instance: start, stop, restart, scale, rollback",
)
@sends(LIFECYCLE, ComponentInstances.ACTION)
async def act_on_instance(
    project_id: str, application_id: str, component_id: str, instance_id: str, body: contracts.InstanceAction, request: Request
):
    cmd = contracts.ActOnInstance(**_at(application_id, component_id, instance_id), body=body, creator=creator(request))
    return await forward(request, project_id, cmd)


@router.get("/{instance_id}/snapshots", response_model=contracts.SnapshotList, summary="Obtain component instance snapshots")
@sends(LIFECYCLE, ComponentInstances.SNAPSHOTS)
async def list_snapshots(
    project_id: str,
    application_id: str,
    component_id: str,
    instance_id: str,
    query: Annotated[SnapshotListQuery, Query()],
    request: Request,
):
    cmd = contracts.ListSnapshots(**_at(application_id, component_id, instance_id), **query.model_dump())
    return await forward(request, project_id, cmd)
