"""The HTTP edge: authenticate, validate into the contract model, request the command on the bus,
return the typed reply. It owns no data."""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from api_edge.auth import Authenticator, load_credentials_json, load_tokens_json
from api_edge.auth_middleware import AuthMiddleware
from api_edge.bus_client import BusClient
from api_edge.console import mount_console
from api_edge.docs import mount_docs
from api_edge.error_responses import error_response
from api_edge.heartbeat_batches import HeartbeatBatches
from api_edge.rate_limit import RateLimiter
from api_edge.raw_asgi_routes import RawAsgiRoutes
from api_edge.registry_memory import EdgeRegistryMemory
from api_edge.registry_tokens import load_registry_auth
from api_edge.routers import ROUTERS, registry_auth
from services.adapters import bus
from services.adapters.registry_events import RegistryEventSubscription
from services.contracts import errors, subjects
from services.contracts.errors import ServiceError
from services.contracts.input_validation import describe_validation_error
from services.settings import Settings, get_settings
from workers import expected_workers

log = logging.getLogger("openstage.edge")
_UNREADABLE_BODY = "There was an error parsing the body"  # fastapi.routing's HTTPException detail
_JOBS_WITHOUT_ID = re.compile(r"^/v2/[^/]+/cas/jobs/*$")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = err.get("msg", "invalid value")
        if err.get("type") == "json_invalid":
            return "request body is not valid JSON"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def load_authenticator(settings: Settings) -> Authenticator:
    """AK/SK credentials from OPENSTAGE_CREDENTIALS, else the one `openstage up` generated in the
    data directory (credentials.json); tokens from OPENSTAGE_TOKENS come in addition (setting
    tokens never turns the generated AK/SK off)."""
    credentials = load_credentials_json(settings.credentials)
    tokens = load_tokens_json(settings.tokens)
    if not credentials:
        secret_file = settings.data_dir / "credentials.json"
        if secret_file.exists():
            credentials = load_credentials_json(secret_file.read_text())
    if not credentials and not tokens:
        log.warning("no credentials configured: every API request will be refused (set OPENSTAGE_CREDENTIALS)")
    return Authenticator(credentials, tokens, max_skew_seconds=settings.max_clock_skew_seconds)


SECURITY_SCHEMES = {
    "token": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Auth-Token",
        "description": 'A static token from OPENSTAGE_TOKENS (`[{"token": "...", "projects": ["p1"]}]`). '
        "Paste it under Authorize to use Try it out.",
    },
    "aksk": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "SDK-HMAC-SHA256 request signing with an AK/SK, as the Huawei Cloud SDKs sign: "
        "`Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=host;x-sdk-date, Signature=<hex>` with "
        "an `X-Sdk-Date: YYYYMMDDTHHMMSSZ` header (at most 15 minutes off). The signature covers the method, "
        "path, query, signed headers and body, so it cannot be typed here: use the SDK, `openstage api "
        "METHOD PATH`, or the console at /console (it signs in the browser).",
    },
}
SECURED_PREFIXES = ("/v2/", "/v3/", "/v4/")


def add_security_schemes(app: FastAPI) -> None:
    """Declare the token and AK/SK schemes in the OpenAPI document (Swagger UI's Authorize lists
    both); every /v2, /v3 and /v4 operation names the token scheme, so Try it out sends it."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(SECURED_PREFIXES):
                for operation in operations.values():
                    if isinstance(operation, dict) and operation.get("security") != []:
                        # (an operation that declares no security, such as POST /v4/token, keeps it)
                        # only the token is required here: a tool that generates requests from the
                        # document (Swagger's Try it out, a fuzzer) cannot produce a signature
                        operation["security"] = [{"token": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _no_telemetry() -> dict:
    """Newer FastAPI releases trace every request through OpenTelemetry hooks (checking the
    environment per request); the edge does not use them."""
    import inspect

    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    return {}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    bus_client = BusClient(None, settings.request_timeout)
    workers = expected_workers(settings.workers)
    # what the edge remembers of registry answers (api_edge/registry_memory.py), kept true by events
    memory = EdgeRegistryMemory() if settings.edge_registry_memory else None
    heartbeats = HeartbeatBatches(bus_client, memory) if memory is not None else None
    registry_events = RegistryEventSubscription(memory, connection_name="openstage-edge-registry-events") if memory is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.nats_url:
            if registry_events is not None:  # following events before the first answer is kept
                await registry_events.subscribe(settings.nats_url)
            bus_client.nc = await bus.connect(settings.nats_url, name="openstage-edge")
        yield
        if heartbeats is not None:
            await heartbeats.stop()
        if registry_events is not None:
            await registry_events.stop()
        if bus_client.nc:
            await bus_client.nc.drain()

    app = FastAPI(
        title="openstage",
        version="0.1.0",
        description="Huawei Cloud ServiceStage v2 API and a Service-Center v4 compatible registry.",
        lifespan=lifespan,
        **_no_telemetry(),
    )
    app.state.settings = settings
    app.state.bus = bus_client

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(registry_auth.router)  # POST /v4/token (answered by the edge, no command)
    mount_console(app)  # /console (and / -> /console), /v2/{project_id}/events (api_edge/console)
    add_security_schemes(app)
    mount_docs(app)  # /docs, /redoc, /asyncapi(.json), all assets served offline (api_edge/docs.py)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(request.url.path, exc.status, exc.code, exc.message, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message = _validation_message(exc)
        code = errors.INVALID_JSON if message.startswith("request body is not valid JSON") else None
        return error_response(request.url.path, 400, code, message)

    @app.exception_handler(ValidationError)
    async def _invalid_value(request: Request, exc: ValidationError) -> Response:
        # a path or query value that does not fit its contract model (e.g. a malformed id)
        return error_response(request.url.path, 400, None, describe_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and request.method == "GET" and _JOBS_WITHOUT_ID.match(request.url.path):
            # GET /v2/{project_id}/cas/jobs/ (the SDK with an empty job_id): Huawei's 400 SVCSTG.00100414
            return error_response(request.url.path, 400, errors.JOB_ID_EMPTY, "job id can not empty")
        if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
            # FastAPI could not even decode the JSON body (e.g. invalid UTF-8): the same answer
            # as for any other body that is not JSON
            return error_response(request.url.path, 400, errors.INVALID_JSON, "request body is not valid JSON")
        return error_response(request.url.path, exc.status_code, None, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request.url.path, 500, None, "internal error")

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> Response:
        nc = bus_client.nc
        if nc is None or not nc.is_connected:
            return JSONResponse({"status": "unavailable", "reason": "message bus not connected"}, status_code=503)

        async def ping(domain: str) -> str | None:
            try:
                await nc.request(subjects.ping(domain), b"", timeout=2.0)
                return None
            except Exception:
                return domain

        missing = [d for d in await asyncio.gather(*(ping(d) for d in workers)) if d]
        if missing:
            return JSONResponse({"status": "unavailable", "reason": f"workers not answering: {', '.join(missing)}"}, status_code=503)
        return JSONResponse({"status": "ready", "workers": sorted(workers)})

    # heartbeat and discovery; inside AuthMiddleware (added last = outermost)
    app.add_middleware(RawAsgiRoutes, memory=memory, heartbeats=heartbeats)
    app.add_middleware(
        AuthMiddleware,
        authenticator=load_authenticator(settings),
        max_body_bytes=settings.max_body_bytes,
        registry_max_body_bytes=settings.registry_max_body_bytes,
        rate_limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        read_timeout=settings.read_timeout,
        registry_auth=load_registry_auth(settings),
    )
    return app
