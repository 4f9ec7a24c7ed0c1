"""ASGI middleware: every /v2, /v3 and /v4 request is authenticated and scoped to the project in
its path before anything else reads it (so an unsigned, malformed request gets 401, not 400).
It also caps the body: its size, and how deep its JSON nests (services.contracts.input_validation.MAX_JSON_DEPTH),
before any JSON parser or serializer of the edge sees it."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_edge.auth import Authenticator, AuthError
from api_edge.error_responses import error_response
from api_edge.rate_limit import RateLimiter, retry_after_header
from services.contracts.input_validation import MAX_JSON_DEPTH, json_nesting
from services.contracts.subjects import PROJECT_ID_PATTERN

log = logging.getLogger("openstage.edge.auth")

API_PREFIXES = ("/v2/", "/v3/", "/v4/")


class BodyTooLarge(Exception):
    pass


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        max_body_bytes: int,
        rate_limiter: RateLimiter | None = None,
        read_timeout: float = 0,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.max_body_bytes = max_body_bytes
        self.rate_limiter = rate_limiter or RateLimiter(0)
        self.read_timeout = read_timeout  # seconds to receive the whole body (0: no limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        segments = path.split("/")
        project_id = segments[2] if len(segments) > 2 else ""

        async def reject(status: int, message: str, headers: dict | None = None) -> None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4000 + status})
                return
            await error_response(path, status, None, message, headers=headers)(scope, receive, send)

        body = b""
        if scope["type"] == "http":
            try:
                async with asyncio.timeout(self.read_timeout or None):
                    body = await self._read_body(scope, receive)
            except BodyTooLarge:
                await reject(413, f"request body larger than {self.max_body_bytes} bytes")
                return
            except TimeoutError:  # e.g. a Content-Length larger than what is sent
                await reject(408, f"request body not received within {self.read_timeout:g}s", {"Connection": "close"})
                return

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            principal = self.authenticator.authenticate(
                scope["method"] if scope["type"] == "http" else "GET",
                # the signature covers the path as sent (still percent-encoded)
                (scope.get("raw_path") or path.encode()).decode("latin-1").split("?", 1)[0],
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                body,
            )
            if not PROJECT_ID_PATTERN.match(project_id):
                await reject(400, "invalid project id")
                return
            self.authenticator.authorize(principal, project_id)
        except AuthError as exc:
            await reject(exc.status, exc.message)
            return
        wait = self.rate_limiter.acquire(principal.key_id)
        if wait:
            await reject(429, "too many requests for this credential", {"Retry-After": retry_after_header(wait)})
            return

        scope.setdefault("state", {})["principal"] = principal
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if body and json_nesting(body) > MAX_JSON_DEPTH:
            await reject(400, f"request body nests deeper than {MAX_JSON_DEPTH} levels")
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    if int(v) > self.max_body_bytes:
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
            if size > self.max_body_bytes:
                raise BodyTooLarge()
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)
