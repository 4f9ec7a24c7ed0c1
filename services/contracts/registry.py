"""Request and response bodies of the Service-Center compatible registry (``/v4/{project}/registry``)
and of the config-center query (``/v3/{project}/configuration/items``).

JSON names follow go-chassis/cari ``discovery`` (the types Service-Center v2.x marshals):
``service.go``, ``instance.go``, ``schema.go``, ``types.go``, ``batch_find.go`` and
``pkg/errsvc/error.go``. Python attributes are snake_case with camelCase aliases; serialise with
``model.to_json()`` (= ``model_dump(by_alias=True, exclude_none=True, mode="json")``).

Input is accepted with keys in any letter case (``ServiceName``, ``Instances`` ...) because
Service-Center decodes with Go's ``encoding/json``, which matches keys case-insensitively;
Service-Center's own swagger even documents ``Instances`` for the heartbeat set.

Naming: ``BatchFindInstancesRequest``/``BatchFindInstancesResponse`` are the bodies of
``POST /instances/action?type=query`` (``FindInstancesRequest`` is an alias of the request);
``GET /instances`` (find) answers :class:`GetInstancesResponse` (``{"instances": [...]}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    RootModel,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from services.contracts.registry_errors import invalid_params

# per model class: (lower-cased alias or name -> the alias or name, the names as written)
_KEY_NAMES: dict[type, tuple[dict[str, str], frozenset[str]]] = {}


def _key_names(cls: type[BaseModel]) -> tuple[dict[str, str], frozenset[str]]:
    """The field names a model takes in any letter case (worked out once per class)."""
    known = _KEY_NAMES.get(cls)
    if known is None:
        wanted: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            alias = field.alias or name
            wanted[alias.lower()] = alias
            wanted.setdefault(name.lower(), name)
        known = _KEY_NAMES[cls] = (wanted, frozenset(wanted.values()))
    return known


class _SCModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", alias_generator=to_camel)

    @model_validator(mode="before")
    @classmethod
    def _case_insensitive_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        wanted, canonical = _key_names(cls)
        if all(key in canonical for key in data):  # (the usual case: nothing to rename)
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key not in canonical:
                target = wanted.get(key.lower())
                if target is not None and target not in data:
                    out[target] = value
                    continue
            out[key] = value
        return out

    def to_json(self) -> dict[str, Any]:
        """The wire form: camelCase names, absent (None) fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --------------------------------------------------------------------------------------------
# Shared value types
# --------------------------------------------------------------------------------------------
class FrameWork(_SCModel):
    name: str | None = None
    version: str | None = None


class ServicePath(_SCModel):
    path: str | None = None
    property: dict[str, str] | None = None


class MicroServiceKey(_SCModel):
    """cari ``MicroServiceKey`` – also the *DependencyKey* of the dependency API and the
    ``service`` of a batch-find entry. ``version`` holds a version *rule* for providers."""

    tenant: str | None = None
    environment: str | None = None
    app_id: str | None = None
    service_name: str | None = None
    alias: str | None = None
    version: str | None = None


DependencyKey = MicroServiceKey


class MicroService(_SCModel):
    service_id: str | None = None
    app_id: str | None = None
    service_name: str | None = None
    version: str | None = None
    description: str | None = None
    level: str | None = None  # FRONT | MIDDLE | BACK (default BACK)
    schemas: list[str] | None = None
    paths: list[ServicePath] | None = None
    status: str | None = None  # UP | DOWN (default UP)
    properties: dict[str, str] | None = None
    timestamp: str | None = None  # unix seconds as a string, set by the registry
    providers: list[MicroServiceKey] | None = None
    alias: str | None = None
    lb_strategy: dict[str, str] | None = Field(default=None, alias="LBStrategy")
    mod_timestamp: str | None = None
    environment: str | None = None  # "" | development | testing | acceptance | production
    register_by: str | None = None  # SDK | SIDECAR | PLATFORM
    framework: FrameWork | None = None


class HealthCheck(_SCModel):
    mode: str | None = None  # push | pull
    port: int | None = None
    interval: int | None = None  # seconds
    times: int | None = None
    url: str | None = None


class DataCenterInfo(_SCModel):
    name: str | None = None
    region: str | None = None
    available_zone: str | None = None


class MicroServiceInstance(_SCModel):
    instance_id: str | None = None
    service_id: str | None = None  # the path's serviceId wins on registration
    endpoints: list[str] | None = None  # e.g. "rest://127.0.0.1:8080"
    host_name: str | None = None
    status: str | None = None  # UP | DOWN | STARTING | OUTOFSERVICE | TESTING (default UP)
    properties: dict[str, str] | None = None
    health_check: HealthCheck | None = None
    timestamp: str | None = None
    data_center_info: DataCenterInfo | None = None
    mod_timestamp: str | None = None
    version: str | None = None  # copied from the service by the registry


class HeartbeatSetElement(_SCModel):
    service_id: str | None = None
    instance_id: str | None = None


MicroServiceInstanceKey = HeartbeatSetElement


class ErrorResponse(_SCModel):
    """``{"errorCode": "400012", "errorMessage": "...", "detail": "..."}`` – the code is a JSON
    string (cari tags it ``json:"errorCode,string"``); ``detail`` is omitted when empty."""

    error_code: str
    error_message: str = ""
    detail: str | None = None

    @field_validator("error_code", mode="before")
    @classmethod
    def _code_as_string(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @classmethod
    def of(cls, err: Any) -> ErrorResponse:
        """From a ``RegistryError`` (or anything with code/message/detail)."""
        return cls(error_code=str(err.code), error_message=err.message, detail=err.detail or None)


# --------------------------------------------------------------------------------------------
# Micro-services
# --------------------------------------------------------------------------------------------
class AddOrUpdateServiceRule(_SCModel):
    rule_type: str | None = None  # WHITE | BLACK
    attribute: str | None = None
    pattern: str | None = None
    description: str | None = None


class ServiceRule(AddOrUpdateServiceRule):
    rule_id: str | None = None
    timestamp: str | None = None
    mod_timestamp: str | None = None


class CreateServiceRequest(_SCModel):
    """``POST /v4/{project}/registry/microservices``."""

    service: MicroService | None = None
    rules: list[AddOrUpdateServiceRule] | None = None
    tags: dict[str, str] | None = None
    instances: list[MicroServiceInstance] | None = None


class CreateServiceResponse(_SCModel):
    service_id: str


class GetServiceResponse(_SCModel):
    """``GET /microservices/{serviceId}``."""

    service: MicroService


class GetServicesResponse(_SCModel):
    """``GET /microservices`` – ``services`` is omitted (not ``[]``) when there are none."""

    services: list[MicroService] | None = None


class UpdatePropertiesRequest(_SCModel):
    """``PUT /microservices/{serviceId}/properties`` and ``PUT .../instances/{id}/properties``:
    the given map **replaces** the stored properties (no merge)."""

    properties: dict[str, str] | None = None


class DeleteServicesRequest(_SCModel):
    """``DELETE /microservices`` (batch)."""

    service_ids: list[str] | None = None
    force: bool | None = None


class DeleteServiceResult(_SCModel):
    service_id: str | None = None
    err_message: str | None = None  # absent on success


class DeleteServicesResponse(_SCModel):
    services: list[DeleteServiceResult] | None = None


# --------------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------------
class AddTagsRequest(_SCModel):
    """``POST /microservices/{serviceId}/tags`` – Service-Center 2.x stores the given map as the
    service's whole tag set (it replaces, 1.x merged)."""

    tags: dict[str, str] | None = None


class GetTagsResponse(_SCModel):
    tags: dict[str, str] | None = None


class VersionResponse(BaseModel):
    """``GET /version`` (Service-Center ``version.Set`` + ``apiVersion``; no omitempty)."""

    version: str
    buildTag: str
    goVersion: str
    os: str
    arch: str
    apiVersion: str


# --------------------------------------------------------------------------------------------
# Governance views (/v4/{project}/govern; go-chassis/cari discovery/types.go)
# --------------------------------------------------------------------------------------------
class GovernStatistics(_SCModel):
    services: dict[str, int] | None = None
    instances: dict[str, int] | None = None
    apps: dict[str, int] | None = None


class GovernServiceDetail(_SCModel):
    micro_service: dict[str, Any] | None = None
    instances: list[dict[str, Any]] | None = None
    schema_infos: list[dict[str, Any]] | None = None
    providers: list[dict[str, Any]] | None = None
    consumers: list[dict[str, Any]] | None = None
    tags: dict[str, str] | None = None
    micro_service_versions: list[str] | None = None
    statics: GovernStatistics | None = None


class GovernServicesResponse(_SCModel):
    """``GET /govern/microservices``."""

    all_services_detail: list[GovernServiceDetail] | None = None
    statistics: GovernStatistics | None = None


class GovernServiceResponse(_SCModel):
    """``GET /govern/microservices/{serviceId}``."""

    service: GovernServiceDetail | None = None


class GovernStatisticsResponse(_SCModel):
    """``GET /govern/statistics``."""

    statistics: GovernStatistics | None = None


class GovernAppsResponse(_SCModel):
    """``GET /govern/apps``."""

    app_ids: list[str] | None = None


class GovernGraphResponse(BaseModel):
    """``GET /govern/relations`` (graph.go ``Graph``: no omitempty)."""

    nodes: list[dict[str, str]] | None = None
    lines: list[dict[str, Any]] | None = None
    circles: list[dict[str, Any]] | None = None


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------
class Schema(_SCModel):
    schema_id: str | None = None
    summary: str | None = None
    schema_: str | None = Field(default=None, alias="schema")


class ModifySchemaRequest(_SCModel):
    """``PUT /microservices/{serviceId}/schemas/{schemaId}``."""

    schema_: str | None = Field(default=None, alias="schema")
    summary: str | None = None


class ModifySchemasRequest(_SCModel):
    """``POST /microservices/{serviceId}/schemas`` – the full set: schemas not listed are deleted."""

    schemas: list[Schema] | None = None


class GetSchemaResponse(_SCModel):
    """``GET /microservices/{serviceId}/schemas/{schemaId}``: ``{"schema": "..."}``; the summary
    travels in the ``X-Schema-Summary`` header (the reply's ``headers``)."""

    schema_: str | None = Field(default=None, alias="schema")


class GetAllSchemaResponse(_SCModel):
    """``GET /microservices/{serviceId}/schemas[?withSchema=1]`` – ``schema`` only with withSchema=1;
    no schemas -> ``{}`` (Go's omitempty drops the empty list)."""

    schemas: list[Schema] | None = None


# --------------------------------------------------------------------------------------------
# Existence
# --------------------------------------------------------------------------------------------
class GetExistenceResponse(_SCModel):
    """``GET /existence?type=microservice|schema``.

    microservice: ``{"serviceId": "..."}``; schema: ``{"serviceId", "schemaId", "summary"}`` with
    the summary also in the ``X-Schema-Summary`` header (the reply's ``headers``)."""

    service_id: str | None = None
    schema_id: str | None = None
    summary: str | None = None


# --------------------------------------------------------------------------------------------
# Dependencies (removed after Service-Center v2.0.0; kept as v2.0.0 had them)
# --------------------------------------------------------------------------------------------
class ConsumerDependency(_SCModel):
    consumer: MicroServiceKey | None = None
    providers: list[MicroServiceKey] | None = None
    override: bool | None = None


class CreateDependenciesRequest(_SCModel):
    """``PUT /v4/{project}/registry/dependencies`` (overwrite) and ``POST`` (add)."""

    dependencies: list[ConsumerDependency] | None = None


AddDependenciesRequest = CreateDependenciesRequest


class GetProvidersResponse(_SCModel):
    """``GET /microservices/{consumerId}/providers``."""

    providers: list[MicroService] | None = None


class GetConsumersResponse(_SCModel):
    """``GET /microservices/{providerId}/consumers``."""

    consumers: list[MicroService] | None = None


# --------------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------------
class RegisterInstanceRequest(_SCModel):
    instance: MicroServiceInstance | None = None


class RegisterInstanceResponse(_SCModel):
    instance_id: str


class GetInstancesResponse(_SCModel):
    """``GET /microservices/{serviceId}/instances`` and ``GET /instances`` (find).
    ``instances`` is omitted when empty, and the body is empty on 304."""

    instances: list[MicroServiceInstance] | None = None


class GetOneInstanceResponse(_SCModel):
    instance: MicroServiceInstance | None = None


class MatchPolicy(_SCModel):
    properties: dict[str, str] | None = None


class UpdateManyInstanceStatusRequest(_SCModel):
    """``PUT /v4/{project}/registry/instances/status`` (Service-Center HEAD
    ``server/resource/disco/instance_resource.go`` lines 316-337): every instance whose properties
    contain all of ``matches.properties`` gets ``status``."""

    matches: MatchPolicy | None = None
    status: str | None = None


class HeartbeatSetRequest(_SCModel):
    """``PUT /v4/{project}/registry/heartbeats``."""

    instances: list[HeartbeatSetElement] | None = None


class InstanceHeartbeatResult(_SCModel):
    service_id: str | None = None
    instance_id: str | None = None
    err_message: str | None = None


class HeartbeatSetResponse(_SCModel):
    instances: list[InstanceHeartbeatResult] | None = None


class WatchInstanceResponse(_SCModel):
    """A watch/list-watch push: ``action`` is CREATE | UPDATE | DELETE | EXPIRE (| INIT)."""

    action: str | None = None
    key: MicroServiceKey | None = None
    instance: MicroServiceInstance | None = None


# --- batch find (POST /instances/action?type=query) ---------------------------------------------
class FindService(_SCModel):
    service: MicroServiceKey
    rev: str | None = None


class FindInstance(_SCModel):
    instance: HeartbeatSetElement
    rev: str | None = None


class BatchFindInstancesRequest(_SCModel):
    """The consumer id comes from the ``X-ConsumerId`` header (Service-Center overwrites the body's
    ``consumerServiceId``). At least one of ``services``/``instances`` must be non-empty."""

    consumer_service_id: str | None = None
    services: list[FindService] | None = None
    instances: list[FindInstance] | None = None


FindInstancesRequest = BatchFindInstancesRequest


class FindResult(_SCModel):
    index: int  # position in the request array – always present, even 0
    rev: str = ""  # always present
    instances: list[MicroServiceInstance] | None = None


class FindFailedResult(_SCModel):
    indexes: list[int] = Field(default_factory=list)
    error: ErrorResponse


class BatchFindResult(_SCModel):
    failed: list[FindFailedResult] | None = None  # one entry per distinct error code
    not_modified: list[int] | None = None  # indexes whose rev matched
    updated: list[FindResult] | None = None


class BatchFindInstancesResponse(_SCModel):
    services: BatchFindResult | None = None  # present only if the request had services
    instances: BatchFindResult | None = None  # present only if the request had instances


# --------------------------------------------------------------------------------------------
# Config center: /v3/{project}/configuration/items
# --------------------------------------------------------------------------------------------
class ConfigItemsResponse(RootModel[dict[str, dict[str, Any]]]):
    """``GET /v3/{project}/configuration/items?dimensionsInfo=svc%40app%231.0.0``::

        {"application": {"k": "v"},
         "svc@app": {"k1": "v1"},
         "darklaunch@app": {...},
         "svc@app#1.0.0": {"k2": "v2"},
         "revision": {"version": "<rev>"}}

    A dimension without items is left out. Clients (java-chassis ConfigCenterClient) merge
    application < svc@app < darklaunch@app < svc@app#version and read ``revision.version``."""

    REVISION_KEY: ClassVar[str] = "revision"

    @classmethod
    def build(cls, by_dimension: dict[str, dict[str, Any]], revision: str | None = None) -> ConfigItemsResponse:
        data = {k: dict(v) for k, v in by_dimension.items() if v}
        if revision is not None:
            data[cls.REVISION_KEY] = {"version": revision}
        return cls(data)

    @property
    def revision(self) -> str | None:
        rev = self.root.get(self.REVISION_KEY)
        return None if rev is None else rev.get("version")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


class CreateConfigItemsRequest(_SCModel):
    """``POST /v3/{project}/configuration/items`` (create or update; go-chassis config-center
    client ``PushConfigs``): ``{"dimensionsInfo": "svc@app#1.0.0", "items": {"k": "v"}}``."""

    dimensions_info: str
    items: dict[str, Any] = Field(default_factory=dict)


class DeleteConfigItemsRequest(_SCModel):
    """``DELETE /v3/{project}/configuration/items`` with body
    ``{"dimensionsInfo": "...", "keys": ["k1", "k2"]}`` (``DeleteConfigsByKeys``)."""

    dimensions_info: str
    keys: list[str] = Field(default_factory=list)


class ConfigItemsWriteResponse(_SCModel):
    """What the config center answers to a create/delete: ``{"Result": "Success"}``."""

    result: str = Field(default="Success", alias="Result")


# --------------------------------------------------------------------------------------------
# Decoding a request body as Service-Center does
# --------------------------------------------------------------------------------------------
SC = TypeVar("SC", bound=BaseModel)


def parse_body(model: type[SC], data: Any) -> SC:
    """A decoded JSON body (as the edge passes it on) as its request model. Absent, anything but
    a JSON object, or a value of the wrong type is 400001 ``Unmarshal error...`` (Service-Center's
    ``json.Unmarshal`` fails on an empty body too: an empty ``PUT .../properties`` must not clear
    the properties)."""
    if data is None:
        raise invalid_params("Unmarshal error: unexpected end of JSON input")
    if not isinstance(data, Mapping):
        raise invalid_params("Unmarshal error: the request body must be a JSON object")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise invalid_params(_unmarshal_detail(exc)) from None


def _unmarshal_detail(exc: ValidationError) -> str:
    errs = exc.errors()
    if not errs:
        return "Unmarshal error"
    e = errs[0]
    loc = ".".join(str(x) for x in e.get("loc", ()))
    return f"Unmarshal error: {loc}: {e.get('msg', '')}".rstrip(": ")


# --------------------------------------------------------------------------------------------
# Bus commands of the registry worker (openstage.cmd.<project>.registry.<entity>.<action>).
# The edge passes path/query values through as plain strings, and the JSON body the client sent
# as ``body``; the worker applies Service-Center's validation (services.domain.registry.validation),
# so a direct NATS caller gets the same 400001 answers as an HTTP one. No value here is ever used
# as a MongoDB filter document.
# --------------------------------------------------------------------------------------------
class _Command(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _BodyCommand(_Command):
    """A command carrying a Service-Center request body: ``body`` is the JSON object the client
    sent (keys in any letter case), typed by the subclass's ``body`` annotation.

    Decoded as the registry always has: the command's other fields first (a wrong type there is
    the usual 400 of every command), then anything the subclass checks before reading the body
    (:meth:`_before_body`), then the body with Service-Center's answers (:func:`parse_body`:
    400001 ``Unmarshal error...``, never a v2 validation error). A ``body`` given as the model
    itself is taken as it is. On the wire the body is the JSON it was decoded from, unchanged
    (the edge forwards what the client sent, fields the registry ignores included, and the bus's
    message limit applies to it as before); a body built as a model is written as a client would
    write it (camelCase, absent fields left out)."""

    _body_as_received: Any = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _decode_body_last(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        body_model = cls.model_fields["body"].annotation
        assert isinstance(body_model, type)
        if not isinstance(data, Mapping) or isinstance(data.get("body"), body_model):
            return handler(data)
        raw = data.get("body")
        command = handler({**data, "body": body_model.model_construct()})
        command._before_body()
        command.body = parse_body(body_model, raw)
        command._body_as_received = raw
        return command

    def _before_body(self) -> None:
        """What Service-Center checks before it reads the body (nothing by default)."""

    @field_serializer("body", check_fields=False)
    def _body_on_the_wire(self, body: _SCModel) -> Any:
        return body.to_json() if self._body_as_received is None else self._body_as_received


class _HotCommand(_Command):
    """A command of the registry's fast path (workers/registry/fast_path.py): every field is a
    string or absent, and anything else is 400001 (``the command must be a JSON object``,
    ``<field> must be a string``), whichever subscriber decodes it."""

    @model_validator(mode="wrap")
    @classmethod
    def _strings_only(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise invalid_params("the command must be a JSON object")
        try:
            return handler(data)
        except ValidationError as exc:
            raise invalid_params(f"{exc.errors()[0]['loc'][0]} must be a string") from None


class ServiceRefCommand(_Command):
    """service.get"""

    service_id: str | None = None


class CreateServiceCommand(_BodyCommand):
    """service.create: the body of ``POST /microservices``; ``domain`` from ``X-Domain-Name``
    (Service-Center's domain, part of the generated serviceId; absent = ``default``)."""

    domain: str | None = None
    body: CreateServiceRequest


class ListServicesCommand(_Command):
    """service.list: optional filters (exact matches)."""

    app_id: str | None = None
    service_name: str | None = None
    version: str | None = None
    environment: str | None = None
    with_shared: str | None = None


class UpdateServicePropertiesCommand(_BodyCommand):
    """service.update_properties: ``PUT /microservices/{serviceId}/properties``."""

    service_id: str | None = None
    body: UpdatePropertiesRequest


class DeleteServiceCommand(_Command):
    service_id: str | None = None
    force: str | None = None


class UpdateManyInstanceStatusCommand(_BodyCommand):
    """instance.update_status_many: ``PUT /instances/status``."""

    body: UpdateManyInstanceStatusRequest


class PutTagsCommand(_BodyCommand):
    """tag.put_many: ``POST /microservices/{serviceId}/tags`` (the whole tag set)."""

    service_id: str | None = None
    body: AddTagsRequest


class UpdateTagCommand(_Command):
    """tag.update: ``PUT /microservices/{serviceId}/tags/{key}?value=v``."""

    service_id: str | None = None
    key: str | None = None
    value: str | None = None


class DeleteTagsCommand(_Command):
    """tag.delete: ``DELETE /microservices/{serviceId}/tags/{k1,k2}``: ``keys`` as in the path."""

    service_id: str | None = None
    keys: str | None = None


class GovernServicesCommand(_Command):
    """govern.list: ``GET /v4/{project}/govern/microservices`` (query values as sent)."""

    options: str | None = None
    app_id: str | None = None
    service_name: str | None = None
    environment: str | None = None
    with_shared: str | None = None
    count_only: str | None = None
    properties: list[str] = []


class GovernAppsCommand(_Command):
    """govern.apps: ``GET /v4/{project}/govern/apps``."""

    environment: str | None = None
    with_shared: str | None = None


class GovernRelationsCommand(_Command):
    """govern.relations: ``GET /v4/{project}/govern/relations``."""

    with_shared: str | None = None


class GovernStatisticsCommand(_Command):
    """govern.statistics: ``GET /v4/{project}/govern/statistics``: no arguments."""


class HealthCommand(_Command):
    """health.get and health.version: ``GET /v4/{project}/registry/health`` and ``/version`` (and
    ``/health``, ``/version``): no arguments."""


class DeleteServicesCommand(_BodyCommand):
    """service.delete_many: the body of ``DELETE /microservices``."""

    body: DeleteServicesRequest


class ExistenceCommand(_Command):
    type: str | None = None
    environment: str | None = None
    app_id: str | None = None
    service_name: str | None = None
    version: str | None = None
    service_id: str | None = None
    schema_id: str | None = None


class SchemaRefCommand(_Command):
    service_id: str | None = None
    schema_id: str | None = None


class PutSchemaCommand(_BodyCommand):
    """schema.put: ``PUT /microservices/{serviceId}/schemas/{schemaId}``."""

    service_id: str | None = None
    schema_id: str | None = None
    body: ModifySchemaRequest


class PutSchemasCommand(_BodyCommand):
    """schema.put_many: ``POST /microservices/{serviceId}/schemas`` (the whole set)."""

    service_id: str | None = None
    body: ModifySchemasRequest


class ListSchemasCommand(_Command):
    service_id: str | None = None
    with_schema: str | None = None


class PutDependenciesCommand(_BodyCommand):
    """dependency.put: ``override`` true for PUT (replace), false for POST (add)."""

    body: CreateDependenciesRequest
    override: bool = True


class DependencyQueryCommand(_Command):
    service_id: str | None = None
    no_self: str | None = None
    same_domain: str | None = None


class RegisterInstanceCommand(_BodyCommand):
    """instance.register: ``POST /microservices/{serviceId}/instances``."""

    service_id: str | None = None
    body: RegisterInstanceRequest


class InstanceRefCommand(_Command):
    service_id: str | None = None
    instance_id: str | None = None
    consumer_id: str | None = None
    rev: str | None = None


class ListInstancesCommand(_Command):
    service_id: str | None = None
    consumer_id: str | None = None
    tags: str | None = None
    rev: str | None = None


class UpdateInstanceStatusCommand(_Command):
    service_id: str | None = None
    instance_id: str | None = None
    value: str | None = None


class UpdateInstancePropertiesCommand(_BodyCommand):
    """instance.update_properties: ``PUT .../instances/{instanceId}/properties``."""

    service_id: str | None = None
    instance_id: str | None = None
    body: UpdatePropertiesRequest


class HeartbeatCommand(_HotCommand):
    """instance.heartbeat (``PUT .../instances/{instanceId}/heartbeat``)."""

    service_id: str | None = None
    instance_id: str | None = None


class HeartbeatManyCommand(_BodyCommand):
    """instance.heartbeat_many: the body of ``PUT /heartbeats``."""

    body: HeartbeatSetRequest


class FindInstancesCommand(_HotCommand):
    """instance.find (``GET /instances``)."""

    app_id: str | None = None
    service_name: str | None = None
    version: str | None = None
    environment: str | None = None
    tags: str | None = None
    consumer_id: str | None = None
    rev: str | None = None


class BatchFindCommand(_BodyCommand):
    """instance.find_many (``POST /instances/action?type=query``): only the action ``query``
    exists (checked before the body is read, as Service-Center does)."""

    type: str | None = None
    consumer_id: str | None = None
    body: BatchFindInstancesRequest

    def _before_body(self) -> None:
        if self.type != "query":
            raise invalid_params(f"Invalid action: {self.type or ''}")


# --- CloudEvent ``data`` of the registry's events (fixed: the WebSocket watcher consumes them) ----
class ServiceSummary(BaseModel):
    """The provider key carried by instance and schema events."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    appId: str = ""
    serviceName: str = ""
    version: str = ""
    environment: str = ""


class ServiceEventData(BaseModel):
    """``registry.service.created|updated|deleted``: the service as ``GET`` shows it."""

    serviceId: str
    service: dict[str, Any]


class InstanceEventData(BaseModel):
    """``registry.instance.registered|deregistered|expired|status_changed|updated``: the instance as
    the v4 API shows it (its last state for deregistered/expired) and its service's key."""

    serviceId: str
    instanceId: str
    instance: dict[str, Any]
    service: ServiceSummary


class SchemaChangedData(BaseModel):
    """``registry.schema.changed``: ``action`` is ``put`` or ``delete``."""

    serviceId: str
    schemaId: str
    action: str
    summary: str = ""
    service: ServiceSummary


class TagsChangedData(BaseModel):
    """``registry.tag.changed``: a service's whole tag set now and its key."""

    serviceId: str
    tags: dict[str, str]
    service: ServiceSummary


class DependencyChangedData(BaseModel):
    """``registry.dependency.changed``: the consumer's whole provider rule list now."""

    consumerId: str
    consumer: ServiceSummary
    providers: list[dict[str, str]]


REGISTRY_COMMANDS = [
    ServiceRefCommand,
    CreateServiceCommand,
    ListServicesCommand,
    UpdateServicePropertiesCommand,
    DeleteServiceCommand,
    DeleteServicesCommand,
    ExistenceCommand,
    PutTagsCommand,
    UpdateTagCommand,
    UpdateManyInstanceStatusCommand,
    DeleteTagsCommand,
    HealthCommand,
    GovernServicesCommand,
    GovernAppsCommand,
    GovernRelationsCommand,
    GovernStatisticsCommand,
    SchemaRefCommand,
    PutSchemaCommand,
    PutSchemasCommand,
    ListSchemasCommand,
    PutDependenciesCommand,
    DependencyQueryCommand,
    RegisterInstanceCommand,
    InstanceRefCommand,
    ListInstancesCommand,
    UpdateInstanceStatusCommand,
    UpdateInstancePropertiesCommand,
    HeartbeatCommand,
    HeartbeatManyCommand,
    FindInstancesCommand,
    BatchFindCommand,
]

__all__ = [
    *[c.__name__ for c in REGISTRY_COMMANDS],
    "REGISTRY_COMMANDS",
    "parse_body",
    "DependencyChangedData",
    "InstanceEventData",
    "SchemaChangedData",
    "ServiceEventData",
    "ServiceSummary",
    "TagsChangedData",
    "VersionResponse",
    "MatchPolicy",
    "UpdateManyInstanceStatusRequest",
    "GovernAppsResponse",
    "GovernGraphResponse",
    "GovernServiceDetail",
    "GovernServiceResponse",
    "GovernServicesResponse",
    "GovernStatistics",
    "GovernStatisticsResponse",
    "AddDependenciesRequest",
    "AddOrUpdateServiceRule",
    "AddTagsRequest",
    "BatchFindInstancesRequest",
    "BatchFindInstancesResponse",
    "BatchFindResult",
    "ConfigItemsResponse",
    "ConfigItemsWriteResponse",
    "ConsumerDependency",
    "CreateConfigItemsRequest",
    "CreateDependenciesRequest",
    "CreateServiceRequest",
    "CreateServiceResponse",
    "DataCenterInfo",
    "DeleteConfigItemsRequest",
    "DeleteServiceResult",
    "DeleteServicesRequest",
    "DeleteServicesResponse",
    "DependencyKey",
    "ErrorResponse",
    "FindFailedResult",
    "FindInstance",
    "FindInstancesRequest",
    "FindResult",
    "FindService",
    "FrameWork",
    "GetAllSchemaResponse",
    "GetConsumersResponse",
    "GetExistenceResponse",
    "GetInstancesResponse",
    "GetOneInstanceResponse",
    "GetProvidersResponse",
    "GetSchemaResponse",
    "GetServiceResponse",
    "GetServicesResponse",
    "GetTagsResponse",
    "HealthCheck",
    "HeartbeatSetElement",
    "HeartbeatSetRequest",
    "HeartbeatSetResponse",
    "InstanceHeartbeatResult",
    "MicroService",
    "MicroServiceInstance",
    "MicroServiceInstanceKey",
    "MicroServiceKey",
    "ModifySchemaRequest",
    "ModifySchemasRequest",
    "RegisterInstanceRequest",
    "RegisterInstanceResponse",
    "Schema",
    "ServicePath",
    "ServiceRule",
    "UpdatePropertiesRequest",
    "WatchInstanceResponse",
]
