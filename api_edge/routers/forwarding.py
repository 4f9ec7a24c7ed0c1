"""What every route uses: who is calling, and forwarding the command the route declares to its worker."""

from __future__ import annotations

import email.message
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from api_edge.auth import Principal
from api_edge.route_commands import route_command

Q = TypeVar("Q", bound=BaseModel)


def from_query(model: type[Q], query: Mapping[str, str], **path: Any) -> Q:
    """A list's command from the query values, taken as a route's ``Query()`` model takes them:
    each field's value by name (the last one given), every other value ignored; ``path`` adds the
    path's values (e.g. the application id). Used by api_edge/raw_asgi_routes.py for the lists it
    answers before FastAPI's routing (a ValidationError there passes the request on to the route)."""
    return model.model_validate({**{name: query[name] for name in model.model_fields if name in query and name not in path}, **path})


def json_body(raw: bytes, content_type: str | None) -> Any:
    """The body as FastAPI decodes it for a route's JSON body model (fastapi/routing.py, with its
    default ``strict_content_type``): JSON only under an application/json (or ``+json``) content
    type. Anything else raises ValueError: api_edge/raw_asgi_routes.py then passes the request on
    to the route itself, which answers it."""
    if not raw or not content_type:
        raise ValueError("no body, or no content type")
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise ValueError("not a JSON body")
    return json.loads(raw)


def principal(request: Request) -> Principal:
    return request.scope["state"]["principal"]


def creator(request: Request) -> str:
    """Who a created resource or job is recorded as made by: the caller's key id."""
    return principal(request).key_id


async def forward(request: Request, project_id: str, payload: BaseModel | bytes | None = None, timeout: float | None = None) -> Response:
    """Request the command the route declares (``@sends``, api_edge/route_commands.py) with ``payload``
    (a model, or its JSON already encoded) and answer with the reply (api_edge/reply_responses.py).
    ``timeout``: seconds to wait for the worker (default: the edge's request timeout)."""
    command = route_command(request.scope["endpoint"])
    bus = request.app.state.bus
    if timeout is None:
        return await bus.forward(request.url.path, project_id, command, payload)
    return await bus.forward(request.url.path, project_id, command, payload, timeout)
