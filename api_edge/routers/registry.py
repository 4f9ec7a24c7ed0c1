"""/v4/{project_id}/registry: the Service-Center v4 compatible registry (answered by the registry worker).

The edge stays thin: it decodes the JSON body (invalid JSON -> 400 + 400001, as Service-Center),
passes path and query values and the decoded body through as plain strings, and maps the
worker's reply to HTTP: ``status``, ``headers`` (``X-Resource-Revision``, ``X-Schema-Summary``,
``Deprecation``), the body – or none: Service-Center answers its writes 200 with an empty body
and ``rev`` matches with 304 and an empty body. Every error has Service-Center's shape
``{"errorCode", "errorMessage", "detail"}`` (api_edge/error_responses.py)."""
from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from api_edge.error_responses import error_response
from services.contracts import errors
from services.contracts.registry import (
    BatchFindCommand,
    BatchFindInstancesRequest,
    CreateDependenciesRequest,
    CreateServiceRequest,
    DeleteServicesRequest,
    HeartbeatSetRequest,
    ModifySchemaRequest,
    ModifySchemasRequest,
    RegisterInstanceRequest,
    UpdatePropertiesRequest,
    CreateServiceCommand,
    DeleteServiceCommand,
    DeleteServicesCommand,
    DependencyQueryCommand,
    ExistenceCommand,
    HeartbeatManyCommand,
    InstanceRefCommand,
    ListInstancesCommand,
    ListSchemasCommand,
    ListServicesCommand,
    PutDependenciesCommand,
    PutSchemaCommand,
    PutSchemasCommand,
    RegisterInstanceCommand,
    SchemaRefCommand,
    ServiceRefCommand,
    UpdateInstancePropertiesCommand,
    UpdateInstanceStatusCommand,
    UpdateServicePropertiesCommand,
)
from services.contracts.registry_errors import invalid_params
from services.domain.registry.revision import CONSUMER_ID_HEADER
from services.contracts.subjects import REGISTRY, Registry

router = APIRouter(prefix="/v4/{project_id}/registry", tags=["registry (Service-Center v4)"])

_JSON = "application/json"


def _respond(path: str, reply: dict[str, Any]) -> Response:
    status = int(reply.get("status", 200))
    headers = reply.get("headers")
    err = reply.get("error")
    if err:
        return error_response(path, status, err.get("error_code"), err.get("error_msg", ""), err.get("detail", ""),
                              headers=headers)
    if status == 304:
        return Response(status_code=304, headers=headers)
    if "result" not in reply or reply["result"] is None:
        return Response(b"", status_code=status, headers=headers)
    return Response(orjson.dumps(reply["result"]), status_code=status, media_type=_JSON, headers=headers)


async def forward(request: Request, project_id: str, domain: str, action: str, cmd: BaseModel | bytes) -> Response:
    """Request the command (a model, or its JSON already encoded) and answer with the reply."""
    path = request.url.path
    try:
        reply = await request.app.state.bus.request(project_id, domain, action, cmd)
    except errors.ServiceError as exc:
        return error_response(path, exc.status, exc.code, exc.message, exc.detail)
    return _respond(path, reply)


async def _body(request: Request) -> Any:
    """The decoded JSON body (None when empty); invalid JSON is Service-Center's 400001."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_params(f"Unmarshal error: {exc}") from None


def _consumer(request: Request) -> str | None:
    return request.headers.get(CONSUMER_ID_HEADER)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI of a JSON body the route reads itself (``_body``; the worker validates it):
    ``model``'s schema with its definitions inlined. Documentation only, for clients and fuzzers:
    the request is handled exactly as before."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": _inline(schema, defs)}}}}


# X-ConsumerId: the consumer asking (discovery records the dependency; read with _consumer)
_CONSUMER_PARAM = {"parameters": [{"name": CONSUMER_ID_HEADER, "in": "header", "required": False,
                                   "schema": {"type": "string"}}]}


# --- hot paths first (routes are matched in order): heartbeat and discovery ----------------------
# They send the command JSON already encoded and read query values without FastAPI's per-parameter
# dependency solving; the worker answers them from memory.
_FIND_PARAMS = [{"name": n, "in": "query", "required": n in ("appId", "serviceName"), "schema": {"type": "string"}}
                for n in ("appId", "serviceName", "version", "env", "tags", "rev")] + _CONSUMER_PARAM["parameters"]


@router.put("/microservices/{service_id}/instances/{instance_id}/heartbeat", summary="Send a heartbeat")
async def heartbeat(project_id: str, service_id: str, instance_id: str, request: Request):
    cmd = orjson.dumps({"service_id": service_id, "instance_id": instance_id})
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_HEARTBEAT, cmd)


@router.get("/instances", summary="Discover instances (version rules, X-ConsumerId, rev -> 304)",
            openapi_extra={"parameters": _FIND_PARAMS})
async def find_instances(project_id: str, request: Request):
    q = request.query_params
    cmd = orjson.dumps({"app_id": q.get("appId"), "service_name": q.get("serviceName"), "version": q.get("version"),
                        "environment": q.get("env"), "tags": q.get("tags"), "rev": q.get("rev"),
                        "consumer_id": request.headers.get(CONSUMER_ID_HEADER)})
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_FIND, cmd)


# --- micro-services --------------------------------------------------------------------------
@router.post("/microservices", summary="Create a micro-service", openapi_extra=_body_doc(CreateServiceRequest))
async def create_service(project_id: str, request: Request):
    cmd = CreateServiceCommand(body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.SERVICE_CREATE, cmd)


@router.get("/microservices", summary="Query micro-services (optional filters: appId, serviceName, version, env)")
async def list_services(project_id: str, request: Request, appId: str | None = Query(None),
                        serviceName: str | None = Query(None), version: str | None = Query(None),
                        env: str | None = Query(None), withShared: str | None = Query(None)):
    cmd = ListServicesCommand(app_id=appId, service_name=serviceName, version=version, environment=env,
                              with_shared=withShared)
    return await forward(request, project_id, REGISTRY, Registry.SERVICE_LIST, cmd)


@router.delete("/microservices", summary="Delete micro-services in a batch",
               openapi_extra=_body_doc(DeleteServicesRequest))
async def delete_services(project_id: str, request: Request):
    cmd = DeleteServicesCommand(body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.SERVICE_DELETE_MANY, cmd)


@router.get("/microservices/{service_id}", summary="Query a micro-service")
async def get_service(project_id: str, service_id: str, request: Request):
    return await forward(request, project_id, REGISTRY, Registry.SERVICE_GET, ServiceRefCommand(service_id=service_id))


@router.delete("/microservices/{service_id}", summary="Delete a micro-service (force=true deregisters its instances)")
async def delete_service(project_id: str, service_id: str, request: Request, force: str | None = Query(None)):
    cmd = DeleteServiceCommand(service_id=service_id, force=force)
    return await forward(request, project_id, REGISTRY, Registry.SERVICE_DELETE, cmd)


@router.put("/microservices/{service_id}/properties", summary="Replace a micro-service's properties",
            openapi_extra=_body_doc(UpdatePropertiesRequest))
async def update_service_properties(project_id: str, service_id: str, request: Request):
    cmd = UpdateServicePropertiesCommand(service_id=service_id, body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.SERVICE_UPDATE_PROPERTIES, cmd)


@router.get("/existence", summary="Query the unique serviceId of a service, or a schema's summary")
async def existence(project_id: str, request: Request, type: str | None = Query(None), env: str | None = Query(None),
                    appId: str | None = Query(None), serviceName: str | None = Query(None),
                    version: str | None = Query(None), serviceId: str | None = Query(None),
                    schemaId: str | None = Query(None), service_id: str | None = Query(None),
                    schema_id: str | None = Query(None)):
    cmd = ExistenceCommand(type=type, environment=env, app_id=appId, service_name=serviceName, version=version,
                           service_id=serviceId if serviceId is not None else service_id,
                           schema_id=schemaId if schemaId is not None else schema_id)
    return await forward(request, project_id, REGISTRY, Registry.SERVICE_EXISTENCE, cmd)


# --- schemas -----------------------------------------------------------------------------------
@router.get("/microservices/{service_id}/schemas", summary="Query all schemas of a micro-service")
async def list_schemas(project_id: str, service_id: str, request: Request, withSchema: str | None = Query(None)):
    cmd = ListSchemasCommand(service_id=service_id, with_schema=withSchema)
    return await forward(request, project_id, REGISTRY, Registry.SCHEMA_LIST, cmd)


@router.post("/microservices/{service_id}/schemas", summary="Replace a micro-service's schemas in a batch",
             openapi_extra=_body_doc(ModifySchemasRequest))
async def put_schemas(project_id: str, service_id: str, request: Request):
    cmd = PutSchemasCommand(service_id=service_id, body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.SCHEMA_PUT_MANY, cmd)


@router.get("/microservices/{service_id}/schemas/{schema_id}", summary="Query a schema")
async def get_schema(project_id: str, service_id: str, schema_id: str, request: Request):
    cmd = SchemaRefCommand(service_id=service_id, schema_id=schema_id)
    return await forward(request, project_id, REGISTRY, Registry.SCHEMA_GET, cmd)


@router.put("/microservices/{service_id}/schemas/{schema_id}", summary="Create or modify a schema",
            openapi_extra=_body_doc(ModifySchemaRequest))
async def put_schema(project_id: str, service_id: str, schema_id: str, request: Request):
    cmd = PutSchemaCommand(service_id=service_id, schema_id=schema_id, body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.SCHEMA_PUT, cmd)


@router.delete("/microservices/{service_id}/schemas/{schema_id}", summary="Delete a schema")
async def delete_schema(project_id: str, service_id: str, schema_id: str, request: Request):
    cmd = SchemaRefCommand(service_id=service_id, schema_id=schema_id)
    return await forward(request, project_id, REGISTRY, Registry.SCHEMA_DELETE, cmd)


# --- dependencies ------------------------------------------------------------------------------
@router.put("/dependencies", summary="Create dependencies (replace the consumers' provider lists)",
            openapi_extra=_body_doc(CreateDependenciesRequest))
async def put_dependencies(project_id: str, request: Request):
    cmd = PutDependenciesCommand(body=await _body(request), override=True)
    return await forward(request, project_id, REGISTRY, Registry.DEPENDENCY_PUT, cmd)


@router.post("/dependencies", summary="Add dependencies", openapi_extra=_body_doc(CreateDependenciesRequest))
async def add_dependencies(project_id: str, request: Request):
    cmd = PutDependenciesCommand(body=await _body(request), override=False)
    return await forward(request, project_id, REGISTRY, Registry.DEPENDENCY_PUT, cmd)


@router.get("/microservices/{service_id}/providers", summary="Query all providers of a consumer")
async def providers(project_id: str, service_id: str, request: Request, noSelf: str | None = Query(None),
                    sameDomain: str | None = Query(None)):
    cmd = DependencyQueryCommand(service_id=service_id, no_self=noSelf, same_domain=sameDomain)
    return await forward(request, project_id, REGISTRY, Registry.DEPENDENCY_PROVIDERS, cmd)


@router.get("/microservices/{service_id}/consumers", summary="Query all consumers of a provider")
async def consumers(project_id: str, service_id: str, request: Request, noSelf: str | None = Query(None),
                    sameDomain: str | None = Query(None)):
    cmd = DependencyQueryCommand(service_id=service_id, no_self=noSelf, same_domain=sameDomain)
    return await forward(request, project_id, REGISTRY, Registry.DEPENDENCY_CONSUMERS, cmd)


# --- instances -----------------------------------------------------------------------------------
@router.post("/microservices/{service_id}/instances", summary="Register an instance",
             openapi_extra=_body_doc(RegisterInstanceRequest))
async def register_instance(project_id: str, service_id: str, request: Request):
    cmd = RegisterInstanceCommand(service_id=service_id, body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_REGISTER, cmd)


@router.get("/microservices/{service_id}/instances", summary="Query a micro-service's instances",
            openapi_extra=_CONSUMER_PARAM)
async def list_instances(project_id: str, service_id: str, request: Request, tags: str | None = Query(None),
                         rev: str | None = Query(None)):
    cmd = ListInstancesCommand(service_id=service_id, consumer_id=_consumer(request), tags=tags, rev=rev)
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_LIST, cmd)


@router.get("/microservices/{service_id}/instances/{instance_id}", summary="Query an instance",
            openapi_extra=_CONSUMER_PARAM)
async def get_instance(project_id: str, service_id: str, instance_id: str, request: Request,
                       rev: str | None = Query(None)):
    cmd = InstanceRefCommand(service_id=service_id, instance_id=instance_id, consumer_id=_consumer(request), rev=rev)
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_GET, cmd)


@router.delete("/microservices/{service_id}/instances/{instance_id}", summary="Deregister an instance")
async def delete_instance(project_id: str, service_id: str, instance_id: str, request: Request):
    cmd = InstanceRefCommand(service_id=service_id, instance_id=instance_id)
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_DELETE, cmd)


@router.put("/microservices/{service_id}/instances/{instance_id}/properties",
            summary="Replace an instance's properties", openapi_extra=_body_doc(UpdatePropertiesRequest))
async def update_instance_properties(project_id: str, service_id: str, instance_id: str, request: Request):
    cmd = UpdateInstancePropertiesCommand(service_id=service_id, instance_id=instance_id, body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_UPDATE_PROPERTIES, cmd)


@router.put("/microservices/{service_id}/instances/{instance_id}/status", summary="Change an instance's status")
async def update_instance_status(project_id: str, service_id: str, instance_id: str, request: Request,
                                 value: str | None = Query(None)):
    cmd = UpdateInstanceStatusCommand(service_id=service_id, instance_id=instance_id, value=value)
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_UPDATE_STATUS, cmd)


@router.put("/heartbeats", summary="Send heartbeats of several instances",
            openapi_extra=_body_doc(HeartbeatSetRequest))
async def heartbeats(project_id: str, request: Request):
    cmd = HeartbeatManyCommand(body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_HEARTBEAT_MANY, cmd)


@router.post("/instances/action", summary="Batch discovery (type=query)",
             openapi_extra={**_body_doc(BatchFindInstancesRequest), **_CONSUMER_PARAM})
async def batch_find(project_id: str, request: Request, type: str | None = Query(None)):
    cmd = BatchFindCommand(type=type, consumer_id=_consumer(request), body=await _body(request))
    return await forward(request, project_id, REGISTRY, Registry.INSTANCE_FIND_MANY, cmd)
