"""Errors are values with a status and a code, raised by domain rules and handlers and mapped once at the edge.

v2 (ServiceStage) codes have Huawei's format ``SVCSTG.00100.[Error_ID]``, e.g. ``SVCSTG.00100400``.
The catalogue below is built from Huawei's table of ServiceStage error codes (``HUAWEI_TABLE``):

- every situation the table names is answered with the table's code and status;
- a code openstage needs that the table does not list uses a number the table does not assign:
  openstage's own domain codes are 6xx, its generic request failures 7xx (300 + the HTTP status:
  Huawei assigns 403, 404, 408 and 429 to "application/component/request/job not found", so the
  HTTP status cannot be the id), and 5xx failures keep the HTTP status;
- ``CATALOGUE`` lists every code the v2 API answers, each with its status, meaning and where it
  comes from (the Huawei page, or openstage); tests/unit/test_error_catalogue.py checks the rules.

v4/v3 (Service-Center) codes are Service-Center's own numeric strings (``registry_errors.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


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


# --- Huawei's table ------------------------------------------------------------------------------
# "ServiceStage错误码" / "ServiceStage Error Codes" of the ServiceStage API reference (appendix):
HUAWEI_TABLE = "https://support.huaweicloud.com/api-servicestage/servicestage_06_0162.html"
# the same table in the application-management API reference of other sites ("Error Codes of
# Application Management APIs")
HUAWEI_TABLE_V2 = "https://support.huaweicloud.com/en-us/api-servicestage/servicestage_api_0026.html"
# A FAQ of the ServiceStage best practices ("如何处理当前环境下已存在同名的天气预报微服务应用？",
# "How do I handle an application of the same name in the current environment?"): creating an
# application whose name is taken answers "SVCSTG.00100458: 应用名已经被使用" (application name is
# already used). The table itself does not list the code.
HUAWEI_FAQ_APPLICATION_NAME = "ServiceStage best practices, weather-forecast FAQ: SVCSTG.00100458"


@dataclass(frozen=True)
class HuaweiCode:
    """One row of Huawei's table: status (None where the page does not say), error message."""

    status: int | None
    message: str


# The SVCSTG.00100xxx rows of the table, as far as its stored copies could be read (they break off
# after 441; the SVCSTG.REPO.* rows are the Git repository API's, which openstage does not serve),
# and the FAQ's 458. Each number here means what Huawei says, and nothing else; openstage's own
# codes also stay out of the 4xx-5xx band the unread rows would come from (HUAWEI_BAND).
HUAWEI_CODES: dict[str, HuaweiCode] = {
    "SVCSTG.00100400": HuaweiCode(400, "parameter invalid"),
    "SVCSTG.00100402": HuaweiCode(400, "component was deployed, uninstall first"),
    "SVCSTG.00100414": HuaweiCode(400, "job id can not empty"),
    "SVCSTG.00100418": HuaweiCode(400, "component instance action not defined"),
    "SVCSTG.00100420": HuaweiCode(400, "runtime not supported"),
    "SVCSTG.00100422": HuaweiCode(400, "base resource can not empty"),
    "SVCSTG.00100425": HuaweiCode(400, "instance artifacts can not be empty"),
    "SVCSTG.00100449": HuaweiCode(400, "environment name is already used"),
    "SVCSTG.00100403": HuaweiCode(404, "application not found"),
    "SVCSTG.00100404": HuaweiCode(404, "component not found"),
    "SVCSTG.00100408": HuaweiCode(404, "request not found"),
    "SVCSTG.00100411": HuaweiCode(404, "environment not found"),
    "SVCSTG.00100412": HuaweiCode(404, "instance not found"),
    "SVCSTG.00100424": HuaweiCode(404, "elb instance not found"),
    "SVCSTG.00100429": HuaweiCode(404, "job not found"),
    "SVCSTG.00100433": HuaweiCode(404, "application release not found"),
    "SVCSTG.00100436": HuaweiCode(404, "snapshot not found"),
    "SVCSTG.00100438": HuaweiCode(404, "template image not found"),
    # the stored copies of the page break off inside this row ("instance version is already ..."):
    # its status and the rest of its message are unknown; openstage does not use the number
    "SVCSTG.00100441": HuaweiCode(None, "instance version is already ..."),
    "SVCSTG.00100458": HuaweiCode(400, "application name is already used"),  # the FAQ, not the table
}
# The band of numbers Huawei's application-management codes come from: openstage's own codes
# stay out of it (except 500/503, which keep the HTTP status and mean just that).
HUAWEI_BAND = range(400, 600)


# --- the v2 error catalogue ----------------------------------------------------------------------
# Huawei's codes (HUAWEI_CODES) ---------------------------------------------------------------------
INVALID_PARAMETER = "SVCSTG.00100400"  # any request that breaks the API's rules ("parameter invalid")
INVALID_JSON = INVALID_PARAMETER  # a body that is not JSON is an invalid parameter like any other
COMPONENT_DEPLOYED = "SVCSTG.00100402"  # deleting a component (or environment) that has instances
JOB_ID_EMPTY = "SVCSTG.00100414"
INSTANCE_ACTION_NOT_DEFINED = "SVCSTG.00100418"
RUNTIME_NOT_SUPPORTED = "SVCSTG.00100420"
BASE_RESOURCE_EMPTY = "SVCSTG.00100422"
INSTANCE_ARTIFACTS_EMPTY = "SVCSTG.00100425"
ENVIRONMENT_NAME_EXISTS = "SVCSTG.00100449"
APPLICATION_NAME_EXISTS = "SVCSTG.00100458"
APPLICATION_NOT_FOUND = "SVCSTG.00100403"
COMPONENT_NOT_FOUND = "SVCSTG.00100404"
ENVIRONMENT_NOT_FOUND = "SVCSTG.00100411"
INSTANCE_NOT_FOUND = "SVCSTG.00100412"
JOB_NOT_FOUND = "SVCSTG.00100429"
SNAPSHOT_NOT_FOUND = "SVCSTG.00100436"

# openstage's own generic codes: 7xx = 300 + the HTTP status; 5xx = the HTTP status ---------------
NOT_AUTHENTICATED = "SVCSTG.00100701"
FORBIDDEN = "SVCSTG.00100703"
NOT_FOUND = "SVCSTG.00100704"  # no such API (path)
METHOD_NOT_ALLOWED = "SVCSTG.00100705"
REQUEST_TIMEOUT = "SVCSTG.00100708"
CONFLICT = "SVCSTG.00100709"
BODY_TOO_LARGE = "SVCSTG.00100713"
RATE_LIMITED = "SVCSTG.00100729"
HEAD_TOO_LARGE = "SVCSTG.00100731"
INTERNAL = "SVCSTG.00100500"
UNAVAILABLE = "SVCSTG.00100503"

# openstage's own domain codes: 6xx (applications 61x, components 62x, instances 63x, configuration 65x)
APPLICATION_HAS_COMPONENTS = "SVCSTG.00100613"
COMPONENT_NAME_EXISTS = "SVCSTG.00100622"
COMPONENT_CATEGORY_INVALID = "SVCSTG.00100625"
COMPONENT_SOURCE_INVALID = "SVCSTG.00100626"
COMPONENT_BUILD_INVALID = "SVCSTG.00100627"
COMPONENT_BEING_DELETED = "SVCSTG.00100628"
INSTANCE_NAME_EXISTS = "SVCSTG.00100632"
INSTANCE_BUSY = "SVCSTG.00100633"
INSTANCE_INVALID = "SVCSTG.00100634"
INSTANCE_ACTION_NOT_ALLOWED = "SVCSTG.00100635"
APP_CONFIG_NOT_FOUND = "SVCSTG.00100651"


@dataclass(frozen=True)
class CatalogueEntry:
    """One code the v2 API answers: its status, what it means here, and its source (a Huawei
    page for Huawei's codes, "openstage" for openstage's own)."""

    code: str
    status: int
    meaning: str
    source: str


def _huawei(code: str, meaning: str, source: str = HUAWEI_TABLE) -> CatalogueEntry:
    row = HUAWEI_CODES[code]
    assert row.status is not None, code
    return CatalogueEntry(code, row.status, meaning, source)


def _own(code: str, status: int, meaning: str) -> CatalogueEntry:
    return CatalogueEntry(code, status, meaning, "openstage")


CATALOGUE: tuple[CatalogueEntry, ...] = (
    _huawei(INVALID_PARAMETER, "a parameter, query or body breaks the API's rules (also: a body that is not JSON)"),
    _huawei(COMPONENT_DEPLOYED, "deleting a component, or an environment, that still has instances (uninstall first)"),
    _huawei(JOB_ID_EMPTY, "GET /v2/{project_id}/cas/jobs/ without a job id"),
    _huawei(INSTANCE_ACTION_NOT_DEFINED, "an instance action other than start, stop, restart, scale, rollback"),
    _huawei(RUNTIME_NOT_SUPPORTED, "a component runtime not in GET .../metadata/runtimes"),
    _huawei(BASE_RESOURCE_EMPTY, "an environment without base resources (create, or a change removing the last)"),
    _huawei(INSTANCE_ARTIFACTS_EMPTY, "an instance without artifacts (and a component without a package source)"),
    _huawei(ENVIRONMENT_NAME_EXISTS, "the project has an environment of that name (ignoring case)"),
    _huawei(APPLICATION_NAME_EXISTS, "the project has an application of that name (ignoring case)", HUAWEI_FAQ_APPLICATION_NAME),
    _huawei(APPLICATION_NOT_FOUND, "no such application in the project"),
    _huawei(COMPONENT_NOT_FOUND, "no such component in the application"),
    _huawei(ENVIRONMENT_NOT_FOUND, "no such environment in the project"),
    _huawei(INSTANCE_NOT_FOUND, "no such instance of the component"),
    _huawei(JOB_NOT_FOUND, "no such deployment job in the project"),
    _huawei(SNAPSHOT_NOT_FOUND, "rollback to a version the instance has no snapshot of"),
    _own(NOT_AUTHENTICATED, 401, "missing or invalid signature or token"),
    _own(FORBIDDEN, 403, "the credential is not granted the project"),
    _own(NOT_FOUND, 404, "no such API (path)"),
    _own(METHOD_NOT_ALLOWED, 405, "the path does not take that method"),
    _own(REQUEST_TIMEOUT, 408, "the request head or body did not arrive in time"),
    _own(CONFLICT, 409, "a concurrent change won (e.g. two writes of one configuration): retry"),
    _own(BODY_TOO_LARGE, 413, "the body is over 1 MiB (or over what the bus carries)"),
    _own(RATE_LIMITED, 429, "too many requests from the credential"),
    _own(HEAD_TOO_LARGE, 431, "request line and headers over 64 KiB"),
    _own(INTERNAL, 500, "internal error"),
    _own(UNAVAILABLE, 503, "no worker answered in time, or the store is down"),
    _own(APPLICATION_HAS_COMPONENTS, 409, "deleting an application that still has components"),
    _own(COMPONENT_NAME_EXISTS, 400, "the application has a component of that name (ignoring case)"),
    _own(COMPONENT_CATEGORY_INVALID, 400, "a sub_category that is not one of the category's"),
    _own(COMPONENT_SOURCE_INVALID, 400, "a component source whose spec does not fit its kind"),
    _own(COMPONENT_BUILD_INVALID, 400, "a build without a source or without parameters.cluster_id"),
    _own(COMPONENT_BEING_DELETED, 400, "creating an instance of a component a forced delete is deleting"),
    _own(INSTANCE_NAME_EXISTS, 400, "the component has an instance of that name in that environment"),
    _own(INSTANCE_BUSY, 400, "the instance has a job in progress"),
    _own(INSTANCE_INVALID, 400, "an instance body that breaks a rule (flavor, resources, artifacts, replica)"),
    _own(INSTANCE_ACTION_NOT_ALLOWED, 400, "an action not allowed in the instance's status"),
    _own(APP_CONFIG_NOT_FOUND, 404, "no configuration of the application in that environment"),
)


def huawei_error(code: str, detail: str = "") -> ServiceError:
    """The error of one of Huawei's codes: the table's status, and its message followed by ``detail``."""
    row = HUAWEI_CODES[code]
    assert row.status is not None, code
    return ServiceError(row.status, code, f"{row.message}: {detail}" if detail else row.message)


def bad_request(message: str, code: str = INVALID_PARAMETER) -> ServiceError:
    return ServiceError(400, code, message)


def not_found(message: str, code: str = NOT_FOUND) -> ServiceError:
    return ServiceError(404, code, message)


def conflict(message: str, code: str = CONFLICT) -> ServiceError:
    return ServiceError(409, code, message)


def unavailable(message: str, code: str = UNAVAILABLE) -> ServiceError:
    return ServiceError(503, code, message)
