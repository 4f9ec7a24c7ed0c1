"""/v4/{project_id}/registry: the Service-Center v4 compatible registry (answered by the registry worker).

The edge stays thin: it decodes the JSON body (invalid JSON -> 400 + 400001, as Service-Center),
passes path and query values and the decoded body through as plain strings, and maps the
worker's reply to HTTP: ``status``, ``headers`` (``X-Resource-Revision``, ``X-Schema-Summary``,
``Deprecation``), the body – or none: Service-Center answers its writes 200 with an empty body
and ``rev`` matches with 304 and an empty body. Every error has Service-Center's shape
``{"errorCode", "errorMessage", "detail"}`` (api_edge/error_responses.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from api_edge.route_commands import sends
from api_edge.routers.forwarding import forward
from services.contracts.registry import (
    BatchFindCommand,
    BatchFindInstancesRequest,
    CreateDependenciesRequest,
    CreateServiceCommand,
    CreateServiceRequest,
    DeleteServiceCommand,
    DeleteServicesCommand,
    DeleteServicesRequest,
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
    RegisterInstanceCommand,
    RegisterInstanceRequest,
    SchemaRefCommand,
    ServiceRefCommand,
    UpdateInstancePropertiesCommand,
    UpdateInstanceStatusCommand,
    UpdatePropertiesRequest,
    UpdateServicePropertiesCommand,
)
from services.contracts.registry_errors import invalid_params
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry.revision import CONSUMER_ID_HEADER

router = APIRouter(prefix="/v4/{project_id}/registry", tags=["registry (Service-Center v4)"])

_JSON = "application/json"
# a query value passed on as it is (the worker checks it), absent = None
QueryText = Annotated[str | None, Query()]


async def _json_body(request: Request) -> Any:
    """The decoded JSON body (None when empty); invalid JSON is Service-Center's 400001."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_params(f"Unmarshal error: {exc}") from None


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
    return await forward(request, project_id, CreateServiceCommand(body=await _json_body(request)))


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
    return await forward(request, project_id, RegisterInstanceCommand(service_id=service_id, body=await _json_body(request)))


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
