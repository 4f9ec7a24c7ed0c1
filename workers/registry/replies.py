"""The registry's replies as ready bytes: the one reply shape of every subject,
:class:`services.contracts.envelope.Reply` (``{"status", "headers"?, "result"?}`` or ``{"status", "error"}``),
encoded without building the model, with ``result`` last (the edge forwards a successful result
without decoding it: ``services.contracts.envelope.split_success``).

They exist for speed: the hot subjects answer from memory with bytes made once (a cached find
keeps its 200 and 304 replies as bytes) and a result already serialized as JSON is embedded as it
is. ``result`` absent with status 200 means "200, empty body" (Service-Center answers its writes
that way); ``headers`` go onto the HTTP response (``X-Resource-Revision``, ``X-Schema-Summary``,
``Deprecation``). tests/unit/test_registry_replies.py checks each against ``Reply``."""

from __future__ import annotations

from typing import Any

import orjson

from services.contracts.envelope import Reply, reply_with_json
from workers.runtime import as_service_error

OK_EMPTY = b'{"status":200}'
__all__ = ["OK_EMPTY", "failure", "reply", "reply_with_json"]


def reply(result: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    """``Reply.ok(result, status, headers)`` as bytes (``result`` a JSON value, None for no body)."""
    out: dict[str, Any] = {"status": status}
    if headers:
        out["headers"] = headers
    if result is not None:
        out["result"] = result  # last: the edge forwards it undecoded (envelope.split_success)
    return orjson.dumps(out)


def failure(exc: BaseException) -> bytes:
    """What a command answers for an exception (its ServiceError; 503 when the store is down; else
    500), byte for byte as the command subscribers' error middleware publishes it."""
    return Reply.failure(as_service_error(exc)).model_dump_json().encode()
