"""/v3/{project_id}/configuration/items: the config center (answered by the config worker).

GET ``?dimensionsInfo=svc%40app%231.0.0[&keyFilter=regex][&revision=r]`` (header ``X-Environment``)
-> 200 ``{"<dimension>": {k: v}, ..., "revision": {"version": r}}`` or 304 with no body;
POST ``{"dimensionsInfo", "items"}`` and DELETE ``{"dimensionsInfo", "keys"}`` -> 200
``{"Result": "Success"}``. Failures have Service-Center's shape
``{"errorCode": "400001", "errorMessage": "Invalid parameter(s)", "detail": "..."}``.
The edge checks dimensionsInfo and keyFilter itself (so a bad one never reaches the bus); the
worker checks everything again.
"""
from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from api_edge.bus_client import reply_response
from api_edge.error_responses import error_response
from api_edge.routers.forwarding import forward
from services.contracts import errors
from services.contracts.config_items import DeleteConfigItems, QueryConfigItems, UpsertConfigItems, environment_of
from services.contracts.registry import (
    ConfigItemsResponse,
    ConfigItemsWriteResponse,
    CreateConfigItemsRequest,
    DeleteConfigItemsRequest,
)
from services.domain.registry import config_center as rules
from services.contracts.subjects import CONFIG, Config

router = APIRouter(prefix="/v3/{project_id}/configuration/items", tags=["config center"])

_ENV_HEADER = Header(default=None, alias=rules.ENVIRONMENT_HEADER)


@router.get("", response_model=ConfigItemsResponse, summary="Query configurations (CSE config center)",
            responses={304: {"description": "revision is the current one: no body"}})
async def query_items(project_id: str, request: Request,
                      dimensionsInfo: str | None = Query(default=None),
                      keyFilter: str | None = Query(default=None),
                      revision: str | None = Query(default=None),
                      x_environment: str | None = _ENV_HEADER):
    rules.parse_dimensions_info(dimensionsInfo)
    rules.compile_key_filter(keyFilter)
    cmd = QueryConfigItems(environment=environment_of(x_environment), dimensions_info=dimensionsInfo,
                           key_filter=keyFilter or None, revision=revision or None)
    path = request.url.path
    try:
        reply = await request.app.state.bus.request(project_id, CONFIG, Config.ITEM_QUERY, cmd)
    except errors.ServiceError as exc:
        return error_response(path, exc.status, exc.code, exc.message, exc.detail)
    if int(reply.get("status", 200)) == 304 and not reply.get("error"):
        return Response(status_code=304)
    return reply_response(path, reply)


@router.post("", response_model=ConfigItemsWriteResponse, summary="Create or update configurations")
async def upsert_items(project_id: str, body: CreateConfigItemsRequest, request: Request,
                       x_environment: str | None = _ENV_HEADER):
    rules.validate_create_items(body.dimensions_info, body.items)
    cmd = UpsertConfigItems(environment=environment_of(x_environment), dimensions_info=body.dimensions_info,
                            items=body.items)
    return await forward(request, project_id, CONFIG, Config.ITEM_UPSERT, cmd)


@router.delete("", response_model=ConfigItemsWriteResponse, summary="Delete configurations")
async def delete_items(project_id: str, body: DeleteConfigItemsRequest, request: Request,
                       x_environment: str | None = _ENV_HEADER):
    rules.validate_delete_items(body.dimensions_info, body.keys)
    cmd = DeleteConfigItems(environment=environment_of(x_environment), dimensions_info=body.dimensions_info,
                            keys=body.keys)
    return await forward(request, project_id, CONFIG, Config.ITEM_DELETE, cmd)
