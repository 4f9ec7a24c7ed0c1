"""Handlers of openstage.cmd.<project>.registry.schema.*: a micro-service's schemas.

Event: ``registry.schema.changed`` (data ``{"serviceId", "schemaId", "action": "put"|"delete",
"summary", "service"}``); when the service's ``schemas`` list changes it is also
``registry.service.updated``."""

from __future__ import annotations

from collections.abc import Mapping

from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.registry import (
    GetAllSchemaResponse,
    GetSchemaResponse,
    ListSchemasCommand,
    ModifySchemaRequest,
    PutSchemaCommand,
    PutSchemasCommand,
    Schema,
    SchemaRefCommand,
)
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import validation as v
from services.domain.registry.identity import unix_timestamp
from services.domain.registry.model import with_schema_id, with_schema_ids
from services.domain.registry.revision import SCHEMA_SUMMARY_HEADER
from workers.registry.deps import RegistryDeps
from workers.registry.events import schema_event, service_event
from workers.registry.microservices import stored_service
from workers.registry.replies import OK_EMPTY, reply
from workers.runtime import command_router, on_command

router = command_router()


@on_command(router, REGISTRY, Registry.SCHEMA_GET, "Show a schema (summary in X-Schema-Summary)", reply=GetSchemaResponse)
async def get_schema(body: SchemaRefCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="GetSchemaRequest")
    schema_id = v.validate_schema_id(body.schema_id)
    await stored_service(deps, project, sid)
    doc = await store.get_schema(deps.db, project, sid, schema_id)
    if doc is None:
        raise rerr.schema_not_exists("Do not have this schema info.")
    return reply({"schema": doc.get("schema") or ""}, headers={SCHEMA_SUMMARY_HEADER: doc.get("summary") or ""})


@on_command(router, REGISTRY, Registry.SCHEMA_LIST, "List a service's schemas (schema text with withSchema=1)", reply=GetAllSchemaResponse)
async def list_schemas(body: ListSchemasCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    with_schema = v.parse_with_schema(body.with_schema)
    sid = v.validate_service_id(body.service_id, type_name="GetAllSchemaRequest")
    svc = await stored_service(deps, project, sid)
    stored = {d["schema_id"]: d for d in await store.list_schemas(deps.db, project, sid)}
    # Service-Center lists one entry per schema id the service declares, in its order, content or
    # not (server/service/disco/schema.go ListSchema, datasource/etcd/ms.go GetAllSchemas): java-chassis
    # 2.8 treats a declared id missing from this list as a changed interface and refuses to start
    # outside a development environment (MicroserviceRegisterTask.registerNewSchema)
    ids = list(dict.fromkeys([*(svc.get("schemas") or []), *stored]))
    out = []
    for schema_id in ids:
        item = {"schemaId": schema_id}
        d = stored.get(schema_id) or {}
        if d.get("summary"):
            item["summary"] = d["summary"]
        if with_schema and d.get("schema"):
            item["schema"] = d["schema"]
        out.append(item)
    return reply({"schemas": out} if out else {})


async def _put_schemas(
    deps: RegistryDeps, project: str, service_id: str, schemas: Mapping[str, ModifySchemaRequest | Schema], whole_set: bool
) -> None:
    """Store schemas of a service with their ``schema.changed`` events; with ``whole_set`` they
    are all of its schemas (the others are deleted). When the service's ``schemas`` list changes
    the service is updated too (``service.updated``)."""
    ts = unix_timestamp(deps.clock.seconds())

    async def write(session):
        svc = await stored_service(deps, project, service_id, session)
        events = []
        if whole_set:
            current = {d["schema_id"] for d in await store.list_schemas(deps.db, project, service_id, session=session)}
            for schema_id in sorted(current - set(schemas)):
                await store.delete_schema(deps.db, project, service_id, schema_id, session)
                events.append(schema_event(project, svc, schema_id, "delete"))
        for schema_id, s in schemas.items():
            await store.put_schema(deps.db, project, service_id, schema_id, s.schema_, s.summary, session)
            events.append(schema_event(project, svc, schema_id, "put", s.summary))
        if whole_set:
            updated = with_schema_ids(svc, list(schemas), ts)
        else:
            updated = with_schema_id(svc, next(iter(schemas)), ts)
        if updated is not None:
            await store.replace_service(deps.db, project, updated, session)
            events.append(service_event(project, "updated", updated))
        return None, events

    await deps.commit(project, write)


@on_command(router, REGISTRY, Registry.SCHEMA_PUT, "Create or change one schema", reply=None)
async def put_schema(body: PutSchemaCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    request = v.validate_modify_schema(body.service_id, body.schema_id, body.body)
    assert body.service_id is not None and body.schema_id is not None  # validated
    await _put_schemas(deps, project, body.service_id, {body.schema_id: request}, whole_set=False)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.SCHEMA_PUT_MANY, "Replace a service's whole schema set", reply=None)
async def put_schemas(body: PutSchemasCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    request = v.validate_modify_schemas(body.service_id, body.body)
    assert body.service_id is not None  # validated
    wanted = {s.schema_id: s for s in request.schemas or [] if s.schema_id is not None}
    await _put_schemas(deps, project, body.service_id, wanted, whole_set=True)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.SCHEMA_DELETE, "Delete one schema", reply=None)
async def delete_schema(body: SchemaRefCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="DeleteSchemaRequest")
    schema_id = v.validate_schema_id(body.schema_id, type_name="DeleteSchemaRequest")

    async def write(session):
        svc = await stored_service(deps, project, sid, session)
        if not await store.delete_schema(deps.db, project, sid, schema_id, session):
            raise rerr.schema_not_exists("Schema info does not exist.")
        return None, [schema_event(project, svc, schema_id, "delete")]

    await deps.commit(project, write)
    return OK_EMPTY
