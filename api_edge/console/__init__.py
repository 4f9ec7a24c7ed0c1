"""The web console: ``/console`` (and ``/`` redirecting to it), served by the edge, offline.

It is a client of the same HTTP API as everyone else: the browser signs every request with the
AK/SK (SDK-HMAC-SHA256, with WebCrypto; static/signer.js) or sends the token; the edge checks it
like any other request. The one thing the console adds to the API is the project's event stream
(``GET /v2/{project_id}/events``, Server-Sent Events, authenticated and scoped like any /v2 call:
api_edge/console/events.py), which feeds its live job timeline, registry view and event feed.

Every asset is a file of this package (plain modern JavaScript with web components, no framework,
no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, RedirectResponse

from api_edge.console.events import router as events_router

STATIC = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"


def mount_console(app: FastAPI) -> None:
    app.include_router(events_router)
    app.mount(f"{CONSOLE_PATH}/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PATH, status_code=307)

    @app.get(CONSOLE_PATH, include_in_schema=False)
    @app.get(CONSOLE_PATH + "/", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})
