"""``GET /v2/{project_id}/events``: a project's CloudEvents as Server-Sent Events, live.

Authenticated and scoped like every /v2 call (AuthMiddleware: AK/SK signature or token, and the
credential must be granted the project), so a browser reads it with ``fetch`` and the signed
headers (EventSource cannot send headers). Fed the way the registry watch is
(api_edge/routers/registry_watch.py): an ephemeral ordered JetStream consumer on
``OPENSTAGE_EVENTS`` filtered to ``openstage.evt.<project>.>`` (or ``.<domain>.>``), delivering
new events in stream order. Each event is one ``data:`` line holding the CloudEvent; a comment
line every 15 s keeps proxies from closing an idle stream; the stream ends after
``MAX_STREAM_SECONDS`` (the client reconnects), and at once when the edge is asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from nats.js.api import DeliverPolicy
from starlette.responses import StreamingResponse

from api_edge.error_responses import error_response
from services.contracts import subjects

log = logging.getLogger("openstage.edge.events")

router = APIRouter(tags=["events (openstage)"])
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.5  # how soon a stream notices the process is stopping
MAX_STREAM_SECONDS = 300.0
DOMAINS = (subjects.LIFECYCLE, subjects.CONFIG, subjects.REGISTRY, subjects.JOBS)


# Set when the process is asked to stop: the streams end at once, so the HTTP server's graceful
# shutdown (which waits for responses in flight) is not held up by them.
STOPPING = threading.Event()
_signals_wrapped = False


def _end_streams_on_stop_signals() -> None:
    """Chain the server's SIGINT/SIGTERM handlers (uvicorn's, installed with signal.signal while it
    serves) so that a stop signal also sets STOPPING. Only the main thread may do this."""
    global _signals_wrapped
    if _signals_wrapped or threading.current_thread() is not threading.main_thread():
        return
    _signals_wrapped = True
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum, frame, previous=previous):
            STOPPING.set()
            previous(signum, frame)

        signal.signal(sig, handler)


def events_filter(project_id: str, domain: str | None) -> str:
    return f"{subjects.EVT_PREFIX}.{project_id}.{domain}.>" if domain else f"{subjects.EVT_PREFIX}.{project_id}.>"


# Not in the OpenAPI document: a response that never ends is no use to Swagger's Try it out, and a
# client generated from the document (or the fuzz tests) would wait on it forever. README.md
# ("The console and the CLI") documents it.
@router.get("/v2/{project_id}/events", include_in_schema=False)
async def follow_events(
    project_id: str,
    request: Request,
    domain: str | None = Query(default=None, description="only this domain's events: " + ", ".join(DOMAINS)),
):
    if domain is not None and domain not in DOMAINS:
        return error_response(request.url.path, 400, None, f"domain must be one of {', '.join(DOMAINS)}")
    bus = request.app.state.bus
    if bus.nc is None or not bus.nc.is_connected:
        return error_response(request.url.path, 503, None, "message bus not connected")
    try:
        sub = await bus.nc.jetstream().subscribe(
            events_filter(project_id, domain), stream=subjects.EVENTS_STREAM, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
    except Exception as exc:
        log.warning("event stream of %s not established: %s", project_id, exc)
        return error_response(request.url.path, 503, None, f"event stream not available: {exc}")

    _end_streams_on_stop_signals()

    async def stream() -> AsyncIterator[bytes]:
        ends = time.monotonic() + MAX_STREAM_SECONDS
        quiet_since = time.monotonic()
        try:
            yield b": connected\n\n"
            while time.monotonic() < ends and not STOPPING.is_set():
                try:
                    msg = await sub.next_msg(timeout=POLL_SECONDS)
                except TimeoutError:
                    if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                        quiet_since = time.monotonic()
                        yield b": keep-alive\n\n"
                    continue
                except Exception:  # the subscription or the connection went away
                    return
                if b"\n" in msg.data or b"\r" in msg.data:  # one data line per event
                    yield b"data: " + msg.data.replace(b"\r", b"").replace(b"\n", b" ") + b"\n\n"
                else:
                    yield b"data: " + msg.data + b"\n\n"
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(sub.unsubscribe())

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
