"""/v4/{project_id}/registry: the Service-Center v4 compatible registry (answered by the registry worker).

The edge stays thin: it decodes the JSON body (invalid JSON -> 400 + 400001, as Service-Center),
passes path and query values and the decoded body through as plain strings, and maps the
worker's reply to HTTP: ``status``, ``headers`` (``X-Resource-Revision``, ``X-Schema-Summary``,
``Deprecation``), the body – or none: Service-Center answers its writes 200 with an empty body
and ``rev`` matches with 304 and an empty body. Every error has Service-Center's shape
``{"errorCode", "errorMessage", "detail"}`` (api_edge/error_responses.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from starlette.responses import Response

from api_edge.route_commands import Command, sends
from api_edge.routers.forwarding import forward
from services.contracts.registry import (
    AddTagsRequest,
    BatchFindCommand,
    BatchFindInstancesRequest,
    CreateDependenciesRequest,
    CreateServiceCommand,
    CreateServiceRequest,
    DeleteServiceCommand,
    DeleteServicesCommand,
    DeleteServicesRequest,
    DeleteTagsCommand,
    DependencyQueryCommand,
    ExistenceCommand,
    FindInstancesCommand,
    HeartbeatCommand,
    HeartbeatManyCommand,
    HeartbeatSetRequest,
    InstanceRefCommand,
    ListInstancesCommand,
    ListSchemasCommand,
    ListServicesCommand,
    ModifySchemaRequest,
    ModifySchemasRequest,
    PutDependenciesCommand,
    PutSchemaCommand,
    PutSchemasCommand,
    PutTagsCommand,
    RegisterInstanceCommand,
    RegisterInstanceRequest,
    SchemaRefCommand,
    ServiceRefCommand,
    UpdateInstancePropertiesCommand,
    UpdateInstanceStatusCommand,
    UpdateManyInstanceStatusCommand,
    UpdateManyInstanceStatusRequest,
    UpdatePropertiesRequest,
    UpdateServicePropertiesCommand,
    UpdateTagCommand,
)
from services.contracts.registry_errors import invalid_params
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry.revision import CONSUMER_ID_HEADER, DOMAIN_HEADER

router = APIRouter(prefix="/v4/{project_id}/registry", tags=["registry (Service-Center v4)"])

_JSON = "application/json"
# a query value passed on as it is (the worker checks it), absent = None
QueryText = Annotated[str | None, Query()]


def decode_json_body(raw: bytes) -> Any:
    """The decoded JSON body (None when empty); invalid JSON is Service-Center's 400001."""
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_params(f"Unmarshal error: {exc}") from None


async def _json_body(request: Request) -> Any:
    return decode_json_body(await request.body())


def _consumer_id(request: Request) -> str | None:
    return request.headers.get(CONSUMER_ID_HEADER)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI of a JSON body the route reads itself (``_json_body``; the worker validates it):
    ``model``'s schema with its definitions inlined. Documentation only, for clients and fuzzers:
    the request is handled exactly as before."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": _inline_refs(schema, defs)}}}}


# X-ConsumerId: the consumer asking (discovery records the dependency; read with _consumer_id)
_CONSUMER_PARAM = {"parameters": [{"name": CONSUMER_ID_HEADER, "in": "header", "required": False, "schema": {"type": "string"}}]}


# --- heartbeat and discovery first (routes are matched in order) ---------------------------------
# The two hottest calls: api_edge/raw_asgi_routes.py answers them before FastAPI's routing, with
# these same command builders and declared commands; these routes are the OpenAPI contract. They
# read query values without FastAPI's per-parameter dependency solving.
_FIND_PARAMS = [
    {"name": n, "in": "query", "required": n in ("appId", "serviceName"), "schema": {"type": "string"}}
    for n in ("appId", "serviceName", "version", "env", "tags", "rev")
] + _CONSUMER_PARAM["parameters"]


def heartbeat_command(service_id: str, instance_id: str) -> HeartbeatCommand:
    return HeartbeatCommand(service_id=service_id, instance_id=instance_id)


def find_command(query: Mapping[str, str], consumer_id: str | None) -> FindInstancesCommand:
    """Discovery's command from the query values, passed on as plain strings (the worker checks them)."""
    return FindInstancesCommand(
        app_id=query.get("appId"),
        service_name=query.get("serviceName"),
        version=query.get("version"),
        environment=query.get("env"),
        tags=query.get("tags"),
        rev=query.get("rev"),
        consumer_id=consumer_id,
    )


@router.put("/microservices/{service_id}/instances/{instance_id}/heartbeat", summary="Send a heartbeat")
@sends(REGISTRY, Registry.INSTANCE_HEARTBEAT)
async def heartbeat(project_id: str, service_id: str, instance_id: str, request: Request):
    return await forward(request, project_id, heartbeat_command(service_id, instance_id))


@router.get(
    "/instances", summary="Discover instances (version rules, X-ConsumerId, rev -> 304)", openapi_extra={"parameters": _FIND_PARAMS}
)
@sends(REGISTRY, Registry.INSTANCE_FIND)
async def find_instances(project_id: str, request: Request):
    return await forward(request, project_id, find_command(request.query_params, _consumer_id(request)))


# --- micro-services --------------------------------------------------------------------------
@router.post("/microservices", summary="Create a micro-service", openapi_extra=_json_body_doc(CreateServiceRequest))
@sends(REGISTRY, Registry.SERVICE_CREATE)
async def create_service(project_id: str, request: Request):
    domain = request.headers.get(DOMAIN_HEADER) or None
    return await forward(request, project_id, CreateServiceCommand(domain=domain, body=await _json_body(request)))


@router.get("/microservices", summary="Query micro-services (optional filters: appId, serviceName, version, env)")
@sends(REGISTRY, Registry.SERVICE_LIST)
async def list_services(
    project_id: str,
    request: Request,
    appId: QueryText = None,
    serviceName: QueryText = None,
    version: QueryText = None,
    env: QueryText = None,
    withShared: QueryText = None,
):
    cmd = ListServicesCommand(app_id=appId, service_name=serviceName, version=version, environment=env, with_shared=withShared)
    return await forward(request, project_id, cmd)


@router.delete("/microservices", summary="Delete micro-services in a batch", openapi_extra=_json_body_doc(DeleteServicesRequest))
@sends(REGISTRY, Registry.SERVICE_DELETE_MANY)
async def delete_services(project_id: str, request: Request):
    return await forward(request, project_id, DeleteServicesCommand(body=await _json_body(request)))


@router.get("/microservices/{service_id}", summary="Query a micro-service")
@sends(REGISTRY, Registry.SERVICE_GET)
async def get_service(project_id: str, service_id: str, request: Request):
    return await forward(request, project_id, ServiceRefCommand(service_id=service_id))


@router.delete("/microservices/{service_id}", summary="Delete a micro-service (force=true deregisters its instances)")
@sends(REGISTRY, Registry.SERVICE_DELETE)
async def delete_service(project_id: str, service_id: str, request: Request, force: QueryText = None):
    return await forward(request, project_id, DeleteServiceCommand(service_id=service_id, force=force))


@router.put(
    "/microservices/{service_id}/properties",
    summary="Replace a micro-service's properties",
    openapi_extra=_json_body_doc(UpdatePropertiesRequest),
)
@sends(REGISTRY, Registry.SERVICE_UPDATE_PROPERTIES)
async def update_service_properties(project_id: str, service_id: str, request: Request):
    cmd = UpdateServicePropertiesCommand(service_id=service_id, body=await _json_body(request))
    return await forward(request, project_id, cmd)


@router.get("/existence", summary="Query the unique serviceId of a service, or a schema's summary")
@sends(REGISTRY, Registry.SERVICE_EXISTENCE)
async def existence(
    project_id: str,
    request: Request,
    type: QueryText = None,
    env: QueryText = None,
    appId: QueryText = None,
    serviceName: QueryText = None,
    version: QueryText = None,
    serviceId: QueryText = None,
    schemaId: QueryText = None,
    service_id: QueryText = None,
    schema_id: QueryText = None,
):
    cmd = ExistenceCommand(
        type=type,
        environment=env,
        app_id=appId,
        service_name=serviceName,
        version=version,
        service_id=serviceId if serviceId is not None else service_id,
        schema_id=schemaId if schemaId is not None else schema_id,
    )
    return await forward(request, project_id, cmd)


# --- tags (Service-Center server/resource/disco/service_resource.go lines 52-55) ------------------
@router.post("/microservices/{service_id}/tags", summary="Replace a micro-service's tags", openapi_extra=_json_body_doc(AddTagsRequest))
@sends(REGISTRY, Registry.TAG_PUT_MANY)
async def put_tags(project_id: str, service_id: str, request: Request):
    return await forward(request, project_id, PutTagsCommand(service_id=service_id, body=await _json_body(request)))


@router.get("/microservices/{service_id}/tags", summary="Query a micro-service's tags")
@sends(REGISTRY, Registry.TAG_LIST)
async def list_tags(project_id: str, service_id: str, request: Request):
    return await forward(request, project_id, ServiceRefCommand(service_id=service_id))


@router.put("/microservices/{service_id}/tags/{key}", summary="Change an existing tag's value (?value=)")
@sends(REGISTRY, Registry.TAG_UPDATE)
async def update_tag(project_id: str, service_id: str, key: str, request: Request, value: QueryText = None):
    return await forward(request, project_id, UpdateTagCommand(service_id=service_id, key=key, value=value))


@router.delete("/microservices/{service_id}/tags/{keys}", summary="Delete tags (comma-separated keys)")
@sends(REGISTRY, Registry.TAG_DELETE)
async def delete_tags(project_id: str, service_id: str, keys: str, request: Request):
    return await forward(request, project_id, DeleteTagsCommand(service_id=service_id, keys=keys))


# --- schemas -----------------------------------------------------------------------------------
@router.get("/microservices/{service_id}/schemas", summary="Query all schemas of a micro-service")
@sends(REGISTRY, Registry.SCHEMA_LIST)
async def list_schemas(project_id: str, service_id: str, request: Request, withSchema: QueryText = None):
    return await forward(request, project_id, ListSchemasCommand(service_id=service_id, with_schema=withSchema))


@router.post(
    "/microservices/{service_id}/schemas",
    summary="Replace a micro-service's schemas in a batch",
    openapi_extra=_json_body_doc(ModifySchemasRequest),
)
@sends(REGISTRY, Registry.SCHEMA_PUT_MANY)
async def put_schemas(project_id: str, service_id: str, request: Request):
    return await forward(request, project_id, PutSchemasCommand(service_id=service_id, body=await _json_body(request)))


@router.get("/microservices/{service_id}/schemas/{schema_id}", summary="Query a schema")
@sends(REGISTRY, Registry.SCHEMA_GET)
async def get_schema(project_id: str, service_id: str, schema_id: str, request: Request):
    return await forward(request, project_id, SchemaRefCommand(service_id=service_id, schema_id=schema_id))


@router.put(
    "/microservices/{service_id}/schemas/{schema_id}",
    summary="Create or modify a schema",
    openapi_extra=_json_body_doc(ModifySchemaRequest),
)
@sends(REGISTRY, Registry.SCHEMA_PUT)
async def put_schema(project_id: str, service_id: str, schema_id: str, request: Request):
    cmd = PutSchemaCommand(service_id=service_id, schema_id=schema_id, body=await _json_body(request))
    return await forward(request, project_id, cmd)


@router.delete("/microservices/{service_id}/schemas/{schema_id}", summary="Delete a schema")
@sends(REGISTRY, Registry.SCHEMA_DELETE)
async def delete_schema(project_id: str, service_id: str, schema_id: str, request: Request):
    return await forward(request, project_id, SchemaRefCommand(service_id=service_id, schema_id=schema_id))


# --- dependencies ------------------------------------------------------------------------------
@router.put(
    "/dependencies",
    summary="Create dependencies (replace the consumers' provider lists)",
    openapi_extra=_json_body_doc(CreateDependenciesRequest),
)
@sends(REGISTRY, Registry.DEPENDENCY_PUT)
async def put_dependencies(project_id: str, request: Request):
    return await forward(request, project_id, PutDependenciesCommand(body=await _json_body(request), override=True))


@router.post("/dependencies", summary="Add dependencies", openapi_extra=_json_body_doc(CreateDependenciesRequest))
@sends(REGISTRY, Registry.DEPENDENCY_PUT)
async def add_dependencies(project_id: str, request: Request):
    return await forward(request, project_id, PutDependenciesCommand(body=await _json_body(request), override=False))


@router.get("/microservices/{service_id}/providers", summary="Query all providers of a consumer")
@sends(REGISTRY, Registry.DEPENDENCY_PROVIDERS)
async def providers(project_id: str, service_id: str, request: Request, noSelf: QueryText = None, sameDomain: QueryText = None):
    return await _dependency_query(request, project_id, service_id, noSelf, sameDomain)


@router.get("/microservices/{service_id}/consumers", summary="Query all consumers of a provider")
@sends(REGISTRY, Registry.DEPENDENCY_CONSUMERS)
async def consumers(project_id: str, service_id: str, request: Request, noSelf: QueryText = None, sameDomain: QueryText = None):
    return await _dependency_query(request, project_id, service_id, noSelf, sameDomain)


async def _dependency_query(request: Request, project_id: str, service_id: str, no_self: str | None, same_domain: str | None) -> Response:
    """providers and consumers: the same query of the dependency graph, in either direction."""
    return await forward(request, project_id, DependencyQueryCommand(service_id=service_id, no_self=no_self, same_domain=same_domain))


# --- instances -----------------------------------------------------------------------------------
@router.post("/microservices/{service_id}/instances", summary="Register an instance", openapi_extra=_json_body_doc(RegisterInstanceRequest))
@sends(REGISTRY, Registry.INSTANCE_REGISTER)
async def register_instance(project_id: str, service_id: str, request: Request):
    return await forward(request, project_id, register_command(service_id, await request.body()))


def register_command(service_id: str, raw_body: bytes) -> RegisterInstanceCommand:
    """Registration's command from the body as received (api_edge/raw_asgi_routes.py builds it too)."""
    return RegisterInstanceCommand(service_id=service_id, body=decode_json_body(raw_body))


@router.get("/microservices/{service_id}/instances", summary="Query a micro-service's instances", openapi_extra=_CONSUMER_PARAM)
@sends(REGISTRY, Registry.INSTANCE_LIST)
async def list_instances(project_id: str, service_id: str, request: Request, tags: QueryText = None, rev: QueryText = None):
    cmd = ListInstancesCommand(service_id=service_id, consumer_id=_consumer_id(request), tags=tags, rev=rev)
    return await forward(request, project_id, cmd)


@router.get("/microservices/{service_id}/instances/{instance_id}", summary="Query an instance", openapi_extra=_CONSUMER_PARAM)
@sends(REGISTRY, Registry.INSTANCE_GET)
async def get_instance(project_id: str, service_id: str, instance_id: str, request: Request, rev: QueryText = None):
    cmd = InstanceRefCommand(service_id=service_id, instance_id=instance_id, consumer_id=_consumer_id(request), rev=rev)
    return await forward(request, project_id, cmd)


@router.delete("/microservices/{service_id}/instances/{instance_id}", summary="Deregister an instance")
@sends(REGISTRY, Registry.INSTANCE_DELETE)
async def delete_instance(project_id: str, service_id: str, instance_id: str, request: Request):
    return await forward(request, project_id, InstanceRefCommand(service_id=service_id, instance_id=instance_id))


@router.put(
    "/microservices/{service_id}/instances/{instance_id}/properties",
    summary="Replace an instance's properties",
    openapi_extra=_json_body_doc(UpdatePropertiesRequest),
)
@sends(REGISTRY, Registry.INSTANCE_UPDATE_PROPERTIES)
async def update_instance_properties(project_id: str, service_id: str, instance_id: str, request: Request):
    cmd = UpdateInstancePropertiesCommand(service_id=service_id, instance_id=instance_id, body=await _json_body(request))
    return await forward(request, project_id, cmd)


@router.put("/microservices/{service_id}/instances/{instance_id}/status", summary="Change an instance's status")
@sends(REGISTRY, Registry.INSTANCE_UPDATE_STATUS)
async def update_instance_status(project_id: str, service_id: str, instance_id: str, request: Request, value: QueryText = None):
    cmd = UpdateInstanceStatusCommand(service_id=service_id, instance_id=instance_id, value=value)
    return await forward(request, project_id, cmd)


@router.put(
    "/instances/status",
    summary="Change the status of every instance matching properties",
    openapi_extra=_json_body_doc(UpdateManyInstanceStatusRequest),
)
@sends(REGISTRY, Registry.INSTANCE_UPDATE_STATUS_MANY)
async def update_many_status(project_id: str, request: Request):
    return await forward(request, project_id, UpdateManyInstanceStatusCommand(body=await _json_body(request)))


@router.put("/heartbeats", summary="Send heartbeats of several instances", openapi_extra=_json_body_doc(HeartbeatSetRequest))
@sends(REGISTRY, Registry.INSTANCE_HEARTBEAT_MANY)
async def heartbeats(project_id: str, request: Request):
    return await forward(request, project_id, HeartbeatManyCommand(body=await _json_body(request)))


@router.post(
    "/instances/action",
    summary="Batch discovery (type=query)",
    openapi_extra={**_json_body_doc(BatchFindInstancesRequest), **_CONSUMER_PARAM},
)
@sends(REGISTRY, Registry.INSTANCE_FIND_MANY)
async def batch_find(project_id: str, request: Request, type: QueryText = None):
    cmd = BatchFindCommand(type=type, consumer_id=_consumer_id(request), body=await _json_body(request))
    return await forward(request, project_id, cmd)


# --- the WebSocket heartbeat (go-chassis sc-client WSHeartbeat, "ping-pong" mode) --------------------
# Service-Center HEAD (983f3f39) server/rest/controller/v4/instance_watcher.go lines 33, 47-52, 79-90
# and server/service/heartbeat/websocket.go: GET .../instances/{iid}/heartbeat upgraded to a
# WebSocket; an instance that does not exist gets a close frame 4001 "heartbeat reporting failed
# because the instance does not exist" (cari discovery/error.go line 24
# ErrWebsocketInstanceNotExists; sc-client client.go lines 810-843 then registers again); while
# the connection lives, Service-Center pings every 30 s and renews the lease on each pong; what
# the client sends is read and dropped. openstage: the ASGI server answers the pings and closes a
# connection whose pongs stop (ASGI does not show pongs to the app), so the edge renews the lease
# itself while the connection lives, every ``healthCheck.interval`` of the instance (at most
# 30 s), with the same heartbeat command as PUT .../heartbeat.
WS_INSTANCE_GONE = 4001
WS_INSTANCE_GONE_TEXT = "heartbeat reporting failed because the instance does not exist"
WS_MAX_PERIOD = 30.0
_HEARTBEAT = Command(REGISTRY, Registry.INSTANCE_HEARTBEAT)
_INSTANCE_GET = Command(REGISTRY, Registry.INSTANCE_GET)
log = logging.getLogger("openstage.edge.registry")


def ws_heartbeat_period(instance: Mapping[str, Any] | None) -> float:
    """Seconds between two lease renewals of a WebSocket heartbeat: the instance's push interval,
    1 s at least, 30 s (Service-Center's ping period) at most."""
    interval = ((instance or {}).get("healthCheck") or {}).get("interval") or WS_MAX_PERIOD
    try:
        return min(max(float(interval), 1.0), WS_MAX_PERIOD)
    except (TypeError, ValueError):
        return WS_MAX_PERIOD


@router.websocket("/microservices/{service_id}/instances/{instance_id}/heartbeat", name="Heartbeat over a WebSocket")
async def heartbeat_socket(websocket: WebSocket, project_id: str, service_id: str, instance_id: str):
    bus = websocket.app.state.bus
    await websocket.accept()

    async def beat() -> bool:
        """One renewal; False when the instance is gone (the close frame is sent)."""
        answer = await bus.request(project_id, _HEARTBEAT, heartbeat_command(service_id, instance_id))
        if answer.status == 400 and answer.error is not None and answer.error.error_code == "400017":
            with contextlib.suppress(Exception):
                await websocket.close(code=WS_INSTANCE_GONE, reason=WS_INSTANCE_GONE_TEXT)
            return False
        if answer.status != 200:  # the registry is not answering now: keep the connection, try again
            log.warning("WebSocket heartbeat of %s/%s/%s: %s", project_id, service_id, instance_id, answer.error)
        return True

    try:
        if not await beat():
            return
        got = await bus.request(project_id, _INSTANCE_GET, InstanceRefCommand(service_id=service_id, instance_id=instance_id))
        period = ws_heartbeat_period((got.result or {}).get("instance") if got.status == 200 and isinstance(got.result, dict) else None)
        reader = asyncio.ensure_future(websocket.receive())
        try:
            while True:
                done, _ = await asyncio.wait({reader}, timeout=period)
                if reader in done:
                    if reader.result()["type"] == "websocket.disconnect":
                        return
                    reader = asyncio.ensure_future(websocket.receive())  # the client's messages are dropped
                elif not await beat():
                    return
        finally:
            reader.cancel()
    except WebSocketDisconnect:
        return
