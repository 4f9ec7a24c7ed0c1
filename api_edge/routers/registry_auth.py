"""POST /v4/token: Service-Center's RBAC login (server/resource/rbac/auth_resource.go, ``Login``).

Answered by the edge itself (no worker, no command): the account, its password hash and the
signing secret are the edge's configuration (api_edge/registry_tokens.py). It is not in
``ROUTERS`` (every route listed there forwards a command); app.py includes it.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from api_edge.auth import AuthError
from api_edge.error_responses import error_response
from api_edge.registry_tokens import RegistryTokens
from services.contracts.input_validation import describe_validation_error

router = APIRouter(tags=["registry authentication"])


class TokenRequest(BaseModel):
    """Service-Center's ``rbac.Account`` as the login reads it (go-chassis/cari rbac/account.go)."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    password: str = Field(default="", repr=False)
    tokenExpirationTime: str = Field(default="", description="a Go duration, 15m..24h; default 12h")


class TokenResponse(BaseModel):
    token: str


@router.post(
    "/v4/token",
    response_model=TokenResponse,
    summary="Log in with a registry account: the token to send as Authorization: Bearer <token>",
    openapi_extra={
        "security": [],
        "requestBody": {"required": True, "content": {"application/json": {"schema": TokenRequest.model_json_schema()}}},
    },
)
async def create_token(request: Request) -> Response | TokenResponse:
    tokens: RegistryTokens | None = request.scope.get("state", {}).get("registry_tokens")
    if tokens is None:  # only reachable past the auth middleware, which hands the issuer in
        return error_response(request.url.path, 404, None, "the registry's RBAC is off: no /v4/token")
    # as Service-Center: the body is JSON whatever the Content-Type says (auth_resource.go Login)
    try:
        body = TokenRequest.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        return error_response(request.url.path, 400, None, "Invalid parameter(s)", describe_validation_error(exc))
    try:
        # the password hash is slow on purpose: off the event loop
        client = request.client.host if request.client else ""
        token = await asyncio.to_thread(tokens.login, body.name, body.password, body.tokenExpirationTime or None, client)
    except AuthError as exc:
        return error_response(request.url.path, exc.status, exc.code, exc.message, exc.detail)
    return TokenResponse(token=token)
