"""Every error leaves the edge in its API family's own shape:

- v2 (ServiceStage): ``{"error_code": "SVCSTG.00100400", "error_msg": "..."}``
- v4 registry and v3 config-center (Service-Center): ``{"errorCode": "400001", "errorMessage": "...", "detail": "..."}``
"""

from __future__ import annotations

from enum import Enum

import orjson
from starlette.responses import Response

from services.contracts import errors


class ApiFamily(Enum):
    """The two APIs the edge serves, told apart by the path: their error shapes and empty answers differ."""

    SERVICESTAGE = "ServiceStage v2"  # /v2/...
    SERVICE_CENTER = "Service-Center"  # /v4/.../registry and the /v3/... config center

    @classmethod
    def of(cls, path: str) -> ApiFamily:
        # /v1: ServiceComb-Kie, whose errors have the same shape (go-chassis/cari pkg/errsvc/error.go)
        return cls.SERVICE_CENTER if path.startswith(("/v4/", "/v3/", "/v1/")) else cls.SERVICESTAGE


# Service-Center codes for failures the edge itself detects (auth, routing, body, timeouts).
_SC_CODES = {
    400: "400001",  # ErrInvalidParams
    401: "401002",  # ErrUnauthorized
    403: "403001",  # ErrForbidden
    404: "404001",  # an unknown route, as Service-Center answers it
    405: "400001",
    413: "400001",
    429: "429001",
    500: "500003",  # ErrInternal
    503: "500011",  # ErrUnavailableBackend
}
# (services/contracts/errors.py: Huawei's 400 "parameter invalid"; openstage's own 7xx = 300 + the
# status for the other 4xx, which Huawei's table gives other meanings; 5xx the status)
_V2_CODES = {
    400: errors.INVALID_PARAMETER,
    401: errors.NOT_AUTHENTICATED,
    403: errors.FORBIDDEN,
    404: errors.NOT_FOUND,
    405: errors.METHOD_NOT_ALLOWED,
    408: errors.REQUEST_TIMEOUT,
    409: errors.CONFLICT,
    413: errors.BODY_TOO_LARGE,
    429: errors.RATE_LIMITED,
    431: errors.HEAD_TOO_LARGE,
    500: errors.INTERNAL,
    503: errors.UNAVAILABLE,
}
_CODES = {ApiFamily.SERVICESTAGE: _V2_CODES, ApiFamily.SERVICE_CENTER: _SC_CODES}


def default_code(path: str, status: int) -> str:
    table = _CODES[ApiFamily.of(path)]
    return table.get(status, table[500] if status >= 500 else table[400])


def error_body(path: str, status: int, code: str | None, message: str, detail: str = "") -> dict:
    code = code or default_code(path, status)
    if ApiFamily.of(path) is ApiFamily.SERVICE_CENTER:
        if code.startswith("SVCSTG."):
            code = default_code(path, status)
        return {"errorCode": code, "errorMessage": message, "detail": detail or message}
    return {"error_code": code, "error_msg": message}


def error_response(
    path: str, status: int, code: str | None, message: str, detail: str = "", headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(error_body(path, status, code, message, detail)), status_code=status, media_type="application/json", headers=headers
    )
