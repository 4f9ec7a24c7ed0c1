"""Handlers of openstage.cmd.<project>.registry.schema.*: a micro-service's schemas.

Event: ``registry.schema.changed`` (data ``{"serviceId", "schemaId", "action": "put"|"delete",
"summary", "service"}``); when the service's ``schemas`` list changes it is also
``registry.service.updated``."""
from __future__ import annotations

from faststream import Path

from services.adapters.clock import clock
from services.contracts.registry import (
    ListSchemasCommand,
    ModifySchemaRequest,
    ModifySchemasRequest,
    PutSchemaCommand,
    PutSchemasCommand,
    SchemaRefCommand,
)
from services.contracts import registry_errors as rerr
from services.domain.registry import validation as v
from services.domain.registry.identity import unix_timestamp
from services.domain.registry.model import with_schema_id, with_schema_ids
from services.adapters.store import registry as store
from services.contracts.subjects import REGISTRY, Registry
from workers.registry.common import OK_EMPTY, commit, reply, schema_event, service_event
from workers.runtime import command_router, ctx, on_command

router = command_router()


@on_command(router, REGISTRY, Registry.SCHEMA_GET, "Show a schema (summary in X-Schema-Summary)")
async def get_schema(body: SchemaRefCommand, project: str = Path()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="GetSchemaRequest")
    schema_id = v.validate_schema_id(body.schema_id)
    if await store.get_service(ctx.db, project, sid) is None:
        raise rerr.service_not_exists()
    doc = await store.get_schema(ctx.db, project, sid, schema_id)
    if doc is None:
        raise rerr.schema_not_exists("Do not have this schema info.")
    return reply({"schema": doc.get("schema") or ""}, headers={"X-Schema-Summary": doc.get("summary") or ""})


@on_command(router, REGISTRY, Registry.SCHEMA_LIST, "List a service's schemas (schema text with withSchema=1)")
async def list_schemas(body: ListSchemasCommand, project: str = Path()) -> bytes:
    with_schema = v.parse_with_schema(body.with_schema)
    sid = v.validate_service_id(body.service_id, type_name="GetAllSchemaRequest")
    if await store.get_service(ctx.db, project, sid) is None:
        raise rerr.service_not_exists()
    docs = await store.list_schemas(ctx.db, project, sid)
    out = []
    for d in docs:
        item = {"schemaId": d["schema_id"]}
        if d.get("summary"):
            item["summary"] = d["summary"]
        if with_schema and d.get("schema"):
            item["schema"] = d["schema"]
        out.append(item)
    return reply({"schemas": out} if out else {})


@on_command(router, REGISTRY, Registry.SCHEMA_PUT, "Create or change one schema")
async def put_schema(body: PutSchemaCommand, project: str = Path()) -> bytes:
    request = v.parse_body(ModifySchemaRequest, body.body)
    v.validate_modify_schema(body.service_id, body.schema_id, request)
    sid, schema_id = body.service_id, body.schema_id
    ts = unix_timestamp(clock.seconds())

    async def write(session):
        svc = await store.get_service(ctx.db, project, sid, session=session)
        if svc is None:
            raise rerr.service_not_exists()
        await store.put_schema(ctx.db, project, sid, schema_id, request.schema_, request.summary, session)
        events = [schema_event(project, svc, schema_id, "put", request.summary)]
        updated = with_schema_id(svc, schema_id, ts)
        if updated is not None:
            await store.replace_service(ctx.db, project, updated, session)
            events.append(service_event(project, "updated", updated))
        return None, events

    await commit(project, write)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.SCHEMA_PUT_MANY, "Replace a service's whole schema set")
async def put_schemas(body: PutSchemasCommand, project: str = Path()) -> bytes:
    request = v.parse_body(ModifySchemasRequest, body.body)
    v.validate_modify_schemas(body.service_id, request)
    sid = body.service_id
    ts = unix_timestamp(clock.seconds())
    wanted = {s.schema_id: s for s in request.schemas}

    async def write(session):
        svc = await store.get_service(ctx.db, project, sid, session=session)
        if svc is None:
            raise rerr.service_not_exists()
        current = {d["schema_id"] for d in await store.list_schemas(ctx.db, project, sid, session=session)}
        events = []
        for schema_id in sorted(current - set(wanted)):
            await store.delete_schema(ctx.db, project, sid, schema_id, session)
            events.append(schema_event(project, svc, schema_id, "delete"))
        for schema_id, s in wanted.items():
            await store.put_schema(ctx.db, project, sid, schema_id, s.schema_, s.summary, session)
            events.append(schema_event(project, svc, schema_id, "put", s.summary))
        updated = with_schema_ids(svc, list(wanted), ts)
        await store.replace_service(ctx.db, project, updated, session)
        events.append(service_event(project, "updated", updated))
        return None, events

    await commit(project, write)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.SCHEMA_DELETE, "Delete one schema")
async def delete_schema(body: SchemaRefCommand, project: str = Path()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="DeleteSchemaRequest")
    schema_id = v.validate_schema_id(body.schema_id, type_name="DeleteSchemaRequest")

    async def write(session):
        svc = await store.get_service(ctx.db, project, sid, session=session)
        if svc is None:
            raise rerr.service_not_exists()
        if not await store.delete_schema(ctx.db, project, sid, schema_id, session):
            raise rerr.schema_not_exists("Schema info does not exist.")
        return None, [schema_event(project, svc, schema_id, "delete")]

    await commit(project, write)
    return OK_EMPTY
