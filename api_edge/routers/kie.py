"""/v1/{project}/kie: ServiceComb-Kie v1 (answered by the config worker, workers/config/kie_kvs.py),
the routes of apache/servicecomb-kie ``server/resource/v1/kv_resource.go`` L362-505 and
``history_resource.go`` L125-143:

| call | answer |
|---|---|
| ``POST /v1/{project}/kie/kv`` ``{"key", "value", "value_type", "labels", "status"}`` | 200, the KV |
| ``GET /v1/{project}/kie/kv?key=&label=k:v&match=exact&status=&offset=&limit=&revision=&wait=`` | 200 ``{"total", "data"}`` + ``X-Kie-Revision``, or 304 |
| ``GET /v1/{project}/kie/kv/{kv_id}`` | 200, the KV |
| ``PUT /v1/{project}/kie/kv/{kv_id}`` ``{"value", "status"}`` | 200, the KV |
| ``DELETE /v1/{project}/kie/kv/{kv_id}`` | 204 (404001 when missing) |
| ``DELETE /v1/{project}/kie/kv`` ``{"ids": [...]}`` | 204 |
| ``GET /v1/{project}/kie/revision/{kv_id}?offset=&limit=`` | 200 ``{"total", "data"}``: the KV's revisions |

Errors have Kie's shape ``{"errorCode": "400001", "errorMessage": "invalid parameter(s)", "detail": ...}``
(api_edge/error_responses.py). The query parameters are parsed here (``label``, ``wait``,
``revision``, ``offset``/``limit`` as Kie does, services/domain/config/kie.py), so bad ones never
reach the bus. A list with ``wait`` waits for the worker up to ``wait`` plus the edge's request
timeout. The routes sit under the edge's authentication (api_edge/auth_middleware.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from api_edge.route_commands import sends
from api_edge.routers.forwarding import forward
from services.contracts.errors import ServiceError
from services.contracts.kie import (
    CreateKV,
    DeleteKV,
    DeleteKVs,
    GetKV,
    KVCreateBody,
    KVDeleteBody,
    KVDoc,
    KVHistory,
    KVList,
    KVUpdateBody,
    ListKVs,
    UpdateKV,
)
from services.contracts.subjects import CONFIG, Config
from services.domain.config import kie as rules


def _authenticated(request: Request) -> None:
    """Fail closed: a Kie route answers only a request the auth middleware let through."""
    if "principal" not in request.scope.get("state", {}):
        raise ServiceError(401, "", "request not authenticated")


router = APIRouter(prefix="/v1/{project_id}/kie", tags=["kie"], dependencies=[Depends(_authenticated)])

_NO_CONTENT = {204: {"description": "done: no body"}}


@router.post("/kv", response_model=KVDoc, summary="Create a key-value (ServiceComb-Kie)")
@sends(CONFIG, Config.KV_CREATE)
async def create_kv(project_id: str, body: KVCreateBody, request: Request):
    return await forward(request, project_id, CreateKV(kv=body))


@router.get(
    "/kv",
    response_model=KVList,
    summary="List key-values by key, labels and status; long-poll with wait and revision",
    responses={304: {"description": "revision is the current one, or nothing changed within wait: no body"}},
)
@sends(CONFIG, Config.KV_LIST)
async def list_kvs(
    project_id: str,
    request: Request,
    key: str = Query(default=""),
    label: list[str] = Query(default_factory=list, description="k:v, repeated: every label must be on the KV"),
    match: str = Query(default="", description="exact: the KV's labels are exactly the query's"),
    status: str = Query(default=""),
    offset: str = Query(default=""),
    limit: str = Query(default=""),
    revision: str = Query(default="", description="the X-Kie-Revision of the last answer"),
    wait: str = Query(default="", description="a duration (5s, 100ms; at most 5m) to wait for a change"),
):
    labels = rules.parse_labels(label)
    off, lim = rules.parse_pagination(offset, limit)
    wait_seconds = rules.parse_wait(wait)
    cmd = ListKVs(
        key=key,
        labels=labels,
        match=rules.match_of(match),
        status=status,  # type: ignore[arg-type]  # validated by the model
        offset=off,
        limit=lim,
        revision=rules.parse_revision(revision),
        wait_seconds=wait_seconds,
    )
    rules.check_wait_request(cmd.key, cmd.wait_seconds)
    if wait_seconds is None:
        return await forward(request, project_id, cmd)
    return await forward(request, project_id, cmd, timeout=wait_seconds + request.app.state.bus.timeout)


@router.get("/kv/{kv_id}", response_model=KVDoc, summary="Get a key-value by id")
@sends(CONFIG, Config.KV_GET)
async def get_kv(project_id: str, kv_id: str, request: Request):
    return await forward(request, project_id, GetKV(id=kv_id))


@router.put("/kv/{kv_id}", response_model=KVDoc, summary="Update a key-value's value and/or status")
@sends(CONFIG, Config.KV_UPDATE)
async def update_kv(project_id: str, kv_id: str, body: KVUpdateBody, request: Request):
    return await forward(request, project_id, UpdateKV(id=kv_id, kv=body))


@router.delete("/kv/{kv_id}", status_code=204, summary="Delete a key-value by id", responses=_NO_CONTENT)
@sends(CONFIG, Config.KV_DELETE)
async def delete_kv(project_id: str, kv_id: str, request: Request):
    return await forward(request, project_id, DeleteKV(id=kv_id))


@router.delete("/kv", status_code=204, summary="Delete key-values by ids", responses=_NO_CONTENT)
@sends(CONFIG, Config.KV_DELETE_MANY)
async def delete_kvs(project_id: str, body: KVDeleteBody, request: Request):
    return await forward(request, project_id, DeleteKVs(ids=body.ids))


@router.get("/revision/{kv_id}", response_model=KVList, summary="The revisions of a key-value, newest first")
@sends(CONFIG, Config.KV_HISTORY)
async def kv_history(project_id: str, kv_id: str, request: Request, offset: str = Query(default=""), limit: str = Query(default="")):
    off, lim = rules.parse_pagination(offset, limit)
    return await forward(request, project_id, KVHistory(id=kv_id, offset=off, limit=lim))
