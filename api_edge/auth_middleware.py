"""ASGI middleware: every /v1, /v2, /v3 and /v4 request is authenticated and scoped to the project in
its path before anything else reads it (so an unsigned, malformed request gets 401, not 400).
/v2 takes AK/SK or X-Auth-Token (api_edge/auth.py); the registry and config surfaces (/v4, /v3,
/v1 Kie) take what OPENSTAGE_REGISTRY_AUTH turns on (api_edge/registry_tokens.py): Service-Center
RBAC bearer tokens, AK/SK, or none. ``POST /v4/token`` and the health/version probes need no
credential (as in Service-Center).
It also caps the body: its size, and how deep its JSON nests (services.contracts.input_validation.MAX_JSON_DEPTH),
before any JSON parser or serializer of the edge sees it."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_edge.auth import Authenticator, AuthError, Principal
from api_edge.error_responses import error_response
from api_edge.rate_limit import RateLimiter, retry_after_header
from api_edge.registry_tokens import TOKEN_PATH, RegistryAuth, is_probe_path, parse_modes
from services.contracts.input_validation import MAX_JSON_DEPTH, json_nesting
from services.contracts.subjects import PROJECT_ID_PATTERN

log = logging.getLogger("openstage.edge.auth")

API_PREFIXES = ("/v1/", "/v2/", "/v3/", "/v4/")
REGISTRY_PREFIXES = ("/v1/", "/v3/", "/v4/")  # the registry and config surfaces (Service-Center, Kie)


class BodyTooLarge(Exception):
    pass


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        max_body_bytes: int,
        registry_max_body_bytes: int | None = None,
        rate_limiter: RateLimiter | None = None,
        read_timeout: float = 0,
        registry_auth: RegistryAuth | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.registry_auth = registry_auth or RegistryAuth(parse_modes("aksk"))
        self.max_body_bytes = max_body_bytes
        # Service-Center takes bodies up to 2 MiB (server.request.maxBodyBytes) on /v4
        self.registry_max_body_bytes = registry_max_body_bytes or max_body_bytes
        self.rate_limiter = rate_limiter or RateLimiter(0)
        self.read_timeout = read_timeout  # seconds to receive the whole body (0: no limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        segments = path.split("/")
        project_id = segments[2] if len(segments) > 2 else ""

        async def reject(status: int, message: str, headers: dict | None = None, code: str | None = None, detail: str = "") -> None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4000 + status})
                return
            await error_response(path, status, code, message, detail, headers=headers)(scope, receive, send)

        body = b""
        if scope["type"] == "http" and _has_body(scope["headers"]):
            limit = self.registry_max_body_bytes if path.startswith("/v4/") else self.max_body_bytes
            try:
                async with asyncio.timeout(self.read_timeout or None):
                    body = await self._read_body(scope, receive, limit)
            except BodyTooLarge:
                if path.startswith("/v4/"):
                    # Service-Center reads the body through http.MaxBytesReader and answers the
                    # read error as invalid parameters (server/handler/maxbody/maxbody.go)
                    await reject(400, "http: request body too large", code="400001", detail=f"the limit is {limit} bytes")
                else:
                    await reject(413, f"request body larger than {limit} bytes")
                return
            except TimeoutError:  # e.g. a Content-Length larger than what is sent
                await reject(408, f"request body not received within {self.read_timeout:g}s", {"Connection": "close"})
                return

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        def aksk() -> Principal:
            return self.authenticator.authenticate(
                scope["method"] if scope["type"] == "http" else "GET",
                # the signature covers the path as sent (still percent-encoded)
                (scope.get("raw_path") or path.encode()).decode("latin-1").split("?", 1)[0],
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                body,
            )

        registry = path.startswith(REGISTRY_PREFIXES)
        if registry and path.rstrip("/") == TOKEN_PATH:
            # Service-Center's login: no credential; 404 when RBAC is off (what java-chassis expects then)
            if not self.registry_auth.rbac:
                await reject(404, "the registry's RBAC is off: no /v4/token")
                return
            await self._pass(scope, receive, send, body, {"registry_tokens": self.registry_auth.tokens})
            return
        if registry and is_probe_path(path):
            # health/version probes need no credential (Service-Center's white list) in every mode
            await self._pass(scope, receive, send, body, {"principal": Principal(kind="open", key_id="probe", projects=[project_id])})
            return
        try:
            config_surface = path.startswith(("/v3/", "/v1/"))
            principal = self.registry_auth.authenticate(headers, aksk, config_surface) if registry else aksk()
            if not PROJECT_ID_PATTERN.match(project_id):
                await reject(400, "invalid project id")
                return
            if principal.kind == "rbac":
                self.registry_auth.authorize(principal, project_id)
            else:
                self.authenticator.authorize(principal, project_id)
        except AuthError as exc:
            await reject(exc.status, exc.message, code=exc.code, detail=exc.detail)
            return
        if principal.kind == "open":  # rate-limited per client address, not all anonymous callers as one
            client = scope.get("client")
            principal = principal.model_copy(update={"key_id": f"open:{client[0] if client else ''}"})
        wait = self.rate_limiter.acquire(principal.key_id)
        if wait:
            await reject(429, "too many requests for this credential", {"Retry-After": retry_after_header(wait)})
            return

        await self._pass(scope, receive, send, body, {"principal": principal})

    async def _pass(self, scope: Scope, receive: Receive, send: Send, body: bytes, state: dict) -> None:
        """Hand the request on (``state`` into the scope's), its body already read."""
        scope.setdefault("state", {}).update(state)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        # (a body with fewer opening brackets than the limit cannot nest deeper: most bodies)
        if body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH and json_nesting(body) > MAX_JSON_DEPTH:
            message = f"request body nests deeper than {MAX_JSON_DEPTH} levels"
            await error_response(scope["path"], 400, None, message)(scope, receive, send)
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive, limit: int) -> bytes:
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    if int(v) > limit:
                        raise BodyTooLarge()
                except ValueError:
                    pass
        chunks = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request has a body to read (RFC 9112 6.3: one with neither Transfer-Encoding nor
    Content-Length has none; a heartbeat or a find has none): those are not waited for at all."""
    has = False
    for k, v in headers:
        if k == b"transfer-encoding":
            return True
        if k == b"content-length":
            has = v.strip() != b"0"
    return has
