"""/v2/{project_id}/cas/applications/{application_id}/components/{component_id}/instances"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api_edge.routers.forwarding import forward, principal
from services.contracts.component_instances import (
    ActOnInstance,
    CreateInstance,
    DeleteInstance,
    Instance,
    InstanceAction,
    InstanceCreate,
    InstanceList,
    InstanceModify,
    InstanceRef,
    JobAccepted,
    ListInstances,
    ListSnapshots,
    SnapshotList,
    UpdateInstance,
)
from services.contracts.subjects import LIFECYCLE, Instances

router = APIRouter(
    prefix="/v2/{project_id}/cas/applications/{application_id}/components/{component_id}/instances",
    tags=["instances"],
)


class InstanceListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    offset: Annotated[int, Field(ge=0)] = 0
    order_by: Literal["create_time", "update_time", "name"] = "create_time"
    order: Literal["desc", "asc"] = "desc"


class SnapshotListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    offset: Annotated[int, Field(ge=0)] = 0
    snapshot_order_by: Literal["create_time", "version"] = "create_time"
    order: Literal["desc", "asc"] = "desc"


@router.post("", response_model=JobAccepted, summary="Create a component instance (deploys it asynchronously)")
async def create_instance(project_id: str, application_id: str, component_id: str, body: InstanceCreate,
                          request: Request):
    cmd = CreateInstance(application_id=application_id, component_id=component_id, body=body,
                         creator=principal(request).key_id)
    return await forward(request, project_id, LIFECYCLE, Instances.CREATE, cmd)


@router.get("", response_model=InstanceList, summary="Obtain all instances of a component")
async def list_instances(project_id: str, application_id: str, component_id: str,
                         query: Annotated[InstanceListQuery, Query()], request: Request):
    cmd = ListInstances(application_id=application_id, component_id=component_id, **query.model_dump())
    return await forward(request, project_id, LIFECYCLE, Instances.LIST, cmd)


@router.get("/{instance_id}", response_model=Instance, summary="Query instance details")
async def show_instance(project_id: str, application_id: str, component_id: str, instance_id: str,
                        request: Request):
    cmd = InstanceRef(application_id=application_id, component_id=component_id, instance_id=instance_id)
    return await forward(request, project_id, LIFECYCLE, Instances.GET, cmd)


@router.put("/{instance_id}", response_model=JobAccepted, summary="Modify a component instance (upgrade job)")
async def change_instance(project_id: str, application_id: str, component_id: str, instance_id: str,
                          body: InstanceModify, request: Request):
    cmd = UpdateInstance(application_id=application_id, component_id=component_id, instance_id=instance_id,
                         body=body, creator=principal(request).key_id)
    return await forward(request, project_id, LIFECYCLE, Instances.UPDATE, cmd)


@router.delete("/{instance_id}", response_model=JobAccepted,
               summary="Delete a component instance (force=true cancels a running job first)")
async def delete_instance(project_id: str, application_id: str, component_id: str, instance_id: str,
                          request: Request, force: bool = False):
    cmd = DeleteInstance(application_id=application_id, component_id=component_id, instance_id=instance_id,
                         force=force, creator=principal(request).key_id)
    return await forward(request, project_id, LIFECYCLE, Instances.DELETE, cmd)


@router.post("/{instance_id}/action", response_model=JobAccepted,
             summary="Perform an operation on a component instance: start, stop, restart, scale, rollback")
async def act_on_instance(project_id: str, application_id: str, component_id: str, instance_id: str,
                          body: InstanceAction, request: Request):
    cmd = ActOnInstance(application_id=application_id, component_id=component_id, instance_id=instance_id,
                        body=body, creator=principal(request).key_id)
    return await forward(request, project_id, LIFECYCLE, Instances.ACTION, cmd)


@router.get("/{instance_id}/snapshots", response_model=SnapshotList, summary="Obtain component instance snapshots")
async def list_snapshots(project_id: str, application_id: str, component_id: str, instance_id: str,
                         query: Annotated[SnapshotListQuery, Query()], request: Request):
    cmd = ListSnapshots(application_id=application_id, component_id=component_id, instance_id=instance_id,
                        **query.model_dump())
    return await forward(request, project_id, LIFECYCLE, Instances.SNAPSHOTS, cmd)
