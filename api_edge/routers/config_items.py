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

from api_edge.route_commands import sends
from api_edge.routers.forwarding import forward
from services.contracts.config_items import DeleteConfigItems, QueryConfigItems, UpsertConfigItems, environment_of
from services.contracts.registry import ConfigItemsResponse, ConfigItemsWriteResponse, CreateConfigItemsRequest, DeleteConfigItemsRequest
from services.contracts.subjects import CONFIG, Config
from services.domain.registry import config_center as rules

router = APIRouter(prefix="/v3/{project_id}/configuration/items", tags=["config center"])

_ENV_HEADER = Header(default=None, alias=rules.ENVIRONMENT_HEADER)


@router.get(
    "",
    response_model=ConfigItemsResponse,
    summary="Query configurations (CSE config center)",
    responses={304: {"description": "revision is the current one: no body"}},
)
@sends(CONFIG, Config.ITEM_QUERY)
async def query_items(
    project_id: str,
    request: Request,
    dimensionsInfo: str | None = Query(default=None),
    keyFilter: str | None = Query(default=None),
    revision: str | None = Query(default=None),
    x_environment: str | None = _ENV_HEADER,
):
    rules.parse_dimensions_info(dimensionsInfo)
    rules.compile_key_filter(keyFilter)
    cmd = QueryConfigItems(
        environment=environment_of(x_environment), dimensions_info=dimensionsInfo, key_filter=keyFilter or None, revision=revision or None
    )
    return await forward(request, project_id, cmd)


@router.post("", response_model=ConfigItemsWriteResponse, summary="Create or update configurations")
@sends(CONFIG, Config.ITEM_UPSERT)
async def upsert_items(project_id: str, body: CreateConfigItemsRequest, request: Request, x_environment: str | None = _ENV_HEADER):
    rules.validate_create_items(body.dimensions_info, body.items)
    environment = environment_of(x_environment)
    return await forward(request, project_id, UpsertConfigItems(environment=environment, **body.model_dump()))


@router.delete("", response_model=ConfigItemsWriteResponse, summary="Delete configurations")
@sends(CONFIG, Config.ITEM_DELETE)
async def delete_items(project_id: str, body: DeleteConfigItemsRequest, request: Request, x_environment: str | None = _ENV_HEADER):
    rules.validate_delete_items(body.dimensions_info, body.keys)
    environment = environment_of(x_environment)
    return await forward(request, project_id, DeleteConfigItems(environment=environment, **body.model_dump()))
