"""Field validation of registry requests, with Service-Center's own rules.

Sources (apache/servicecomb-service-center): ``server/service/validator/*.go`` at v2.0.0 and HEAD
(microservice, instance, schema, dependency and tag validators), ``pkg/validate/rule.go`` (rule
semantics) and ``datasource/ms_util.go`` ``SetServiceDefaultValue`` (defaults applied *before*
validation). Every failure is a 400 / ``400001`` :class:`RegistryError` whose ``detail`` names
the field, like Service-Center's ``field 'MicroService.ServiceName' invalid value ...``.

Rule semantics reproduced from ``pkg/validate/rule.go``:

* ``Min`` on a string counts bytes, ``Max`` counts characters; on a list/map they count
  entries; on a number they bound the value; ``Min`` on an absent object means "required".
* A regexp is applied to the zero value too: an absent string is ``""`` and must match, which
  is why ``healthCheck.mode`` and ``level`` are effectively required once their parent is there.
* A regexp on a list applies to each element, on a map to each key **and** value.

Deliberate tightening (documented in docs/registry-behaviour.md):

* ``environment`` and ``registerBy`` must be one value (or empty); Service-Center's patterns
  ``^(development|testing|acceptance|production)*$`` and ``^(SDK|SIDECAR|PLATFORM)*$`` also
  accept concatenations like ``developmenttesting``.
* ``properties`` get generous size caps (Service-Center has none): see :func:`validate_properties`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.contracts.registry import (
    BatchFindInstancesRequest,
    ConsumerDependency,
    CreateDependenciesRequest,
    CreateServiceRequest,
    DeleteServicesRequest,
    HealthCheck,
    HeartbeatSetElement,
    HeartbeatSetRequest,
    MicroService,
    MicroServiceInstance,
    MicroServiceKey,
    ModifySchemaRequest,
    ModifySchemasRequest,
    parse_body,  # how a command decodes its body (services/contracts/registry.py)
)
from services.contracts.registry_errors import RegistryError, invalid_params
from services.domain.registry.health import normalize_health_check
from services.domain.registry.version_rules import DEFAULT_VERSION, VersionRule, is_valid_version, parse_version_rule

# --- constants ---------------------------------------------------------------------------------
DEFAULT_APP_ID = "default"  # cari AppID
DEFAULT_LEVEL = "BACK"
SERVICE_UP, SERVICE_DOWN = "UP", "DOWN"
SERVICE_STATUSES = (SERVICE_UP, SERVICE_DOWN)
LEVELS = ("FRONT", "MIDDLE", "BACK")
ENVIRONMENTS = ("development", "testing", "acceptance", "production")
REGISTER_BY = ("SDK", "SIDECAR", "PLATFORM")
INSTANCE_STATUSES = ("UP", "DOWN", "STARTING", "TESTING", "OUTOFSERVICE")
HEALTH_CHECK_MODES = ("push", "pull")
EXISTENCE_TYPES = ("microservice", "schema")

MAX_SCHEMAS = 100  # quota.cap.schema.limit default
MAX_TAGS = 100  # quota.cap.tag.limit default
MAX_DEPENDENCIES = 100
INT32_MAX = 2**31 - 1
UINT16_MAX = 2**16 - 1

# openstage's own caps on free-form properties (Service-Center has none)
MAX_PROPERTIES = 1000
# openstage's own cap on the entries of one batch call (DELETE /microservices, PUT /heartbeats,
# POST /instances/action): each entry costs the worker a store round trip, and the whole call
# must be answered well within the edge's OPENSTAGE_REQUEST_TIMEOUT (Service-Center has none)
MAX_BATCH = 100
# PUT /heartbeats and POST /instances/action: go-chassis sends every instance it heartbeats and
# every provider it discovers in one call, so these take 10 times more (a heartbeat of a known
# instance costs no store round trip; a batch find reads each app's services once)
MAX_BATCH_CLIENT = 1000
# an invalid value is quoted in the error detail up to this many characters
MAX_QUOTED_VALUE = 256
MAX_PROPERTY_KEY_LENGTH = 512
MAX_PROPERTY_VALUE_LENGTH = 65536


@dataclass(frozen=True)
class _Pattern:
    """A Service-Center regexp: ``fullmatch`` for the anchored ones, ``search`` for the rest."""

    regex: re.Pattern[str]
    text: str
    anchored: bool = True

    def ok(self, value: str) -> bool:
        return bool(self.regex.fullmatch(value) if self.anchored else self.regex.search(value))


def _p(pattern: str, text: str | None = None, *, anchored: bool = True) -> _Pattern:
    return _Pattern(re.compile(pattern, re.ASCII), text or pattern, anchored)


def _sc(text: str) -> _Pattern:
    """A Service-Center regexp as Service-Center writes it (``^a$`` or ``^a$|^b$``, quoted so in the
    error detail), matched against the whole value."""
    return _p("|".join(text.removeprefix("^").removesuffix("$").split("$|^")), text)


NAME = _sc(r"^[a-zA-Z0-9]*$|^[a-zA-Z0-9][a-zA-Z0-9_\-.]*[a-zA-Z0-9]$")
NAME_FOR_FIND = _sc(r"^[a-zA-Z0-9]*$|^[a-zA-Z0-9][a-zA-Z0-9_\-.:]*[a-zA-Z0-9]$")
NAME_FUZZY = _sc(r"^[a-zA-Z0-9]*$|^[a-zA-Z0-9][a-zA-Z0-9_\-.]*[a-zA-Z0-9]$|^\*$")
PATH = _sc(r"^[A-Za-z0-9.,?'\\/+&amp;%$#=~_\-@{}]*$")
LEVEL = _sc(r"^(FRONT|MIDDLE|BACK)$")
SERVICE_STATUS = _sc(r"^(UP|DOWN)?$")
SERVICE_ID = _sc(r"^\S*$")
SERVICE_ID_RANGE = _sc(r"^\S{1,64}$")
ALIAS = _sc(r"^[a-zA-Z0-9_\-.:]*$")
REGISTER_BY_RE = _sc(r"^(SDK|SIDECAR|PLATFORM)?$")
ENVIRONMENT = _sc(r"^(development|testing|acceptance|production)?$")
SCHEMA_ID = _sc(r"^[a-zA-Z0-9]{1,160}$|^[a-zA-Z0-9][a-zA-Z0-9_\-.]{0,158}[a-zA-Z0-9]$")
SCHEMA_ID_UNLIMITED = _sc(r"^[a-zA-Z0-9]+$|^[a-zA-Z0-9][a-zA-Z0-9_\-.]*[a-zA-Z0-9]$")
SCHEMA_SUMMARY = _sc(r"^[a-zA-Z0-9]*$")
TAG = _sc(r"^[a-zA-Z][a-zA-Z0-9_\-.]{0,63}$")
INSTANCE_STATUS = _sc(r"^(UP|DOWN|STARTING|TESTING|OUTOFSERVICE)?$")
UPDATE_INSTANCE_STATUS = _sc(r"^(UP|DOWN|STARTING|TESTING|OUTOFSERVICE)$")
HB_MODE = _sc(r"^(push|pull)$")
URL = _sc(r"^\S*$")
ENDPOINT = _p(r"\S", r"\S+", anchored=False)  # unanchored in Service-Center: "any non-blank"
SIMPLE_NAME_ALLOW_EMPTY = _sc(r"^[A-Za-z0-9_.-]*$")
SIMPLE_NAME = _sc(r"^[A-Za-z0-9_.-]+$")
VERSION = _p(r"[0-9]+(?:\.[0-9]+){0,3}", "x[.y[.z[.w]]] where each part is in the 0-32767 range")
# dependency provider versions (v2.0.0 dependency_validator.go): at most THREE segments
PROVIDER_VERSION = _p(
    r"(?:[0-9]+(?:\.[0-9]+){0,2}\+?|[0-9]+(?:\.[0-9]+){0,2}-[0-9]+(?:\.[0-9]+){0,2}|latest)?",
    r"^(^\d+(\.\d+){0,2}\+?$|^\d+(\.\d+){0,2}-\d+(\.\d+){0,2}$|^latest$)?$",
)


# --- the rule engine ---------------------------------------------------------------------------
def _rule_text(min_: int, max_: int, pattern: _Pattern | None) -> str:
    parts = []
    if min_:
        parts.append(f"Min: {min_}")
    if max_:
        parts.append(f"Max: {max_}")
    if pattern is not None:
        parts.append(f"Regexp: {pattern.text}")
    return "{" + ", ".join(parts) + "}"


def _fail(type_name: str, field: str, value: Any, min_: int, max_: int, pattern: _Pattern | None) -> RegistryError:
    quoted = f"{value}"
    if len(quoted) > MAX_QUOTED_VALUE:  # never echo a huge input back (nor outgrow the bus's message limit)
        quoted = quoted[:MAX_QUOTED_VALUE] + "..."
    return invalid_params(f"field '{type_name}.{field}' invalid value '{quoted}' does not match rule: {_rule_text(min_, max_, pattern)}")


def check_str(type_name: str, field: str, value: str | None, *, min: int = 0, max: int = 0, pattern: _Pattern | None = None) -> str:
    """Check one string field (None counts as ``""``, like Go's zero value). Returns the value."""
    s = "" if value is None else value
    if not isinstance(s, str):
        raise _fail(type_name, field, s, min, max, pattern)
    if (min and len(s.encode()) < min) or (max and len(s) > max) or (pattern is not None and not pattern.ok(s)):
        raise _fail(type_name, field, s, min, max, pattern)
    return s


def check_int(type_name: str, field: str, value: int | None, *, min: int | None = None, max: int | None = None) -> int:
    n = 0 if value is None else value
    if isinstance(n, bool) or not isinstance(n, int) or (min is not None and n < min) or (max is not None and n > max):
        raise invalid_params(f"field '{type_name}.{field}' invalid value '{n}' does not match rule: {{Min: {min}, Max: {max}}}")
    return n


def check_list(
    type_name: str, field: str, values: Iterable[Any] | None, *, min: int = 0, max: int = 0, item_pattern: _Pattern | None = None
) -> list[Any]:
    items = list(values or [])
    if (min and len(items) < min) or (max and len(items) > max):
        raise _fail(type_name, field, items, min, max, None)
    if item_pattern is not None:
        for item in items:
            if not isinstance(item, str) or not item_pattern.ok(item):
                raise _fail(type_name, field, item, 0, 0, item_pattern)
    return items


def check_map(
    type_name: str, field: str, mapping: Mapping[str, Any] | None, *, min: int = 0, max: int = 0, pattern: _Pattern | None = None
) -> dict[str, Any]:
    data = dict(mapping or {})
    if (min and len(data) < min) or (max and len(data) > max):
        raise _fail(type_name, field, data, min, max, None)
    if pattern is not None:
        for k, v in data.items():
            for item in (k, v):
                if not isinstance(item, str) or not pattern.ok(item):
                    raise _fail(type_name, field, item, 0, 0, pattern)
    return data


def _required(type_name: str, field: str, value: Any) -> None:
    if value is None:
        raise invalid_params(f"field '{type_name}.{field}' invalid value '<nil>' does not match rule: {{Min: 1}}")


def check_version(type_name: str, field: str, value: str | None, *, min: int = 0, max: int = 64) -> str:
    s = check_str(type_name, field, value, min=min, max=max)
    if not is_valid_version(s):
        raise _fail(type_name, field, s, min, max, VERSION)
    return s


def check_version_rule(type_name: str, field: str, value: str | None, *, max: int = 129) -> VersionRule:
    s = check_str(type_name, field, value, max=max)
    try:
        return parse_version_rule(s, max_length=max)
    except RegistryError:
        raise invalid_params(
            f"field '{type_name}.{field}' invalid value '{s}' does not match rule: {{Max: {max}, Regexp: the form "
            "x[.y[.z]] or x[.y[.z]]+ or x[.y[.z]]-x[.y[.z]] or 'latest' where x y and z are 0-32767 range}"
        ) from None


# --- query flags -------------------------------------------------------------------------------
_TRUE_OR_FALSE = {"true": True, "false": False, "1": True, "0": False}


def parse_force(value: str | None) -> bool:
    """``?force=`` of service deletion: ``true|false|1|0`` or absent, else 400001."""
    if value is None or value == "":
        return False
    if value not in _TRUE_OR_FALSE:
        raise invalid_params("parameter force must be false or true")
    return _TRUE_OR_FALSE[value]


def parse_with_schema(value: str | None) -> bool:
    """``?withSchema=`` of the schema list: ``0|1`` or blank, else 400001."""
    if value is None or value.strip() == "":
        return False
    if value not in ("0", "1"):
        raise invalid_params("parameter withSchema must be 1 or 0")
    return value == "1"


def string_true(value: str | None) -> bool:
    """Service-Center's ``util.StringTRUE`` (``withShared``): ``1`` or ``true``, any case/padding."""
    return (value or "").strip().lower() in ("1", "true")


def flag_one(value: str | None) -> bool:
    """``noSelf`` / ``sameDomain`` of the dependency queries: only the exact string ``1`` is true."""
    return value == "1"


def split_tags(value: str | None) -> list[str]:
    """``?tags=a,b`` -> ``["a", "b"]``; absent/empty -> ``[]``."""
    return value.split(",") if value else []


# --- ids ---------------------------------------------------------------------------------------
def validate_service_id(service_id: str | None, *, type_name: str = "GetServiceRequest", field: str = "ServiceId") -> str:
    return check_str(type_name, field, service_id, min=1, max=64, pattern=SERVICE_ID)


def validate_instance_id(instance_id: str | None, *, type_name: str = "HeartbeatRequest", field: str = "InstanceId") -> str:
    return check_str(type_name, field, instance_id, min=1, max=64, pattern=SIMPLE_NAME_ALLOW_EMPTY)


def validate_consumer_id(consumer_id: str | None) -> str:
    """``X-ConsumerId``: optional, at most 64 non-blank characters."""
    return check_str("FindInstancesRequest", "ConsumerServiceId", consumer_id, max=64, pattern=SERVICE_ID)


# --- services ----------------------------------------------------------------------------------
def apply_service_defaults(service: MicroService) -> MicroService:
    """``SetServiceDefaultValue``: appId ``default``, version ``0.0.1``, level ``BACK``, status ``UP``."""
    return service.model_copy(
        update={
            "app_id": service.app_id or DEFAULT_APP_ID,
            "version": service.version or DEFAULT_VERSION,
            "level": service.level or DEFAULT_LEVEL,
            "status": service.status or SERVICE_UP,
        }
    )


def _check_service_key(type_name: str, key: MicroService | MicroServiceKey) -> None:
    """The key of an existing service: environment, appId, serviceName and an exact version."""
    check_str(type_name, "Environment", key.environment, pattern=ENVIRONMENT)
    check_str(type_name, "AppId", key.app_id, min=1, max=160, pattern=NAME)
    check_str(type_name, "ServiceName", key.service_name, min=1, max=128, pattern=NAME)
    check_version(type_name, "Version", key.version, min=1, max=64)


def validate_micro_service(service: MicroService) -> MicroService:
    """Validate a service definition (defaults must already be applied)."""
    t = "MicroService"
    _check_service_key(t, service)
    check_str(t, "ServiceId", service.service_id, max=64, pattern=SERVICE_ID)
    check_str(t, "Description", service.description, max=256)
    check_str(t, "Level", service.level, pattern=LEVEL)
    check_str(t, "Status", service.status, pattern=SERVICE_STATUS)
    check_list(t, "Schemas", service.schemas, max=MAX_SCHEMAS, item_pattern=SCHEMA_ID)
    for p in service.paths or []:
        check_str("ServicePath", "Path", p.path, pattern=PATH)
    check_str(t, "Alias", service.alias, max=128, pattern=ALIAS)
    check_str(t, "RegisterBy", service.register_by, max=64, pattern=REGISTER_BY_RE)
    if service.framework is not None:
        check_str("FrameWork", "Name", service.framework.name, max=64, pattern=NAME)
        check_str("FrameWork", "Version", service.framework.version, max=64)
    if service.properties is not None:
        validate_properties(service.properties, type_name=t)
    return service


def validate_create_service(request: CreateServiceRequest) -> CreateServiceRequest:
    """Validate ``POST /microservices``; returns the request with service defaults applied and
    with its tags and instances validated up front (Service-Center checks those only after it
    has created the service – see the docs). ``rules`` are accepted and ignored, as HEAD does."""
    if request is None or request.service is None:
        raise invalid_params("Request body is empty")
    service = validate_micro_service(apply_service_defaults(request.service))
    if request.tags:
        validate_tags(request.tags)
    instances = None
    if request.instances:
        instances = [validate_register_instance(i, service.service_id, check_service_id=False) for i in request.instances]
    return request.model_copy(update={"service": service, "instances": instances})


def validate_update_service_properties(service_id: str | None, properties: Mapping[str, str] | None) -> dict[str, str]:
    validate_service_id(service_id, type_name="UpdateServicePropsRequest")
    return validate_properties(properties or {}, type_name="UpdateServicePropsRequest")


def validate_properties(properties: Mapping[str, Any], *, type_name: str = "Properties") -> dict[str, str]:
    """openstage's caps on free-form properties (Service-Center validates none): at most 1000
    entries, keys 1..512 characters, values up to 64 KiB, all strings."""
    data = dict(properties)
    if len(data) > MAX_PROPERTIES:
        raise invalid_params(f"field '{type_name}.Properties' has {len(data)} entries, more than {MAX_PROPERTIES}")
    for k, v in data.items():
        if not isinstance(k, str) or not k or len(k) > MAX_PROPERTY_KEY_LENGTH:
            raise invalid_params(f"field '{type_name}.Properties' invalid key '{k}'")
        if not isinstance(v, str) or len(v) > MAX_PROPERTY_VALUE_LENGTH:
            raise invalid_params(f"field '{type_name}.Properties' invalid value for key '{k}'")
    return data


def validate_delete_services(request: DeleteServicesRequest) -> list[str]:
    """``DELETE /microservices`` body: at least one id, each 1..64 non-blank characters.
    Returns the ids de-duplicated in request order (Service-Center skips repeats)."""
    ids = check_list("DelServicesRequest", "ServiceIds", request.service_ids, min=1, max=MAX_BATCH, item_pattern=SERVICE_ID_RANGE)
    return list(dict.fromkeys(ids))


# --- tags --------------------------------------------------------------------------------------
def validate_tags(tags: Mapping[str, str] | None, *, type_name: str = "AddServiceTagsRequest") -> dict[str, str]:
    """Keys **and values** match ``^[a-zA-Z][a-zA-Z0-9_\\-.]{0,63}$``; at most 100 tags."""
    return check_map(type_name, "Tags", tags, max=MAX_TAGS, pattern=TAG)


def validate_update_tag(key: str | None, value: str | None) -> tuple[str, str]:
    k = check_str("UpdateServiceTagRequest", "Key", key, pattern=TAG)
    v = check_str("UpdateServiceTagRequest", "Value", value, pattern=TAG)
    return k, v


def validate_delete_tags(keys: Iterable[str] | None) -> list[str]:
    return check_list("DeleteServiceTagsRequest", "Keys", keys, min=1, max=MAX_TAGS, item_pattern=TAG)


# --- schemas -----------------------------------------------------------------------------------
def validate_schema_id(schema_id: str | None, *, type_name: str = "GetSchemaRequest") -> str:
    return check_str(type_name, "SchemaId", schema_id, min=1, max=160, pattern=SCHEMA_ID_UNLIMITED)


def validate_modify_schema(service_id: str | None, schema_id: str | None, request: ModifySchemaRequest) -> ModifySchemaRequest:
    t = "ModifySchemaRequest"
    validate_service_id(service_id, type_name=t)
    validate_schema_id(schema_id, type_name=t)
    check_str(t, "Schema", request.schema_, min=1)
    check_str(t, "Summary", request.summary, max=128, pattern=SCHEMA_SUMMARY)  # optional for compatibility
    return request


def validate_modify_schemas(service_id: str | None, request: ModifySchemasRequest) -> ModifySchemasRequest:
    """The batch upload: 1..100 schemas, each with schemaId, a non-empty ``summary`` of letters and
    digits (max 128) and a non-empty ``schema``."""
    t = "ModifySchemasRequest"
    validate_service_id(service_id, type_name=t)
    schemas = check_list(t, "Schemas", request.schemas, min=1, max=MAX_SCHEMAS)
    for s in schemas:
        validate_schema_id(s.schema_id, type_name="Schema")
        check_str("Schema", "Summary", s.summary, min=1, max=128, pattern=SCHEMA_SUMMARY)
        check_str("Schema", "Schema", s.schema_, min=1)
    return request


# --- instances ---------------------------------------------------------------------------------
def validate_register_instance(
    instance: MicroServiceInstance | None, service_id: str | None, *, check_service_id: bool = True
) -> MicroServiceInstance:
    """Validate an instance registration and return it normalized: ``serviceId`` from the path
    (``service_id=None`` with ``check_service_id=False`` keeps the body's, for the instances
    embedded in a service creation),
    status defaulted to ``UP`` and the health check normalized (see
    :func:`services.domain.registry.health.normalize_health_check`). ``timestamp``, ``modTimestamp``,
    ``version`` (copied from the service) and a generated ``instanceId`` are the worker's job."""
    t = "MicroServiceInstance"
    _required("RegisterInstanceRequest", "Instance", instance)
    assert instance is not None
    check_str(t, "InstanceId", instance.instance_id, max=64, pattern=SIMPLE_NAME_ALLOW_EMPTY)
    if check_service_id:
        validate_service_id(service_id, type_name=t)
    check_list(t, "Endpoints", instance.endpoints, item_pattern=ENDPOINT)
    check_str(t, "HostName", instance.host_name, min=1, max=64, pattern=ENDPOINT)
    check_str(t, "Status", instance.status, pattern=INSTANCE_STATUS)
    hc = instance.health_check
    if hc is not None:
        h = "HealthCheck"
        check_str(h, "Mode", hc.mode, pattern=HB_MODE)
        check_int(h, "Port", hc.port, min=0, max=UINT16_MAX)
        check_int(h, "Times", hc.times, max=INT32_MAX)
        check_int(h, "Interval", hc.interval, min=1, max=INT32_MAX)
        check_str(h, "Url", hc.url, pattern=URL)
    dc = instance.data_center_info
    if dc is not None:
        d = "DataCenterInfo"
        check_str(d, "Name", dc.name, min=1, max=128, pattern=SIMPLE_NAME)
        check_str(d, "Region", dc.region, min=1, max=128, pattern=SIMPLE_NAME)
        check_str(d, "AvailableZone", dc.available_zone, min=1, max=128, pattern=SIMPLE_NAME)
    if instance.properties is not None:
        validate_properties(instance.properties, type_name=t)
    normalized_hc = normalize_health_check(hc.model_dump(exclude_none=True) if hc is not None else None)
    return instance.model_copy(
        update={
            "service_id": service_id if service_id is not None else instance.service_id,
            "status": instance.status or "UP",
            "health_check": HealthCheck.model_validate(normalized_hc),
        }
    )


def validate_instance_status(status: str | None) -> str:
    """``PUT .../status?value=``: one of UP, DOWN, STARTING, TESTING, OUTOFSERVICE."""
    return check_str("UpdateInstanceStatusRequest", "Status", status, pattern=UPDATE_INSTANCE_STATUS)


def validate_heartbeat(service_id: str | None, instance_id: str | None) -> tuple[str, str]:
    return (validate_service_id(service_id, type_name="HeartbeatRequest"), validate_instance_id(instance_id))


def validate_heartbeat_set(request: HeartbeatSetRequest) -> list[HeartbeatSetElement]:
    """At least one element (else 400001 "Request format invalid."); repeats of the same
    serviceId+instanceId are dropped, as Service-Center does."""
    if not request.instances:
        raise invalid_params("Request format invalid.")
    check_list("HeartbeatSetRequest", "Instances", request.instances, max=MAX_BATCH_CLIENT)
    seen: set[tuple[str | None, str | None]] = set()
    out: list[HeartbeatSetElement] = []
    for e in request.instances:
        key = (e.service_id, e.instance_id)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def validate_get_instances(
    provider_service_id: str | None, *, consumer_id: str | None = None, tags: Iterable[str] | None = None, instance_id: str | None = None
) -> None:
    """``GET /microservices/{id}/instances[/{instanceId}]``."""
    t = "GetInstancesRequest"
    validate_consumer_id(consumer_id)
    validate_service_id(provider_service_id, type_name=t, field="ProviderServiceId")
    if instance_id is not None:
        validate_instance_id(instance_id, type_name=t, field="ProviderInstanceId")
    check_list(t, "Tags", tags, item_pattern=TAG)


def validate_find_instances(
    *,
    app_id: str | None,
    service_name: str | None,
    environment: str | None = None,
    version_rule: str | None = None,
    tags: Iterable[str] | None = None,
    consumer_id: str | None = None,
    type_name: str = "FindInstancesRequest",
) -> VersionRule:
    """``GET /instances``: appId and serviceName (name or alias, ``:`` allowed) required,
    optional ``env``, ``tags`` and (v2.0.0) ``version`` rule; returns the parsed rule
    (``all`` when absent, as Service-Center >= 2.1 behaves)."""
    validate_consumer_id(consumer_id)
    check_str(type_name, "Environment", environment, pattern=ENVIRONMENT)
    check_str(type_name, "AppId", app_id, min=1, max=160, pattern=NAME)
    check_str(type_name, "ServiceName", service_name, min=1, max=160 + 1 + 128, pattern=NAME_FOR_FIND)
    check_list(type_name, "Tags", tags, item_pattern=TAG)
    return check_version_rule(type_name, "VersionRule", version_rule, max=129)


def validate_batch_find(request: BatchFindInstancesRequest) -> BatchFindInstancesRequest:
    """``POST /instances/action?type=query``: services and/or instances, each entry complete."""
    if not request.services and not request.instances:
        raise invalid_params("Required services or instances")
    check_list("BatchFindInstancesRequest", "Services", request.services, max=MAX_BATCH_CLIENT)
    check_list("BatchFindInstancesRequest", "Instances", request.instances, max=MAX_BATCH_CLIENT)
    validate_consumer_id(request.consumer_service_id)
    for entry in request.services or []:
        _required("FindService", "Service", entry.service)
        key = entry.service
        validate_find_instances(
            app_id=key.app_id,
            service_name=key.service_name,
            environment=key.environment,
            version_rule=key.version,
            type_name="MicroServiceKey",
        )
    for found in request.instances or []:
        _required("FindInstance", "Instance", found.instance)
        validate_heartbeat(found.instance.service_id, found.instance.instance_id)
    return request


# --- existence ---------------------------------------------------------------------------------
def validate_existence(
    *,
    type: str | None,
    environment: str | None = None,
    app_id: str | None = None,
    service_name: str | None = None,
    version: str | None = None,
    service_id: str | None = None,
    schema_id: str | None = None,
    allow_version_rule: bool = False,
) -> str:
    """``GET /existence``. ``type=microservice`` needs appId, serviceName (or alias) and an exact
    version (HEAD; v2.0.0 also took a rule: ``allow_version_rule=True``); ``type=schema`` needs
    serviceId and schemaId. Any other type: 400001 "Only micro-service and schema can be used as
    type." Returns the type."""
    if type == "microservice":
        t = "GetExistenceRequest"
        check_str(t, "Environment", environment, pattern=ENVIRONMENT)
        check_str(t, "AppId", app_id, min=1, max=160, pattern=NAME)
        check_str(t, "ServiceName", service_name, min=1, max=160 + 1 + 128, pattern=NAME_FOR_FIND)
        if allow_version_rule:
            check_str(t, "Version", version, min=1)
            check_version_rule(t, "Version", version, max=129)
        else:
            check_version(t, "Version", version, min=1, max=64)
        return type
    if type == "schema":
        validate_service_id(service_id, type_name="GetSchemaRequest")
        validate_schema_id(schema_id)
        return type
    raise invalid_params("Only micro-service and schema can be used as type.")


# --- dependencies (v2.0.0) ---------------------------------------------------------------------


def _check_provider_key(key: MicroServiceKey) -> None:
    t = "MicroServiceKey"
    check_str(t, "Environment", key.environment, pattern=ENVIRONMENT)
    check_str(t, "AppId", key.app_id, max=160, pattern=NAME)
    check_str(t, "ServiceName", key.service_name, min=1, max=128, pattern=NAME_FUZZY)
    s = check_str(t, "Version", key.version, max=128, pattern=PROVIDER_VERSION)
    if s:
        check_version_rule(t, "Version", s, max=128)


def validate_dependencies(request: CreateDependenciesRequest, *, override: bool) -> list[ConsumerDependency]:
    """``PUT /dependencies`` (``override=True``) and ``POST /dependencies`` (add, ``override=False``).

    1..100 entries; the consumer is an exact service key (it must exist – the caller checks:
    400012 "Consumer ... does not exist."); providers are keys whose ``version`` is a rule of at
    most three segments and whose ``serviceName`` may be ``*`` (all services of the project).
    Then Service-Center's ``ParamsChecker``: a provider without appId takes the consumer's, a
    provider without version is 400001 "Required provider version", two providers with the same
    environment/appId/serviceName are 400001; checking stops at the first ``*`` provider. Add
    needs at least one provider. Returns the entries normalized, with ``override`` set."""
    t = "CreateDependenciesRequest" if override else "AddDependenciesRequest"
    deps = check_list(t, "Dependencies", request.dependencies, min=1, max=MAX_DEPENDENCIES)
    out: list[ConsumerDependency] = []
    for dep in deps:
        _required("ConsumerDependency", "Consumer", dep.consumer)
        _check_service_key("MicroServiceKey", dep.consumer)
        providers = check_list("ConsumerDependency", "Providers", dep.providers, min=0 if override else 1)
        for p in providers:
            _check_provider_key(p)
        normalized: list[MicroServiceKey] = []
        seen: set[tuple[str, str, str]] = set()
        checking = True
        for p in providers:
            if checking and p.service_name == "*":
                checking = False
            if not checking:
                normalized.append(p)
                continue
            if not p.app_id:
                p = p.model_copy(update={"app_id": dep.consumer.app_id})
            if not p.version:
                raise invalid_params("Required provider version")
            ident = (p.environment or "", p.app_id or "", p.service_name or "")
            if ident in seen:
                raise invalid_params("Invalid request body for provider info.Duplicate provider or (serviceName and appId is same).")
            seen.add(ident)
            normalized.append(p)
        out.append(dep.model_copy(update={"providers": normalized, "override": override}))
    return out


__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_LEVEL",
    "ENVIRONMENTS",
    "EXISTENCE_TYPES",
    "HEALTH_CHECK_MODES",
    "INSTANCE_STATUSES",
    "LEVELS",
    "MAX_BATCH",
    "MAX_BATCH_CLIENT",
    "MAX_DEPENDENCIES",
    "MAX_PROPERTIES",
    "MAX_SCHEMAS",
    "MAX_TAGS",
    "REGISTER_BY",
    "SERVICE_STATUSES",
    "apply_service_defaults",
    "check_int",
    "check_list",
    "check_map",
    "check_str",
    "check_version",
    "check_version_rule",
    "flag_one",
    "parse_body",
    "parse_force",
    "parse_with_schema",
    "split_tags",
    "string_true",
    "validate_batch_find",
    "validate_consumer_id",
    "validate_create_service",
    "validate_delete_services",
    "validate_delete_tags",
    "validate_dependencies",
    "validate_existence",
    "validate_find_instances",
    "validate_get_instances",
    "validate_heartbeat",
    "validate_heartbeat_set",
    "validate_instance_id",
    "validate_instance_status",
    "validate_micro_service",
    "validate_modify_schema",
    "validate_modify_schemas",
    "validate_properties",
    "validate_register_instance",
    "validate_schema_id",
    "validate_service_id",
    "validate_tags",
    "validate_update_service_properties",
    "validate_update_tag",
]
