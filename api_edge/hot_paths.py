"""The registry's two hottest calls answered in raw ASGI, before FastAPI's routing, dependency
solving and exception layers: a heartbeat (`PUT .../instances/{id}/heartbeat`) and discovery
(`GET /v4/{project}/registry/instances`). Same command, same reply mapping as the FastAPI routes
in api_edge/routers/registry.py (which stay for the OpenAPI document and as the reference); the
e2e registry tests run through this path. Runs inside AuthMiddleware: requests are authenticated."""
from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from api_edge.error_responses import error_response
from services.contracts import errors
from services.contracts.subjects import REGISTRY, Registry

_CONSUMER_HEADER = b"x-consumerid"


def match(method: str, path: str) -> tuple[str, str, bytes] | None:
    """(project, action, command JSON) for a hot call, else None. Pure: unit-tested."""
    if not path.startswith("/v4/"):
        return None
    parts = path.split("/")
    if (method == "PUT" and len(parts) == 9 and parts[3] == "registry" and parts[4] == "microservices"
            and parts[6] == "instances" and parts[8] == "heartbeat" and parts[5] and parts[7]):
        return parts[2], Registry.INSTANCE_HEARTBEAT, orjson.dumps({"service_id": parts[5], "instance_id": parts[7]})
    return None


def find_command(query_string: bytes, consumer_id: str | None) -> bytes:
    q = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    return orjson.dumps({"app_id": q.get("appId"), "service_name": q.get("serviceName"), "version": q.get("version"),
                         "environment": q.get("env"), "tags": q.get("tags"), "rev": q.get("rev"),
                         "consumer_id": consumer_id})


class RegistryHotPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v4/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        hit = match(method, path)
        if hit is None and method == "GET":
            parts = path.split("/")
            if len(parts) == 5 and parts[3] == "registry" and parts[4] == "instances":
                consumer = next((v.decode("latin-1") for k, v in scope["headers"] if k == _CONSUMER_HEADER), None)
                hit = (parts[2], Registry.INSTANCE_FIND, find_command(scope.get("query_string", b""), consumer))
        if hit is None:
            await self.app(scope, receive, send)
            return
        from api_edge.routers.registry import _respond  # the FastAPI routes' reply mapping

        project, action, cmd = hit
        bus = scope["app"].state.bus  # Starlette puts the app in the scope before its middleware
        try:
            reply = await bus.request(project, REGISTRY, action, cmd)
            response = _respond(path, reply)
        except errors.ServiceError as exc:
            response = error_response(path, exc.status, exc.code, exc.message, exc.detail)
        await response(scope, receive, send)
