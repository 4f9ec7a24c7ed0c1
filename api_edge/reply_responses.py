"""The one mapping of a worker's reply (``services.contracts.envelope.Reply``) to the HTTP response
of the route that sent the command, for every route and for the raw-ASGI registry routes:

- ``error``: the API family's error shape (api_edge/error_responses.py) with ``status``;
- 204 and 304: no body;
- no ``result``: ServiceStage v2 answers ``{}``, Service-Center an empty body (its writes answer
  200 with nothing);
- else ``result`` as JSON.

``headers`` (the registry's ``X-Resource-Revision``, ``X-Schema-Summary``, ``Deprecation``) are
copied onto every one of them. A successful reply's result is forwarded as the worker wrote it
(``result_response``: not decoded and encoded again; a find of 1,000 instances is ~400 kB)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from api_edge.error_responses import ApiFamily, error_response
from services.contracts.envelope import Reply

JSON = "application/json"
NO_BODY_STATUSES = frozenset({204, 304})
_EMPTY_RESULT_BODY = {ApiFamily.SERVICESTAGE: (b"{}", JSON), ApiFamily.SERVICE_CENTER: (b"", None)}


def reply_response(path: str, reply: Reply) -> Response:
    """The HTTP response for ``reply`` to a request of ``path`` (its API family)."""
    status, headers, error = reply.status, reply.headers, reply.error
    if error is not None:
        return error_response(path, status, error.error_code, error.error_msg, error.detail, headers=headers)
    return result_response(path, status, headers, b"null" if reply.result is None else orjson.dumps(reply.result))


def result_response(path: str, status: int, headers: dict[str, str] | None, result_json: bytes) -> Response:
    """The HTTP response for a successful reply whose result is ``result_json`` (JSON bytes)."""
    if status in NO_BODY_STATUSES:
        return Response(status_code=status, headers=headers)
    if result_json == b"null":
        body, media_type = _EMPTY_RESULT_BODY[ApiFamily.of(path)]
        return Response(body, status_code=status, media_type=media_type, headers=headers)
    return Response(result_json, status_code=status, media_type=JSON, headers=headers)
