"""The registry's two hottest routes answered in raw ASGI, before FastAPI's routing, dependency
solving and exception layers: a heartbeat (``PUT /v4/{project}/registry/microservices/{id}/instances/{id}/heartbeat``)
and discovery (``GET /v4/{project}/registry/instances``).

Each is the FastAPI route of api_edge/routers/registry.py (``heartbeat``, ``find_instances``: the
OpenAPI contract) taken a shorter way: the same command builder, the command that route declares,
and the one forward (``BusClient.forward``: request, then api_edge/reply_responses.py). The e2e
registry tests run through here. Runs inside AuthMiddleware: requests are authenticated."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from api_edge.route_commands import route_command
from api_edge.routers import registry

_CONSUMER_HEADER = registry.CONSUMER_ID_HEADER.lower().encode("latin-1")


@dataclass(frozen=True)
class RawCall:
    """A request for one of the raw-ASGI routes: its project, the route it stands for, the command payload."""

    project_id: str
    route: Callable[..., Any]
    payload: BaseModel


def match(method: str, path: str, query_string: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()) -> RawCall | None:
    """The raw-ASGI route a request is for, else None (FastAPI answers it). Pure: unit-tested."""
    if not path.startswith("/v4/"):
        return None
    parts = path.split("/")
    if (
        method == "PUT"
        and len(parts) == 9
        and parts[3] == "registry"
        and parts[4] == "microservices"
        and parts[6] == "instances"
        and parts[8] == "heartbeat"
        and parts[5]
        and parts[7]
    ):
        return RawCall(parts[2], registry.heartbeat, registry.heartbeat_command(parts[5], parts[7]))
    if method == "GET" and len(parts) == 5 and parts[3] == "registry" and parts[4] == "instances":
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        consumer = next((v.decode("latin-1") for k, v in headers if k == _CONSUMER_HEADER), None)
        return RawCall(parts[2], registry.find_instances, registry.find_command(query, consumer))
    return None


class RawAsgiRoutes:
    """ASGI middleware: answers ``match``-ed requests itself, passes every other one on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = None
        if scope["type"] == "http":
            call = match(scope["method"], scope["path"], scope.get("query_string", b""), scope["headers"])
        if call is None:
            await self.app(scope, receive, send)
            return
        bus = scope["app"].state.bus  # Starlette puts the app in the scope before its middleware
        response = await bus.forward(scope["path"], call.project_id, route_command(call.route), call.payload)
        await response(scope, receive, send)
