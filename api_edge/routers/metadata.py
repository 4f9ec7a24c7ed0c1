"""GET /v2/{project_id}/cas/metadata/{runtimes,flavors,templates}"""

from __future__ import annotations

from fastapi import APIRouter, Request

from api_edge.route_commands import sends
from api_edge.routers.forwarding import forward
from services.contracts.metadata import ListFlavorsResponse, ListRuntimesResponse, ListTemplatesResponse
from services.contracts.subjects import LIFECYCLE, Lifecycle

router = APIRouter(prefix="/v2/{project_id}/cas/metadata", tags=["metadata"])


@router.get("/runtimes", response_model=ListRuntimesResponse, summary="Obtain all supported runtimes")
@sends(LIFECYCLE, Lifecycle.METADATA_RUNTIMES)
async def list_runtimes(project_id: str, request: Request):
    return await forward(request, project_id)


@router.get("/flavors", response_model=ListFlavorsResponse, summary="Obtain all supported flavors")
@sends(LIFECYCLE, Lifecycle.METADATA_FLAVORS)
async def list_flavors(project_id: str, request: Request):
    return await forward(request, project_id)


@router.get("/templates", response_model=ListTemplatesResponse, summary="Obtain all application templates")
@sends(LIFECYCLE, Lifecycle.METADATA_TEMPLATES)
async def list_templates(project_id: str, request: Request):
    return await forward(request, project_id)
