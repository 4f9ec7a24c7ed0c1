"""Errors are values with a status and a code, raised by domain rules and handlers and mapped once at the edge.

v2 (ServiceStage) codes follow Huawei's format ``SVCSTG.00100.[Error_ID]``, e.g. ``SVCSTG.00100400``:
generic failures use the HTTP status as Error_ID; domain failures use 6xx (environments 60x,
applications 61x, components 62x, instances 63x, jobs 64x, configuration 65x).
v4/v3 (Service-Center) codes are Service-Center's own numeric strings (see services/registry).
"""

from __future__ import annotations


class ServiceError(Exception):
    """A failure the caller should see, with its HTTP status and API error code."""

    def __init__(self, status: int, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ServiceError({self.status}, {self.code!r}, {self.message!r})"


# --- v2 error catalogue --------------------------------------------------------------------------
# One place for every ServiceStage-style code the system returns, so the README table stays true.
INVALID_PARAMETER = "SVCSTG.00100400"
INVALID_JSON = "SVCSTG.00100402"
BODY_TOO_LARGE = "SVCSTG.00100413"
NOT_AUTHENTICATED = "SVCSTG.00100401"
FORBIDDEN = "SVCSTG.00100403"
NOT_FOUND = "SVCSTG.00100404"
METHOD_NOT_ALLOWED = "SVCSTG.00100405"
REQUEST_TIMEOUT = "SVCSTG.00100408"
CONFLICT = "SVCSTG.00100409"
RATE_LIMITED = "SVCSTG.00100429"
HEAD_TOO_LARGE = "SVCSTG.00100431"
INTERNAL = "SVCSTG.00100500"
UNAVAILABLE = "SVCSTG.00100503"

ENVIRONMENT_NOT_FOUND = "SVCSTG.00100601"
ENVIRONMENT_NAME_EXISTS = "SVCSTG.00100602"
ENVIRONMENT_IN_USE = "SVCSTG.00100603"

APPLICATION_NOT_FOUND = "SVCSTG.00100611"
APPLICATION_NAME_EXISTS = "SVCSTG.00100612"
APPLICATION_HAS_COMPONENTS = "SVCSTG.00100613"

COMPONENT_NOT_FOUND = "SVCSTG.00100621"
COMPONENT_NAME_EXISTS = "SVCSTG.00100622"
COMPONENT_IN_USE = "SVCSTG.00100623"
COMPONENT_RUNTIME_INVALID = "SVCSTG.00100624"
COMPONENT_CATEGORY_INVALID = "SVCSTG.00100625"
COMPONENT_SOURCE_INVALID = "SVCSTG.00100626"
COMPONENT_BUILD_INVALID = "SVCSTG.00100627"

INSTANCE_NOT_FOUND = "SVCSTG.00100631"
INSTANCE_NAME_EXISTS = "SVCSTG.00100632"
INSTANCE_BUSY = "SVCSTG.00100633"
INSTANCE_INVALID = "SVCSTG.00100634"
INSTANCE_ACTION_NOT_ALLOWED = "SVCSTG.00100635"
INSTANCE_SNAPSHOT_NOT_FOUND = "SVCSTG.00100636"

JOB_NOT_FOUND = "SVCSTG.00100641"

APP_CONFIG_NOT_FOUND = "SVCSTG.00100651"


def bad_request(message: str, code: str = INVALID_PARAMETER) -> ServiceError:
    return ServiceError(400, code, message)


def not_found(message: str, code: str = NOT_FOUND) -> ServiceError:
    return ServiceError(404, code, message)


def conflict(message: str, code: str = CONFLICT) -> ServiceError:
    return ServiceError(409, code, message)


def unavailable(message: str, code: str = UNAVAILABLE) -> ServiceError:
    return ServiceError(503, code, message)
