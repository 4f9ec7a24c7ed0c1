"""The hottest routes answered in raw ASGI, before FastAPI's routing, dependency solving and
exception layers:

- the registry's heartbeat (``PUT /v4/{project}/registry/microservices/{id}/instances/{id}/heartbeat``),
  discovery (``GET /v4/{project}/registry/instances``) and registration
  (``POST /v4/{project}/registry/microservices/{id}/instances``);
- the v2 reads ``GET /v2/{project}/cas/environments``, ``.../applications``,
  ``.../applications/{id}/components`` and ``.../components/{id}/instances`` (lists), and
  ``.../environments/{id}``, ``.../applications/{id}``, ``.../applications/{id}/components/{id}``
  ``.../components/{id}/instances/{id}`` and ``.../jobs/{id}`` (show);
- the v2 creates ``POST /v2/{project}/cas/environments``, ``.../applications``,
  ``.../applications/{id}/components`` and ``.../components/{id}/instances``.

Each is its FastAPI route (api_edge/routers/*.py: the OpenAPI contract) taken a shorter way: the
same command builder, the command that route declares, and the one forward (``BusClient.forward``:
request, then api_edge/reply_responses.py). A request the builder refuses (a malformed id, a bad
``limit``, a body that is not JSON...) is passed on to FastAPI, body included, so the route itself
answers it: there is one validation and one error shape, whichever way a request goes
(tests/unit/test_raw_asgi_same_answers.py sends the same requests both ways). The e2e registry
tests run through here. Runs inside AuthMiddleware: requests are authenticated, bodies capped.

With the edge's registry memory (api_edge/registry_memory.py, on by default), a heartbeat, a find
or a re-registration a worker has answered is answered here from memory while nothing of its
project changed, and every registry write drops its project's memory before and after it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_edge.heartbeat_batches import HeartbeatBatches
from api_edge.registry_memory import EdgeRegistryMemory, FindKey, InstanceKey, KeptAnswer
from api_edge.reply_responses import result_response
from api_edge.route_commands import route_command
from api_edge.routers import applications, component_instances, components, environments, jobs, registry
from api_edge.routers.forwarding import from_query, json_body
from services.contracts import applications as application_contracts
from services.contracts import component_instances as instance_contracts
from services.contracts import components as component_contracts
from services.contracts import environments as environment_contracts

_CONSUMER_HEADER = registry.CONSUMER_ID_HEADER.lower().encode("latin-1")


@dataclass(frozen=True)
class RawCall:
    """A request for one of the raw-ASGI routes: its project, the route it stands for, and the
    command payload: built from the path and query (``payload``; for a registry heartbeat or find,
    a function that builds it, called by :meth:`command` only when the edge does not answer from
    memory), or, for a route that reads its body, by ``from_body`` from the body as received."""

    project_id: str
    route: Callable[..., Any]
    payload: BaseModel | Callable[[], BaseModel] | None
    # (the body, the caller's key id) -> the command
    from_body: Callable[[bytes, str], BaseModel] | None = None
    # the command depends on the path and the body only: the same again is the same command
    # (an instance's periodic re-registration), its JSON kept by RawAsgiRoutes (``encoded``)
    pure_body: bool = False
    # a heartbeat: the instance's (serviceId, instanceId); a find: its key (query string, X-ConsumerId)
    # (answered from api_edge/registry_memory.py while nothing changed)
    heartbeat_of: InstanceKey | None = None
    find_key: FindKey | None = None
    registration_of: str | None = None  # a registration: the serviceId

    def command(self) -> BaseModel | None:
        """The command built from the path and query (None for a route that reads its body)."""
        return self.payload() if callable(self.payload) else self.payload


def match(method: str, path: str, query_string: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()) -> RawCall | None:
    """The raw-ASGI route a request is for, else None (FastAPI answers it: another route, or a
    request the route's builder refuses). Pure: unit-tested."""
    if path.startswith("/v4/"):
        return _match_registry(method, path.split("/"), query_string, headers)
    parts = _v2_parts(path)
    if parts is None:
        return None
    if method == "GET":
        try:
            return _match_v2_read(parts, query_string)
        except Exception:  # the builder refuses the request: the route answers it, in its own words
            return None
    if method == "POST":
        return _match_v2_create(parts, _content_type(headers))
    return None


def _v2_parts(path: str) -> list[str] | None:
    """``/v2/{project}/cas/{collection}/...`` split at "/", when no segment after the collection is empty."""
    if not path.startswith("/v2/"):
        return None
    parts = path.split("/")
    if len(parts) < 5 or parts[3] != "cas" or not parts[2] or not all(parts[5:]):
        return None
    return parts


def _content_type(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    return next((v.decode("latin-1") for k, v in headers if k == b"content-type"), None)


def _match_v2_create(parts: list[str], content_type: str | None) -> RawCall | None:
    """POST /v2/{project}/cas/...: create an environment, an application, a component or a
    component instance; the body is decoded and validated as the route's body model is
    (``forwarding.json_body``)."""
    project, collection = parts[2], parts[4]
    model: type[BaseModel]
    command: Callable[[Any, str], BaseModel]
    if len(parts) == 5 and collection == "environments":
        route, model, command = environments.create_environment, environment_contracts.EnvironmentCreate, environments.create_command
    elif len(parts) == 5 and collection == "applications":
        route, model, command = applications.create_application, application_contracts.ApplicationCreate, applications.create_command
    elif len(parts) == 7 and collection == "applications" and parts[6] == "components":
        route, model, command = (
            components.create_component,
            component_contracts.ComponentCreate,
            partial(components.create_command, parts[5]),
        )
    elif len(parts) == 9 and collection == "applications" and parts[6] == "components" and parts[8] == "instances":
        route, model, command = (
            component_instances.create_instance,
            instance_contracts.InstanceCreate,
            partial(component_instances.create_command, parts[5], parts[7]),
        )
    else:
        return None
    return RawCall(project, route, None, lambda body, caller: command(model.model_validate(json_body(body, content_type)), caller))


def _match_registry(method: str, parts: list[str], query_string: bytes, headers: Iterable[tuple[bytes, bytes]]) -> RawCall | None:
    if len(parts) < 5 or parts[3] != "registry":
        return None
    if (
        method == "PUT"
        and len(parts) == 9
        and parts[4] == "microservices"
        and parts[6] == "instances"
        and parts[8] == "heartbeat"
        and parts[5]
        and parts[7]
    ):
        heartbeat = partial(registry.heartbeat_command, parts[5], parts[7])
        return RawCall(parts[2], registry.heartbeat, heartbeat, heartbeat_of=(parts[5], parts[7]))
    if method == "GET" and len(parts) == 5 and parts[4] == "instances":
        consumer = next((v.decode("latin-1") for k, v in headers if k == _CONSUMER_HEADER), None)
        find = partial(_find_command, query_string, consumer)
        return RawCall(parts[2], registry.find_instances, find, find_key=(query_string, consumer))
    if method == "POST" and len(parts) == 7 and parts[4] == "microservices" and parts[6] == "instances" and parts[5]:
        service_id = parts[5]
        return RawCall(
            parts[2],
            registry.register_instance,
            None,
            lambda body, _caller: registry.register_command(service_id, body),
            pure_body=True,
            registration_of=service_id,
        )
    return None


def registry_write_project(method: str, path: str) -> str | None:
    """The project of a request that may change the registry (any /v4/{project}/registry/...
    request but a read), else None. Pure: unit-tested."""
    if method in _READS or not path.startswith("/v4/"):
        return None
    parts = path.split("/", 4)
    return parts[2] if len(parts) > 3 and parts[2] and parts[3] == "registry" else None


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _match_v2_read(parts: list[str], query_string: bytes) -> RawCall | None:
    """GET /v2/{project}/cas/...: the environment, application and component lists and details."""
    project, collection = parts[2], parts[4]
    if collection == "environments":
        if len(parts) == 5:
            return RawCall(project, environments.list_environments, environments.list_command(_query(query_string)))
        if len(parts) == 6:
            return RawCall(project, environments.show_environment, environments.show_command(parts[5]))
    elif collection == "jobs" and len(parts) == 6:
        return RawCall(project, jobs.show_job, jobs.show_command(parts[5], from_query(jobs.JobQuery, _query(query_string))))
    elif collection == "applications":
        if len(parts) == 5:
            return RawCall(
                project, applications.list_applications, from_query(application_contracts.ListApplications, _query(query_string))
            )
        if len(parts) == 6:
            return RawCall(project, applications.show_application, application_contracts.ApplicationRef(application_id=parts[5]))
        if len(parts) == 7 and parts[6] == "components":
            listed = from_query(component_contracts.ListComponents, _query(query_string), application_id=parts[5])
            return RawCall(project, components.list_components, listed)
        if len(parts) in (9, 10) and parts[6] == "components" and parts[8] == "instances":
            where = {"application_id": parts[5], "component_id": parts[7]}
            if len(parts) == 9:
                listed_instances = from_query(instance_contracts.ListInstances, _query(query_string), **where)
                return RawCall(project, component_instances.list_instances, listed_instances)
            return RawCall(project, component_instances.show_instance, instance_contracts.InstanceRef(**where, instance_id=parts[9]))
        if len(parts) == 8 and parts[6] == "components" and parts[7] != "overviews":  # (.../components/overviews: another route)
            ref = component_contracts.ComponentRef(application_id=parts[5], component_id=parts[7])
            return RawCall(project, components.show_component, ref)
    return None


def _find_command(query_string: bytes, consumer: str | None) -> BaseModel:
    return registry.find_command(_query(query_string), consumer)


def _query(query_string: bytes) -> dict[str, str]:
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


# commands kept by (path, body) for the ``pure_body`` routes (bodies up to MAX_ENCODED_BODY
# bytes: a few MB at most); emptied when full
MAX_ENCODED = 4_096
MAX_ENCODED_BODY = 2_048


class RawAsgiRoutes:
    """ASGI middleware: answers ``match``-ed requests itself, passes every other one on.

    With a ``memory`` (api_edge/registry_memory.py), a heartbeat of a live instance and a find
    answered before are answered from it (the heartbeat then leaves with the next of
    ``heartbeats``' batches), and every registry write drops its project's memory before it is
    forwarded and again once it is answered."""

    def __init__(self, app: ASGIApp, memory: EdgeRegistryMemory | None = None, heartbeats: HeartbeatBatches | None = None) -> None:
        self.app = app
        self.encoded: dict[tuple[str, bytes], bytes] = {}  # a pure_body route's commands as JSON
        self.memory = memory
        self.heartbeats = heartbeats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = match(scope["method"], scope["path"], scope.get("query_string", b""), scope["headers"])
        project = None if self.memory is None else registry_write_project(scope["method"], scope["path"])
        if call is None:
            await self._pass_on(scope, receive, send, project)
            return
        if call.from_body is None:
            response = await self._answer_from_path(call, scope)
        else:
            response = await self._answer_from_body(call, scope, receive, send, project)
        if response is not None:
            await response(scope, receive, send)

    async def _pass_on(self, scope: Scope, receive: Receive, send: Send, project: str | None) -> None:
        """A request FastAPI answers; a registry write drops its project's memory before and after it."""
        memory = self.memory
        if memory is None or project is None:
            await self.app(scope, receive, send)
            return
        memory.changed(project)
        try:
            await self.app(scope, receive, send)
        finally:
            memory.changed(project)

    async def _answer_from_path(self, call: RawCall, scope: Scope) -> Response:
        """A call built from the path and query: a heartbeat or a find from memory when it can be,
        else the command is built and forwarded (the answer of a heartbeat or find kept)."""
        memory = self.memory
        on_success = None
        if memory is not None and (call.heartbeat_of is not None or call.find_key is not None):
            answer = self._remembered(memory, call, scope["path"])
            if answer is not None:
                return answer
            on_success = partial(self._remember, memory, call, memory.generation(call.project_id))
        bus = scope["app"].state.bus  # Starlette puts the app in the scope before its middleware
        return await bus.forward(scope["path"], call.project_id, route_command(call.route), call.command(), on_success=on_success)

    async def _answer_from_body(self, call: RawCall, scope: Scope, receive: Receive, send: Send, project: str | None) -> Response | None:
        """A call built from its body: an unchanged re-registration from memory when it can be,
        else the command is built (or taken from ``encoded``) and forwarded. None when the route
        answered instead (a body the builder refuses: FastAPI gets the same messages)."""
        received, body = await _read_body(receive)
        complete = received[-1]["type"] == "http.request"
        key = (scope["path"], body) if call.pure_body and complete else None
        memory = self.memory
        if key is not None and memory is not None:
            answer = self._reregistered(memory, call, key, scope["path"])
            if answer is not None:
                return answer
        payload = None if key is None else self.encoded.get(key)
        if payload is None:
            try:
                if not complete:  # the client left: as FastAPI meets it
                    raise ConnectionResetError
                command = call.from_body(body, scope["state"]["principal"].key_id)  # type: ignore[misc]
            except Exception:  # refused (e.g. not JSON): the route answers it, from the same messages
                await self.app(scope, _replay(received, receive), send)
                return None
            payload = self._keep(key, command) if key is not None and len(body) <= MAX_ENCODED_BODY else command
        bus = scope["app"].state.bus
        forward = partial(bus.forward, scope["path"], call.project_id, route_command(call.route), payload)
        if memory is not None and project is not None:  # a registration
            return await self._forward_write(memory, project, forward, call, key)
        return await forward()

    def _remembered(self, memory: EdgeRegistryMemory, call: RawCall, path: str) -> Response | None:
        """The answer of a heartbeat of a live instance (passed on with the next batch) or of a
        find answered before, while nothing changed; else None."""
        if call.heartbeat_of is not None:
            if self.heartbeats is None or not memory.is_live(call.project_id, *call.heartbeat_of):
                return None
            self.heartbeats.add(call.project_id, *call.heartbeat_of)
            return _HEARTBEAT_OK
        assert call.find_key is not None
        return _prepared(memory.find(call.project_id, call.find_key), path)

    @staticmethod
    def _remember(
        memory: EdgeRegistryMemory, call: RawCall, generation: int, status: int, headers: dict[str, str] | None, result: bytes
    ) -> None:
        """A worker's successful answer to a heartbeat or a find (``BusClient.forward``'s ``on_success``)."""
        if call.heartbeat_of is not None:
            if status == 200:
                memory.keep_live(call.project_id, *call.heartbeat_of, generation)
        elif call.find_key is not None:
            memory.keep_find(call.project_id, call.find_key, generation, status, headers, result)

    def _reregistered(self, memory: EdgeRegistryMemory, call: RawCall, key: tuple[str, bytes], path: str) -> Response | None:
        """The answer of a registration the same as one a worker answered since the project last
        changed (a lease renewal, Service-Center's answer to a known instance: its renewal leaves
        with the next heartbeat batch); else None."""
        kept = memory.registration(call.project_id, key)
        if kept is None or self.heartbeats is None:
            return None
        self.heartbeats.add(call.project_id, *kept.instance)
        return _prepared(kept.answer, path)

    async def _forward_write(
        self,
        memory: EdgeRegistryMemory,
        project: str,
        forward: Callable[..., Awaitable[Response]],
        call: RawCall,
        key: tuple[str, bytes] | None,
    ) -> Response:
        """Forward a registration: the project's memory is dropped before and after it (a find or
        heartbeat answered meanwhile may predate it), then its answer is remembered by ``key`` when
        nothing but the same registration (10 instances of a client re-registering at once) changed
        the project meanwhile; its own event, if it changed anything, drops the answer again."""
        memory.changed(project, key)
        during = memory.generation(project)
        answered: list[tuple[int, dict[str, str] | None, bytes]] = []
        try:
            response = await forward(on_success=lambda *success: answered.append(success))
        finally:
            unchanged = memory.changed_only_by(project, during, key)
            memory.changed(project, key)
        if answered and unchanged and key is not None and call.registration_of is not None and len(key[1]) <= MAX_ENCODED_BODY:
            memory.keep_registration(project, key, memory.generation(project), call.registration_of, *answered[0])
        return response

    def _keep(self, key: tuple[str, bytes], command: BaseModel) -> bytes:
        if len(self.encoded) >= MAX_ENCODED:
            self.encoded.clear()
        self.encoded[key] = encoded = command.model_dump_json(by_alias=True).encode()
        return encoded


# a heartbeat's answer (a worker's {"status":200}); a Response sends the same messages every time
_HEARTBEAT_OK = result_response("/v4/", 200, None, b"null")


def _prepared(kept: KeptAnswer | None, path: str) -> Response | None:
    """The HTTP response of a kept answer, built at its first use."""
    if kept is None:
        return None
    if kept.prepared is None:
        kept.prepared = result_response(path, kept.status, kept.headers, kept.result)
    response: Response = kept.prepared
    return response


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    """The request's messages up to its last body chunk (or a disconnect), and the body."""
    received: list[Message] = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return received, b"".join(m.get("body", b"") for m in received if m["type"] == "http.request")


def _replay(received: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``received`` again, then the connection's next messages."""
    pending = list(received)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
