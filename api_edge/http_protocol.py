"""The edge's HTTP/1.1 server protocol: uvicorn's httptools protocol with three changes for
requests the application never sees:

- A request httptools cannot parse (CR, LF or NUL in a header value, two Content-Length headers,
  Content-Length with Transfer-Encoding, raw non-ASCII bytes in the path, an over-long URL) is
  answered in the API's own error shape (api_edge/error_responses.py: v2, or Service-Center's for /v3 and
  /v4) instead of uvicorn's plain-text "Invalid HTTP request received.".
- The request head (request line and headers) is capped at ``MAX_HEAD_BYTES``: beyond it the
  answer is 431 and the connection is closed (httptools alone buffers headers without bound).
- A client has ``read_timeout`` seconds to send a request's head, from when the connection is
  made or its previous response completes: then 408 and the connection is closed (httptools
  alone waits for ever). The body is timed by the AuthMiddleware.

openstage/cli.py runs the edge with ``http="api_edge.http_protocol:EdgeHttpProtocol"`` (a name,
so that ``--workers`` processes import it too); ``read_timeout`` is ``OPENSTAGE_READ_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api_edge.error_responses import error_body

MAX_HEAD_BYTES = 64 * 1024


@functools.cache
def _read_timeout() -> float:
    from services.settings import get_settings

    return get_settings().read_timeout


class EdgeHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = _read_timeout()
        self._reading_head = True
        self._head_bytes = 0  # bytes of the current head received in chunks that did not complete it
        self._head_size = 0  # bytes of the current head's URL and headers, as parsed
        self._message_no = 0
        self._refusal: tuple[int, str] | None = None
        self._start = b""  # the first bytes of the current request (its path picks the error shape)
        self._cycles: list = []  # requests of this connection not answered yet (pipelining)
        self._head_timer: asyncio.TimerHandle | None = None

    # --- the head timer -------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        if self.read_timeout > 0:
            self._head_timer = self.loop.call_later(self.read_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and self.transport is not None and not self.transport.is_closing():
            if self._message_no == 0:
                self.transport.close()  # nothing was sent at all: an idle connection, no answer
            else:
                self._refuse(408, f"request head not received within {self.read_timeout:g}s")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._drop_pending()
        super().connection_lost(exc)

    def _drop_pending(self) -> None:
        """Requests of this connection still being answered (pipelining; uvicorn tracks only the
        last one): their answers are dropped rather than written to a closed transport."""
        for cycle in self._cycles:
            if not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._reading_head:
            self._arm_head_timer()

    # --- the head size ----------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._message_no += 1
        self._reading_head = True
        self._head_bytes = self._head_size = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count_head(len(name) + len(value) + 4)

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD_BYTES:
            self._refusal = (431, f"request head larger than {MAX_HEAD_BYTES} bytes")
            raise ValueError("request head too large")  # httptools stops: data_received answers

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._disarm_head_timer()
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)
        self._cycles = [c for c in self._cycles if not c.response_complete]
        if cycle is not None and cycle not in self._cycles:
            self._cycles.append(cycle)

    def on_message_complete(self) -> None:
        self._reading_head = True
        self._start = b""
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        was_head, message_no = self._reading_head, self._message_no
        if was_head and len(self._start) < 64:
            self._start += data[: 64 - len(self._start)]
        super().data_received(data)
        # a head still incomplete after a chunk that belonged to it only: count the chunk
        if self._reading_head and was_head and message_no == self._message_no and message_no:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._refuse(431, f"request head larger than {MAX_HEAD_BYTES} bytes")

    # --- answers ----------------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        status, message = self._refusal or (400, "malformed HTTP request")
        self._refuse(status, message)

    def _refuse(self, status: int, message: str) -> None:
        """Answer in the API's error shape (by the request's path, when known) and close."""
        self._disarm_head_timer()
        self._drop_pending()
        url = getattr(self, "url", None) or b""
        if not url.startswith(b"/"):  # httptools refused the URL itself: read it from the request line
            parts = self._start.split(b" ", 2)
            url = parts[1] if len(parts) > 1 else b"/"
        path = url.decode("latin-1").split("?", 1)[0]
        body = orjson.dumps(error_body(path, status, None, message))
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n".encode()]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()


_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
