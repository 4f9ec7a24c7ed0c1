"""The edge's documentation pages, served entirely from installed packages (no CDN, works offline):

- ``/docs``            Swagger UI of the HTTP API (assets: the ``fastapi-offline`` wheel)
- ``/asyncapi.json``   the AsyncAPI 3.0 document of the bus (``api_edge.asyncapi``, built once)
- ``/asyncapi``        that document rendered by the ``<asyncapi-viewer>`` web component
                       (assets: the ``asyncapi-viewer`` wheel)
- ``/docs-static/...`` the assets themselves

FastAPI's own /docs and /redoc pages load Swagger UI / ReDoc from a CDN: ``mount_docs`` removes them
(ReDoc is not offered: its bundle always fetches a logo from its vendor's CDN).
None of these paths needs authentication (the AuthMiddleware guards /v2, /v3 and /v4 only).
"""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

STATIC_PREFIX = "/docs-static"


def _package_dir(name: str) -> Path:
    """Where an installed package's files are, without importing it (``importlib.resources.files``
    runs its ``__init__``: asyncapi_viewer's loads markdown and yaml, ~2 MB of the edge's memory)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


SWAGGER_STATIC = _package_dir("fastapi_offline") / "static"
ASYNCAPI_STATIC = _package_dir("asyncapi_viewer") / "static"


def _asyncapi_page(root: str, title: str) -> str:
    assets = f"{root}{STATIC_PREFIX}/asyncapi"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(title)} - AsyncAPI</title>
  <link rel="icon" href="{root}{STATIC_PREFIX}/swagger/favicon.png">
  <link rel="stylesheet" href="{assets}/asyncapi-theme.css">
  <script type="module" src="{assets}/asyncapi-viewer.js"></script>
  <style>html, body {{ margin: 0; }}</style>
</head>
<body>
  <asyncapi-viewer id="asyncapi" src="{root}/asyncapi.json" sidebar show-operations="byOperationsTags"></asyncapi-viewer>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> None:
    """Replace FastAPI's CDN-based /docs (and drop /redoc) with an offline one; add /asyncapi(.json)."""
    cdn_pages = {p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p}
    app.router.routes[:] = [r for r in app.router.routes if not (isinstance(r, Route) and r.path in cdn_pages)]
    app.docs_url = app.redoc_url = None

    app.mount(f"{STATIC_PREFIX}/swagger", StaticFiles(directory=SWAGGER_STATIC), name="docs-static-swagger")
    app.mount(f"{STATIC_PREFIX}/asyncapi", StaticFiles(directory=ASYNCAPI_STATIC), name="docs-static-asyncapi")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
            swagger_js_url=f"{root}{STATIC_PREFIX}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PREFIX}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PREFIX}/swagger/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_document() -> Response:
        # the first call builds the document (imports every worker's routers); later calls reuse it
        from api_edge.asyncapi import asyncapi_json  # here: it imports every worker's handlers (~8 MB the edge need not hold idle)

        return Response(await run_in_threadpool(asyncapi_json), media_type="application/json")

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_page(request: Request) -> HTMLResponse:
        from api_edge.asyncapi import TITLE as BUS_TITLE

        return HTMLResponse(_asyncapi_page(request.scope.get("root_path", ""), BUS_TITLE))
