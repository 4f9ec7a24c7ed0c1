"""The AsyncAPI 3.0 document of the bus, generated from the code that serves it.

Sources (nothing here is written by hand per command or event):
- every worker named in ``workers.WORKERS``: its module exposes ``ROUTERS`` (the FastStream
  NatsRouters of its command subscribers: subject, queue group, payload model, description) and
  ``EVENTS`` (``{CloudEvents type: model of the event's data}``);
- the HTTP edge's routes (``api_edge.routers.ROUTERS``): which route forwards to which command gives
  the command's HTTP equivalent and the model of its reply's ``result``.

FastStream builds the document from a broker that is never connected (so no NATS or MongoDB is
needed); the document is then completed with what FastStream does not describe: the request-reply
envelope of every command, the ``{project}`` channel parameter, the ping subjects' replies, tags.
The document is built once per process (``asyncapi_document()`` is cached).
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import textwrap
import threading
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Literal

from faststream.nats import NatsBroker, NatsRouter
from faststream.specification import AsyncAPI
from pydantic import BaseModel, create_model
from pydantic.json_schema import models_json_schema

from services import nats_auth, subjects
from services.contracts.common import ErrorBody
from services.contracts.events import CloudEvent

TITLE = "openstage bus"
VERSION = "0.1.0"
# The document names no real deployment: `openstage up` prints the NATS port it uses.
EXAMPLE_SERVER = "nats://127.0.0.1:4222"
SCHEMAS = "#/components/schemas/"

DESCRIPTION = f"""\
Every call of the openstage HTTP API is a command on NATS, which any NATS client may also send
directly, and every state change is a CloudEvent on JetStream.

**Commands and queries**: NATS request-reply on `{subjects.CMD_PREFIX}.<project_id>.<domain>.<entity>.<action>`,
served by the domain worker's queue group. The request is the command's JSON payload; the reply is
`{{"status": 200, "result": ...}}` or `{{"status": 4xx/5xx, "error": {{"status", "error_code", "error_msg", "detail"}}}}`,
where `status` is the HTTP status the edge answers with (204: no result).

**Events**: CloudEvents 1.0 (structured JSON) on the JetStream stream `{subjects.EVENTS_STREAM}`, subject
`{subjects.EVT_PREFIX}.<project_id>.<domain>.<entity>.<verb>`, `type` `{subjects.EVENT_TYPE_PREFIX}.<domain>.<entity>.<verb>`,
`id` = the JetStream `Nats-Msg-Id`, `subject` = the resource's API path, `data` = the resource state.

**Tenants** connect with user = AK and password = SK and `inbox_prefix="{nats_auth.tenant_inbox_prefix('<AK>')}"`; they may
request `{subjects.CMD_PREFIX}.<project>.>` and consume `{subjects.EVT_PREFIX}.<project>.>` (live, or durably with a push
consumer on `{subjects.EVENTS_STREAM}` delivering to `{nats_auth.deliver_subject('<project>', '<name>')}`) of their own projects only.
"""

ALL_EVENTS_CHANNEL = f"{subjects.EVT_PREFIX}.{{project}}.{{domain}}.{{entity}}.{{verb}}"
EVENT_PARAMETERS = {
    "domain": {"description": "The worker domain that owns the resource (e.g. lifecycle, config)."},
    "entity": {"description": "The resource kind (e.g. environment)."},
    "verb": {"description": "What happened (e.g. created, updated, deleted)."},
}
PROJECT_PARAMETER = {"description": "The project id (one subject token: letters, digits, '_' and '-')."}


class PingReply(BaseModel):
    """What every process of a worker answers on its ping subject."""

    worker: str
    ok: bool


@dataclass(frozen=True)
class WorkerDocs:
    """What a worker module contributes to the document."""

    name: str
    module: str
    routers: tuple[NatsRouter, ...]
    events: dict[str, type[BaseModel] | None]


@dataclass(frozen=True)
class HttpCall:
    """An edge route that forwards to a command."""

    method: str
    path: str
    summary: str
    status: int
    response_model: type[BaseModel] | None = field(default=None, compare=False)


# --- what the workers declare ----------------------------------------------------------------------
def worker_docs(workers: dict[str, str] | None = None) -> list[WorkerDocs]:
    """``ROUTERS`` and ``EVENTS`` of every worker module (importing it connects nothing)."""
    if workers is None:
        from workers import WORKERS as workers
    found = []
    for name, target in workers.items():
        module_name = target.split(":", 1)[0]
        module = importlib.import_module(module_name)
        routers = getattr(module, "ROUTERS", None)
        if routers is None:
            raise RuntimeError(f"{module_name} must expose ROUTERS (its NatsRouters) for the bus documentation")
        events = dict(getattr(module, "EVENTS", {}) or {})
        for event_type in events:
            _event_parts(event_type)  # fails early on a malformed type
        found.append(WorkerDocs(name, module_name, tuple(routers), events))
    return found


def _event_parts(event_type: str) -> tuple[str, str, str]:
    prefix = subjects.EVENT_TYPE_PREFIX + "."
    parts = event_type[len(prefix):].split(".") if event_type.startswith(prefix) else []
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"event type {event_type!r} is not {prefix}<domain>.<entity>.<verb>")
    return parts[0], parts[1], parts[2]


def event_channel(event_type: str) -> str:
    domain, entity, verb = _event_parts(event_type)
    return f"{subjects.EVT_PREFIX}.{{project}}.{domain}.{entity}.{verb}"


# --- what the edge forwards ------------------------------------------------------------------------
_SAFE_NODES = (ast.Name, ast.Attribute, ast.Constant, ast.Load)


# How a route sends a command: forward(request, project_id, DOMAIN, ACTION, cmd), or the bus client's
# request(project_id, DOMAIN, ACTION, cmd) / call(path, project_id, DOMAIN, ACTION, cmd): the
# positions of (domain, action) among the arguments.
_SENDERS = {"forward": (2, 3), "request": (1, 2), "call": (2, 3)}


def _sender(func: ast.expr) -> tuple[int, int] | None:
    if isinstance(func, ast.Name) and func.id == "forward":
        return _SENDERS["forward"]
    if isinstance(func, ast.Attribute):
        if func.attr == "forward":
            return _SENDERS["forward"]
        on_bus = isinstance(func.value, ast.Attribute) and func.value.attr == "bus"
        if on_bus and func.attr in ("request", "call"):
            return _SENDERS[func.attr]
    return None


def _forwarded_commands(endpoint) -> list[tuple[str, str]]:
    """(domain, action) of every command a route's function sends (read from its source)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
    except (OSError, TypeError, SyntaxError):
        return []
    found = []
    for node in ast.walk(tree):
        positions = _sender(node.func) if isinstance(node, ast.Call) else None
        if positions is None:
            continue
        args = dict(enumerate(node.args))
        kwargs = {k.arg: k.value for k in node.keywords}
        exprs = (kwargs.get("domain", args.get(positions[0])), kwargs.get("action", args.get(positions[1])))
        if any(e is None or not all(isinstance(n, _SAFE_NODES) for n in ast.walk(e)) for e in exprs):
            continue
        try:  # names and attributes of the route module's own globals only (checked above)
            domain, action = (eval(compile(ast.Expression(e), "<route>", "eval"), endpoint.__globals__) for e in exprs)
        except Exception:
            continue
        if isinstance(domain, str) and isinstance(action, str) and (domain, action) not in found:
            found.append((domain, action))
    return found


def edge_commands() -> dict[tuple[str, str], list[HttpCall]]:
    """For every (domain, action) the edge forwards to: the HTTP routes that do."""
    from fastapi.routing import APIRoute

    from api_edge.routers import ROUTERS as http_routers

    calls: dict[tuple[str, str], list[HttpCall]] = {}
    for router in http_routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            for key in _forwarded_commands(route.endpoint):
                for method in sorted(route.methods):
                    calls.setdefault(key, []).append(HttpCall(
                        method, route.path, route.summary or route.name, route.status_code or 200,
                        route.response_model if isinstance(route.response_model, type) else None))
    return calls


# --- the FastStream part ---------------------------------------------------------------------------
_include_lock = threading.Lock()


def _event_model(event_type: str, data_model: type[BaseModel] | None) -> type[BaseModel]:
    domain, entity, verb = _event_parts(event_type)
    name = "".join(p.capitalize() for p in re.split(r"[_\-]", f"{entity}_{verb}")) + "Event"
    fields: dict[str, Any] = {"type": (Literal[event_type], event_type)}  # type: ignore[valid-type]
    if data_model is not None:
        fields["data"] = (data_model, ...)
    about = f": `data` is the {data_model.__name__}" if data_model is not None else ""
    return create_model(name, __base__=CloudEvent, __doc__=f"CloudEvent `{event_type}`{about}.", **fields)


def _payload_model(subscriber) -> type[BaseModel] | None:
    """The pydantic model a command handler takes (its one BaseModel parameter), if any."""
    for call in subscriber.calls:
        func = getattr(call.handler, "_original_call", None)
        try:
            hints = typing.get_type_hints(func)
            params = inspect.signature(func).parameters
        except Exception:
            continue
        models = [hints[p] for p in params if isinstance(hints.get(p), type) and issubclass(hints[p], BaseModel)]
        if len(models) == 1:
            return models[0]
    return None


# (model, JSON-schema mode) of a message payload: "validation" for what a worker reads,
# "serialization" for what it writes
Payload = tuple[type[BaseModel], str]


def _faststream_schema(workers: list[WorkerDocs]) -> tuple[dict, dict[str, Payload]]:
    """FastStream's document, and the payload model of each of its messages (by message key)."""
    payloads: dict[str, Payload] = {"events:Message": (CloudEvent, "serialization")}
    broker = NatsBroker(EXAMPLE_SERVER, description="The deployment's NATS server (`openstage up` prints its port).")

    for w in workers:
        def make_ping(name: str):
            async def ping() -> dict:
                return {"worker": name, "ok": True}
            return ping

        broker.subscriber(subjects.ping(w.name), title=f"{w.name}.ping",
                          description=f"Liveness of the {w.name} worker: every process of it answers.")(make_ping(w.name))
        for event_type, data_model in sorted(w.events.items()):
            domain, entity, verb = _event_parts(event_type)
            model = _event_model(event_type, data_model)
            payloads[f"{event_type}:Message"] = (model, "serialization")
            broker.publisher(
                event_channel(event_type), title=event_type,
                description=(f"`{entity}` {verb.replace('_', ' ')} (worker: {w.name}). CloudEvent published on the "
                             f"JetStream stream {subjects.EVENTS_STREAM}; `data` = "
                             f"{data_model.__name__ if data_model else 'the resource state'}."),
                schema=model,
            )

    broker.publisher(
        ALL_EVENTS_CHANNEL, title="events",
        description=(f"Every event: a CloudEvent published on the JetStream stream {subjects.EVENTS_STREAM} "
                     f"(subscribe to `{subjects.EVT_PREFIX}.<project>.>` for all of a project's). The typed "
                     "channels below are the event types the workers declare."),
        schema=CloudEvent,
    )

    # Including a router moves it to the including broker: put each one back where it was, so
    # building the document never takes a router from a worker running in this process.
    routers = [r for w in workers for r in w.routers]
    for router in routers:
        for sub in router.subscribers:
            title, model = sub.specification.config.title_, _payload_model(sub)
            if title and model is not None:
                payloads[f"{title}:SubscribeMessage"] = (model, "validation")
    with _include_lock:
        parents = [r.parent for r in routers]
        try:
            for router in routers:
                broker.include_router(router)
            spec = AsyncAPI(broker, title=TITLE, version=VERSION, description=DESCRIPTION).to_specification()
            return json.loads(spec.to_json()), payloads
        finally:
            for router, parent in zip(routers, parents):
                if parent is None:
                    router.parent = None  # detaches it from the documentation broker
                else:
                    parent.include_router(router)


# --- completing the document -----------------------------------------------------------------------
def _unified_schemas(doc: dict, payloads: dict[str, Payload], extra: list[Payload]) -> dict[Payload, dict]:
    """Regenerate components.schemas with pydantic, all models at once, and point the messages at them.

    FastStream names a schema by its model's name only, so two different models of the same name
    (e.g. two ``EnvVariable``) would share one schema; pydantic, given every model together, gives
    such models distinct (module-qualified) names. Returns the $ref of each (model, mode)."""
    pairs = list(dict.fromkeys([*payloads.values(), *extra]))
    refs, defs = models_json_schema(pairs, ref_template=SCHEMAS + "{model}")
    old = doc.setdefault("components", {}).setdefault("schemas", {})
    messages = doc["components"].setdefault("messages", {})
    schemas = dict(defs.get("$defs", {}))
    for key, message in messages.items():
        if key in payloads:
            message["payload"] = refs[payloads[key]]
        else:  # a message whose model is not known here (e.g. an empty ping): keep FastStream's schema
            ref = message.get("payload", {}).get("$ref", "")
            name = ref[len(SCHEMAS):] if ref.startswith(SCHEMAS) else None
            if name and name in old:
                schemas.setdefault(name, old[name])
    # pydantic qualifies clashing names with the whole module path: keep its last part only
    # (services__contracts__instances__EnvVariable -> instances.EnvVariable) when that is unique
    short = {name: ".".join([p for p in name.split("__") if p][-2:]) for name in schemas if "__" in name}
    rename = {n: v for n, v in short.items() if list(short.values()).count(v) == 1 and v not in schemas}
    schemas = _renamed_schemas(schemas, rename)
    # and one name for identical schemas (pydantic adds -Input/-Output variants that may be equal)
    while True:
        by_content: dict[str, list[str]] = {}
        for name, schema in schemas.items():
            by_content.setdefault(json.dumps(schema, sort_keys=True), []).append(name)
        merge = {}
        for names in by_content.values():
            if len(names) > 1:
                keep = min(names, key=lambda n: (n.endswith(("-Input", "-Output")), len(n), n))
                merge.update({n: keep for n in names if n != keep})
        if not merge:
            break
        schemas = _renamed_schemas(schemas, merge)
        rename = {name: merge.get(now, now) for name, now in rename.items()} | merge
    doc["components"] = _renamed(doc["components"], rename)
    doc["components"]["schemas"] = dict(sorted(schemas.items()))
    return {pair: _renamed(ref, rename) for pair, ref in refs.items()}


def _renamed(node: Any, rename: dict[str, str]) -> Any:
    """``node`` with its schema $refs renamed."""
    if not rename:
        return node
    if isinstance(node, dict):
        return {k: (SCHEMAS + rename.get(v[len(SCHEMAS):], v[len(SCHEMAS):])
                    if k == "$ref" and isinstance(v, str) and v.startswith(SCHEMAS) else _renamed(v, rename))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, rename) for v in node]
    return node


def _renamed_schemas(schemas: dict[str, dict], rename: dict[str, str]) -> dict[str, dict]:
    """Schemas under their new names, their $refs following (renamed duplicates are identical)."""
    return {rename.get(name, name): _renamed(schema, rename) for name, schema in schemas.items()}


def _reply_schema(command: str, calls: list[HttpCall], refs: dict[Payload, dict], error_ref: dict) -> dict:
    statuses = sorted({c.status for c in calls})
    models = [c.response_model for c in calls if c.response_model is not None]
    if statuses == [204]:
        result: dict = {"type": "null", "description": "No result (status 204)."}
    elif models:
        result = dict(refs[(models[0], "serialization")])
        result["description"] = "The result: the HTTP API's response body for the same call."
    else:
        result = {"description": "The result (any JSON value)."}
    return {
        "x-openstage-success-status": statuses or [200],
        "title": f"{command} reply",
        "type": "object",
        "description": "The reply envelope: `result` on success, `error` otherwise.",
        "properties": {
            "status": {"type": "integer", "description": "HTTP status the edge answers with "
                       f"({', '.join(map(str, statuses)) if statuses else '200'} on success)."},
            "result": result,
            "error": {"anyOf": [error_ref, {"type": "null"}],
                      "description": "The typed error when status >= 400."},
        },
        "required": ["status"],
    }


def _add_reply(doc: dict, op_key: str, op: dict, payload: dict, description: str) -> None:
    channel_key = f"{op_key}.reply"
    message_key = f"{op_key}:Reply"
    doc["components"].setdefault("messages", {})[message_key] = {
        "title": message_key, "payload": payload,
        "correlationId": {"location": "$message.header#/correlation_id"},
    }
    doc["channels"][channel_key] = {
        "address": None,
        "description": description,
        "messages": {"Reply": {"$ref": f"#/components/messages/{message_key}"}},
    }
    op["reply"] = {"channel": {"$ref": f"#/channels/{channel_key}"},
                   "messages": [{"$ref": f"#/channels/{channel_key}/messages/Reply"}]}


def _complete(doc: dict, payloads: dict[str, Payload], workers: list[WorkerDocs],
              http: dict[tuple[str, str], list[HttpCall]]) -> dict:
    emitters = {event_type: w.name for w in workers for event_type in w.events}
    doc["x-openstage-workers"] = [{"name": w.name, "module": w.module, "declares_events": bool(w.events)}
                                  for w in workers]
    results = [(c.response_model, "serialization") for cs in http.values() for c in cs if c.response_model]
    refs = _unified_schemas(doc, payloads, [(ErrorBody, "serialization"), (PingReply, "serialization"), *results])
    error_ref = refs[(ErrorBody, "serialization")]
    ping_ref = refs[(PingReply, "serialization")]

    for op_key, op in list(doc["operations"].items()):
        channel_key = op["channel"]["$ref"].rsplit("/", 1)[-1]
        channel = doc["channels"][channel_key]
        address: str = channel["address"]
        if "{project}" in address:
            channel["parameters"] = {"project": PROJECT_PARAMETER}
        if channel.get("description"):
            op.setdefault("summary", channel["description"])

        if address.startswith(subjects.CMD_PREFIX + "."):
            domain, action = address.split(".", 3)[3].split(".", 1)
            calls = http.get((domain, action), [])
            op["tags"] = [{"name": domain}]
            op["x-openstage-command"] = {"domain": domain, "action": action, "queue": domain}
            if calls:
                op["x-openstage-http"] = [{"method": c.method, "path": c.path, "summary": c.summary,
                                           "status": c.status} for c in calls]
                op["description"] = "HTTP equivalent: " + ", ".join(f"`{c.method} {c.path}`" for c in calls) + "."
            else:
                op["description"] = "Bus only: no HTTP route forwards to this command."
            _add_reply(doc, op_key, op, _reply_schema(op_key, calls, refs, error_ref),
                       "The requester's inbox (the request's NATS reply subject; a tenant's is "
                       f"{nats_auth.tenant_inbox_prefix('<AK>')}.*).")
        elif address.startswith(subjects.PING_PREFIX + "."):
            op["tags"] = [{"name": "liveness"}]
            _add_reply(doc, op_key, op, ping_ref, "The requester's inbox (the request's NATS reply subject).")
        elif address == ALL_EVENTS_CHANNEL:
            channel["parameters"] = {"project": PROJECT_PARAMETER, **EVENT_PARAMETERS}
            channel["x-openstage-stream"] = subjects.EVENTS_STREAM
            op["tags"] = [{"name": "events"}]
        elif address.startswith(subjects.EVT_PREFIX + "."):
            domain, entity, verb = _event_parts(op_key)
            op["tags"] = [{"name": domain}, {"name": "events"}]
            op["x-openstage-event"] = {"type": op_key, "domain": domain, "entity": entity, "verb": verb,
                                       "stream": subjects.EVENTS_STREAM, "worker": emitters.get(op_key)}
            channel["x-openstage-stream"] = subjects.EVENTS_STREAM

    # commands by domain, then events, then liveness: a viewer grouping by tag shows each group once
    def order(item: tuple[str, dict]) -> tuple:
        tags = [t["name"] for t in item[1].get("tags", [])]
        group = 2 if "liveness" in tags else 1 if "events" in tags else 0
        return group, (tags or [""])[0], item[0]

    doc["operations"] = dict(sorted(doc["operations"].items(), key=order))
    return doc


def build_document(workers: dict[str, str] | None = None) -> dict:
    """The AsyncAPI 3.0 document (a fresh dict) of the given workers (default: every worker)."""
    found = worker_docs(workers)
    doc, payloads = _faststream_schema(found)
    return _complete(doc, payloads, found, edge_commands())


@lru_cache(maxsize=1)
def _cached() -> str:
    return json.dumps(build_document(), ensure_ascii=False)


def asyncapi_document() -> dict:
    """The document of every worker in ``workers.WORKERS``; built once per process."""
    return json.loads(_cached())


def asyncapi_json() -> bytes:
    return _cached().encode()
