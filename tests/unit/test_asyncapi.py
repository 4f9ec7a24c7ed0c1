"""The bus's AsyncAPI document: generated from every worker's routers without connecting anything,
complete (every subscriber, its payload and reply), with the events workers declare, and served by
the edge together with offline /docs."""

from __future__ import annotations

import importlib
import json
import re
import sys
import types

import pytest
from fastapi.testclient import TestClient
from faststream.nats import NatsBroker
from pydantic import BaseModel

from api_edge.app import create_app
from api_edge.asyncapi import asyncapi_document, build_document, command_handlers, edge_routes, worker_docs
from api_edge.route_commands import declared_command
from services.settings import Settings
from workers import WORKERS


def _subscribers():
    for name, target in WORKERS.items():
        module = importlib.import_module(target.split(":", 1)[0])
        for router in module.ROUTERS:
            for sub in router.subscribers:
                yield name, sub


def _channel(doc: dict, op: dict) -> dict:
    return doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]


def test_every_command_subscriber_is_documented_with_payload_and_reply():
    doc = build_document()
    by_address = {_channel(doc, op)["address"]: (key, op) for key, op in doc["operations"].items()}
    subscribers = list(_subscribers())
    assert len(subscribers) >= 20
    for worker, sub in subscribers:
        address = sub.subject.template
        assert address in by_address, f"{worker}: {address} is not in the document"
        key, op = by_address[address]
        assert op["action"] == "receive"
        channel = _channel(doc, op)
        assert channel["bindings"]["nats"]["queue"] == sub.queue
        assert channel["parameters"]["project"]["description"]
        message = doc["components"]["messages"][channel["messages"]["SubscribeMessage"]["$ref"].rsplit("/", 1)[-1]]
        assert message["payload"], f"{key} has no payload schema"
        reply_channel = doc["channels"][op["reply"]["channel"]["$ref"].rsplit("/", 1)[-1]]
        assert reply_channel["address"] is None
        reply = doc["components"]["messages"][f"{key}:Reply"]["payload"]
        assert set(reply["properties"]) == {"status", "result", "error", "headers"}
        [call] = sub.calls  # one handler function per subject
        func = call.handler._original_call
        assert op["x-openstage-handler"] == f"{func.__module__}:{func.__qualname__}"


def test_commands_carry_their_http_equivalent_and_result_model():
    doc = asyncapi_document()
    op = doc["operations"]["lifecycle.environment.create"]
    assert op["x-openstage-http"] == [
        {"method": "POST", "path": "/v2/{project_id}/cas/environments", "summary": "Create an environment", "status": 200}
    ]
    reply = doc["components"]["messages"]["lifecycle.environment.create:Reply"]["payload"]
    assert reply["properties"]["result"]["$ref"] == "#/components/schemas/Environment"
    assert "Environment" in doc["components"]["schemas"]
    deleted = doc["components"]["messages"]["lifecycle.environment.delete:Reply"]["payload"]
    assert deleted["properties"]["result"]["type"] == "null" and deleted["x-openstage-success-status"] == [204]
    for worker in WORKERS:
        assert f"{worker}.ping" in doc["operations"]
    events = doc["channels"]["events"]
    assert events["address"] == "openstage.evt.{project}.{domain}.{entity}.{verb}"
    assert set(events["parameters"]) == {"project", "domain", "entity", "verb"}


def test_building_connects_nothing_and_leaves_running_brokers_their_routers(monkeypatch):
    monkeypatch.delenv("OPENSTAGE_NATS_URL", raising=False)
    monkeypatch.delenv("OPENSTAGE_MONGODB_URL", raising=False)
    lifecycle = importlib.import_module("workers.lifecycle.app")
    broker = NatsBroker("nats://127.0.0.1:1")  # a worker's broker in this process (never started)
    for router in lifecycle.ROUTERS:
        broker.include_router(router)
    before = len(broker.subscribers)
    try:
        assert build_document()["operations"]
        assert all(router.parent is broker for router in lifecycle.ROUTERS)
        assert len(broker.subscribers) == before
    finally:
        for router in lifecycle.ROUTERS:
            router.parent = None


class Gadget(BaseModel):
    id: str
    size: int


def test_declared_events_get_typed_channels(monkeypatch):
    lifecycle = importlib.import_module("workers.lifecycle.app")
    module = types.ModuleType("fake_gadget_worker")
    module.ROUTERS = []
    module.EVENTS = {"io.openstage.gadgets.gadget.created": Gadget, "io.openstage.gadgets.gadget.gone": None}
    monkeypatch.setitem(sys.modules, "fake_gadget_worker", module)
    doc = build_document({"lifecycle": "workers.lifecycle.app:build", "gadgets": "fake_gadget_worker:build"})

    op = doc["operations"]["io.openstage.gadgets.gadget.created"]
    assert op["action"] == "send" and op["x-openstage-event"]["entity"] == "gadget"
    channel = _channel(doc, op)
    assert channel["address"] == "openstage.evt.{project}.gadgets.gadget.created"
    schema = doc["components"]["schemas"]["GadgetsGadgetCreatedEvent"]
    assert schema["properties"]["type"]["const"] == "io.openstage.gadgets.gadget.created"
    assert schema["properties"]["data"] == {"$ref": "#/components/schemas/Gadget"}
    assert "io.openstage.gadgets.gadget.gone" in doc["operations"]
    assert "gadgets.ping" in doc["operations"]
    assert (
        len([k for k in doc["operations"] if k.startswith("lifecycle.")]) == sum(len(r.subscribers) for r in lifecycle.ROUTERS) + 1
    )  # + ping


def test_worker_modules_must_expose_routers_and_well_formed_event_types(monkeypatch):
    bare = types.ModuleType("fake_bare_worker")
    monkeypatch.setitem(sys.modules, "fake_bare_worker", bare)
    with pytest.raises(RuntimeError, match="must expose ROUTERS"):
        worker_docs({"bare": "fake_bare_worker:build"})
    bare.ROUTERS = []
    bare.EVENTS = {"gadget.created": None}
    with pytest.raises(ValueError, match=re.escape("io.openstage.<domain>.<entity>.<verb>")):
        worker_docs({"bare": "fake_bare_worker:build"})


def test_edge_serves_docs_from_its_own_assets():
    client = TestClient(create_app(Settings(nats_url=None)))
    assert client.get("/asyncapi.json").json() == asyncapi_document()
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN page is gone
    pages = {path: client.get(path) for path in ("/docs", "/asyncapi")}
    for path, page in pages.items():
        assert page.status_code == 200, path
        assert "cdn.jsdelivr.net" not in page.text and "unpkg.com" not in page.text, path
        assert "fonts.googleapis.com" not in page.text, path
    assert "/docs-static/swagger/swagger-ui-bundle.js" in pages["/docs"].text
    assert "/docs-static/asyncapi/asyncapi-viewer.js" in pages["/asyncapi"].text
    for asset in (
        "/docs-static/swagger/swagger-ui-bundle.js",
        "/docs-static/swagger/swagger-ui.css",
        "/docs-static/asyncapi/asyncapi-viewer.js",
        "/docs-static/asyncapi/asyncapi-theme.css",
    ):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["paths"]


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_every_reference_resolves_and_same_named_models_stay_apart():
    doc = asyncapi_document()
    for ref in set(_refs(doc)):
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]

    class EnvVariable(BaseModel):  # same name as a contract model, different fields
        colour: str

    module = types.ModuleType("fake_clash_worker")
    module.ROUTERS = []
    module.EVENTS = {"io.openstage.clash.thing.created": EnvVariable}
    sys.modules["fake_clash_worker"] = module
    try:
        doc = build_document({**WORKERS, "clash": "fake_clash_worker:build"})
    finally:
        del sys.modules["fake_clash_worker"]
    schemas = doc["components"]["schemas"]
    variants = [schemas[k] for k in schemas if "EnvVariable" in k]
    assert any("colour" in v.get("properties", {}) for v in variants)
    assert any("value" in v.get("properties", {}) for v in variants)


def test_handlers_without_a_found_model_keep_faststream_schemas(monkeypatch):
    from api_edge import asyncapi

    monkeypatch.setattr(asyncapi, "_payload_model", lambda sub: None)
    doc = build_document()
    message = doc["components"]["messages"]["lifecycle.environment.create:SubscribeMessage"]
    assert message["payload"] == {"$ref": "#/components/schemas/CreateEnvironment"}
    assert "Resource" in doc["components"]["schemas"]  # what CreateEnvironment refers to
    for ref in set(_refs(doc)):
        node = doc
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_route_declares_the_command_it_sends_and_is_listed_under_it():
    doc = asyncapi_document()
    listed = [(h["method"], h["path"], key) for key, op in doc["operations"].items() for h in op.get("x-openstage-http", [])]
    routes = edge_routes()
    assert len(routes) >= 50
    for route in routes:
        command = declared_command(route.endpoint)
        assert command is not None, f"{route.path} ({route.name}) forwards a command but declares none: add @sends"
        key = f"{command.domain}.{command.action}"
        assert key in doc["operations"], f"{route.path} declares {key}, which no worker serves"
        for method in route.methods:
            assert (method, route.path, key) in listed
    assert len(listed) == sum(len(r.methods) for r in routes)


def test_http_equivalents_come_from_the_declaration_not_the_route_source(monkeypatch):
    """Renaming a route's arguments or sending through a helper does not drop it from the docs."""
    from api_edge import asyncapi

    endpoint = next(r.endpoint for r in edge_routes() if r.name == "create_environment")
    monkeypatch.setattr(asyncapi, "declared_command", lambda e: None if e is endpoint else declared_command(e))
    assert ("lifecycle", "environment.create") not in asyncapi.edge_commands()
    monkeypatch.undo()
    calls = asyncapi.edge_commands()[("lifecycle", "environment.create")]
    assert [(c.method, c.path) for c in calls] == [("POST", "/v2/{project_id}/cas/environments")]


class GadgetDeps(BaseModel):  # a model, to show injected parameters are never taken for the payload
    db: str = "x"


def _gadget_worker() -> types.ModuleType:
    from faststream import Context, Path
    from faststream.nats import NatsRouter

    from workers.runtime import on_command

    router = NatsRouter()

    @on_command(router, "gadgets", "gadget.create", "Create a gadget", reply=Gadget)
    async def create_gadget(body: Gadget, project: str = Path(), deps: GadgetDeps = Context()) -> dict: ...

    @on_command(router, "gadgets", "gadget.delete", "Delete a gadget", reply=None)
    async def delete_gadget(body: Gadget, project: str = Path(), deps: GadgetDeps = Context()) -> dict: ...

    @on_command(router, "gadgets", "gadget.list", "List gadgets", reply=list[Gadget])
    async def list_gadgets(project: str = Path(), deps: GadgetDeps = Context()) -> dict: ...

    @router.subscriber("openstage.cmd.{project}.gadgets.gadget.count", title="gadgets.gadget.count")
    async def count_gadgets(project: str = Path(), deps: GadgetDeps = Context()) -> dict: ...  # no reply model

    module = types.ModuleType("fake_gadget_commands")
    module.ROUTERS = [router]
    return module


def test_handlers_and_reply_models_come_from_the_subscribers(monkeypatch):
    monkeypatch.setitem(sys.modules, "fake_gadget_commands", _gadget_worker())
    doc = build_document({"gadgets": "fake_gadget_commands:build"})
    ops, messages, schemas = doc["operations"], doc["components"]["messages"], doc["components"]["schemas"]

    def result(key: str) -> dict:
        return messages[f"{key}:Reply"]["payload"]["properties"]["result"]

    assert ops["gadgets.gadget.create"]["x-openstage-handler"] == f"{__name__}:_gadget_worker.<locals>.create_gadget"
    assert messages["gadgets.gadget.create:SubscribeMessage"]["payload"] == {"$ref": "#/components/schemas/Gadget"}
    assert result("gadgets.gadget.create")["$ref"] == "#/components/schemas/Gadget"
    assert result("gadgets.gadget.delete")["type"] == "null"
    listed = schemas[result("gadgets.gadget.list")["$ref"].rsplit("/", 1)[-1]]
    assert listed["type"] == "array" and listed["items"] == {"$ref": "#/components/schemas/Gadget"}
    assert result("gadgets.gadget.count") == {"description": "The result (any JSON value)."}
    for key in ("gadgets.gadget.list", "gadgets.gadget.count"):  # no message fields but the body's
        payload = messages[f"{key}:SubscribeMessage"]["payload"]
        assert "deps" not in json.dumps(schemas.get(payload.get("$ref", "").rsplit("/", 1)[-1], payload))
    assert "GadgetDeps" not in schemas


def test_handlers_reply_what_their_http_routes_answer():
    """A command's reply model (``on_command(reply=...)``) is the response model of its HTTP routes;
    a route that answers 204 has a handler that replies no body."""
    handlers = {h.title: h for h in command_handlers(worker_docs()).values()}
    for route in edge_routes():
        command = declared_command(route.endpoint)
        handler = handlers[f"{command.domain}.{command.action}"]
        where = f"{handler.names} (for {sorted(route.methods)} {route.path})"
        if route.status_code == 204:
            assert handler.reply is None, f"{where} must declare reply=None"
        elif route.response_model is not None:
            assert handler.reply is route.response_model, f"{where} must declare reply={route.response_model.__name__}"
