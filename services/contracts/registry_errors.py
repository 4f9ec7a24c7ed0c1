"""Service-Center error codes, their messages and their HTTP statuses.

Source: go-chassis/cari ``discovery/error.go`` (the codes and messages Service-Center v2.x
registers) and ``pkg/errsvc/error.go`` (``StatusCode() = code / 1000``; the JSON body is
``{"errorCode": "<code as a string>", "errorMessage": ..., "detail": ...}`` with ``detail``
omitted when empty). Service-Center's REST layer (``pkg/rest/util.go`` ``WriteServiceError``)
writes that status and body for every failure, so a missing service is **400 + 400012**, never
a 404.
"""

from __future__ import annotations

from typing import Any

from services.contracts.errors import ServiceError

# --- codes (cari discovery/error.go) ------------------------------------------------------------
ERR_INVALID_PARAMS = "400001"
ERR_UNHEALTHY = "400002"
ERR_UNREGISTERED_ENV = "400004"
ERR_SERVICE_ALREADY_EXISTS = "400010"
ERR_SERVICE_NOT_EXISTS = "400012"
ERR_DEPLOYED_INSTANCE = "400013"
ERR_UNDEFINED_SCHEMA_ID = "400014"
ERR_MODIFY_SCHEMA_NOT_ALLOW = "400015"
ERR_SCHEMA_NOT_EXISTS = "400016"
ERR_INSTANCE_NOT_EXISTS = "400017"
ERR_TAG_NOT_EXISTS = "400018"
ERR_RULE_ALREADY_EXISTS = "400019"
ERR_BLACK_AND_WHITE_RULE = "400020"
ERR_MODIFY_RULE_NOT_ALLOW = "400021"
ERR_RULE_NOT_EXISTS = "400022"
ERR_DEPENDED_ON_CONSUMER = "400023"
ERR_PERMISSION_DENY = "400024"
ERR_ENDPOINT_ALREADY_EXISTS = "400025"
ERR_SERVICE_VERSION_NOT_EXISTS = "400026"
ERR_ENVIRONMENT_ALREADY_EXISTS = "400027"
ERR_ENVIRONMENT_NOT_EXISTS = "400028"
ERR_NOT_ENOUGH_QUOTA = "400100"
ERR_FORBIDDEN = "403001"
ERR_INTERNAL = "500003"
ERR_UNAVAILABLE_BACKEND = "500011"
ERR_UNAVAILABLE_QUOTA = "500101"

#: ``errorMessage`` for each code, exactly as Service-Center registers it.
MESSAGES: dict[str, str] = {
    ERR_INVALID_PARAMS: "Invalid parameter(s)",
    ERR_UNHEALTHY: "Server is Unhealthy",
    ERR_UNREGISTERED_ENV: "Env has services",
    ERR_SERVICE_ALREADY_EXISTS: "Micro-service already exists",
    ERR_SERVICE_NOT_EXISTS: "Micro-service does not exist",
    ERR_DEPLOYED_INSTANCE: "Micro-service has deployed instance(s)",
    ERR_UNDEFINED_SCHEMA_ID: "Undefined schema id",
    ERR_MODIFY_SCHEMA_NOT_ALLOW: "Not allowed to modify schema",
    ERR_SCHEMA_NOT_EXISTS: "Schema does not exist",
    ERR_INSTANCE_NOT_EXISTS: "Instance does not exist",
    ERR_TAG_NOT_EXISTS: "Tag does not exist",
    ERR_RULE_ALREADY_EXISTS: "Rule already exist",
    ERR_BLACK_AND_WHITE_RULE: "Can not have both 'BLACK' and 'WHITE'",
    ERR_MODIFY_RULE_NOT_ALLOW: "Not allowed to modify the type of the rule",
    ERR_RULE_NOT_EXISTS: "Rule does not exist",
    ERR_DEPENDED_ON_CONSUMER: "Consumer(s) depends on this micro-service",
    ERR_PERMISSION_DENY: "Access micro-service refused",
    ERR_ENDPOINT_ALREADY_EXISTS: "Endpoint is already belong to other service",
    ERR_SERVICE_VERSION_NOT_EXISTS: "Micro-service version does not exist",
    ERR_ENVIRONMENT_ALREADY_EXISTS: "EnvId already exist",
    # 400028 is declared but not registered in cari's map, so Service-Center answers an empty message.
    ERR_ENVIRONMENT_NOT_EXISTS: "",
    ERR_NOT_ENOUGH_QUOTA: "Not enough quota",
    ERR_FORBIDDEN: "Forbidden",
    ERR_INTERNAL: "Internal server error",
    ERR_UNAVAILABLE_BACKEND: "Registry service is unavailable",
    ERR_UNAVAILABLE_QUOTA: "Quota service is unavailable",
}


def status_for_code(code: str | int) -> int:
    """HTTP status Service-Center answers for an error code: ``code // 1000`` (400012 -> 400)."""
    n = int(code)
    status = n // 1000
    return n if status == 0 else status


class RegistryError(ServiceError):
    """A Service-Center style failure: HTTP status, numeric string code, message and detail.

    ``message`` is the fixed ``errorMessage`` for the code and ``detail`` the situation-specific
    text (Service-Center puts the specific text into ``detail``)."""

    def __init__(self, status: int, code: str, message: str, detail: str = "") -> None:
        super().__init__(status, str(code), message, detail)

    @classmethod
    def of(cls, code: str | int, detail: str = "") -> RegistryError:
        code = str(code)
        return cls(status_for_code(code), code, MESSAGES.get(code, ""), detail)

    @property
    def internal(self) -> bool:
        """Service-Center's ``InternalError()``: codes >= 500000."""
        return int(self.code) >= 500000

    def to_body(self) -> dict[str, Any]:
        """The JSON body Service-Center writes: ``detail`` is omitted when empty."""
        body: dict[str, Any] = {"errorCode": self.code, "errorMessage": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body

    def __str__(self) -> str:
        # errsvc.Error.Error(): "message(detail)" – the text batch calls put in errMessage.
        return f"{self.message}({self.detail})" if self.detail else self.message

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"RegistryError({self.status}, {self.code!r}, {self.message!r}, {self.detail!r})"


# --- constructors for the codes the registry uses ------------------------------------------------
def invalid_params(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_INVALID_PARAMS, detail)


def service_already_exists(detail: str = "ServiceID conflict or found the same service with different id.") -> RegistryError:
    return RegistryError.of(ERR_SERVICE_ALREADY_EXISTS, detail)


def service_not_exists(detail: str = "Service does not exist.") -> RegistryError:
    return RegistryError.of(ERR_SERVICE_NOT_EXISTS, detail)


def deployed_instance(detail: str = "Can not delete the service deployed instance(s).") -> RegistryError:
    return RegistryError.of(ERR_DEPLOYED_INSTANCE, detail)


def undefined_schema_id(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_UNDEFINED_SCHEMA_ID, detail)


def modify_schema_not_allow(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_MODIFY_SCHEMA_NOT_ALLOW, detail)


def schema_not_exists(detail: str = "schema ref not found.") -> RegistryError:
    return RegistryError.of(ERR_SCHEMA_NOT_EXISTS, detail)


def instance_not_exists(detail: str = "Service instance does not exist.") -> RegistryError:
    return RegistryError.of(ERR_INSTANCE_NOT_EXISTS, detail)


def tag_not_exists(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_TAG_NOT_EXISTS, detail)


def depended_on_consumer(detail: str = "Can not delete this service, other service rely it.") -> RegistryError:
    return RegistryError.of(ERR_DEPENDED_ON_CONSUMER, detail)


def permission_deny(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_PERMISSION_DENY, detail)


def endpoint_already_exists(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_ENDPOINT_ALREADY_EXISTS, detail)


def service_version_not_exists(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_SERVICE_VERSION_NOT_EXISTS, detail)


def not_enough_quota(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_NOT_ENOUGH_QUOTA, detail)


def forbidden(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_FORBIDDEN, detail)


def internal(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_INTERNAL, detail)


def unavailable_backend(detail: str = "") -> RegistryError:
    return RegistryError.of(ERR_UNAVAILABLE_BACKEND, detail)


__all__ = [name for name in dir() if name.startswith(("ERR_", "RegistryError", "MESSAGES", "status_for_code"))] + [
    "invalid_params",
    "service_already_exists",
    "service_not_exists",
    "deployed_instance",
    "undefined_schema_id",
    "modify_schema_not_allow",
    "schema_not_exists",
    "instance_not_exists",
    "tag_not_exists",
    "depended_on_consumer",
    "permission_deny",
    "endpoint_already_exists",
    "service_version_not_exists",
    "not_enough_quota",
    "forbidden",
    "internal",
    "unavailable_backend",
]
