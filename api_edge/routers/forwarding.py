"""Helpers every router uses: who is calling, and forwarding a command to its worker."""
from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from api_edge.auth import Principal


def principal(request: Request) -> Principal:
    return request.scope["state"]["principal"]


async def forward(request: Request, project_id: str, domain: str, action: str,
                  payload: BaseModel | None = None) -> Response:
    """Request ``openstage.cmd.<project_id>.<domain>.<action>`` with ``payload`` and answer with the reply."""
    return await request.app.state.bus.call(request.url.path, project_id, domain, action, payload)
