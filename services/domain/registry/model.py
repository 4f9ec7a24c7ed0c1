"""The registry's records and the decisions made on them (pure: no I/O).

A service and an instance are kept as their **v4 JSON** (what ``GET`` shows, camelCase, as a
dict); the store saves that JSON as one opaque blob next to a few indexed scalar fields, so no
user-supplied key (a property such as ``{"$gt": ""}`` or ``a.b``) ever becomes a MongoDB field
name, and a read hands back bytes that need no re-shaping.

Decisions here:

* :func:`registration_outcome` – re-registering a service (Service-Center's answer);
* :func:`select_providers` – the services a find matches (name or alias, version rule, access
  and tags), newest first;
* :func:`find_body` / :func:`body_revision` – the find/list result and its revision;
* :class:`BatchResult` – aggregation of ``POST /instances/action?type=query``;
* :func:`dependency_matches` – whether a dependency rule selects a service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.contracts.registry import MicroService, MicroServiceInstance
from services.contracts.registry_errors import RegistryError, service_already_exists
from services.domain.registry.health import ttl_for_health_check
from services.domain.registry.version_rules import RuleKind, VersionRule, _segments, parse_version_rule

ALLOW_CROSS_APP = "allowCrossApp"
EMPTY_FIND_BODY = b"{}"


# --- services ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceKey:
    """What identifies a service besides its id: (environment, appId, serviceName, version)."""

    environment: str
    app_id: str
    service_name: str
    version: str

    @classmethod
    def of(cls, service: Mapping[str, Any]) -> ServiceKey:
        return cls(
            service.get("environment") or "", service.get("appId") or "", service.get("serviceName") or "", service.get("version") or ""
        )

    def text(self) -> str:
        return f"{self.environment}/{self.app_id}/{self.service_name}/{self.version}"

    def summary(self) -> dict[str, str]:
        """``{"appId", "serviceName", "version", "environment"}`` – the ``service`` of instance events."""
        return {"appId": self.app_id, "serviceName": self.service_name, "version": self.version, "environment": self.environment}


def new_service_json(service: MicroService, service_id: str, timestamp: str) -> dict[str, Any]:
    """The stored v4 JSON of a validated service (defaults already applied)."""
    doc = service.to_json()
    doc["serviceId"] = service_id
    doc["timestamp"] = timestamp
    doc["modTimestamp"] = timestamp
    return _omit_empty(doc)


def _omit_empty(doc: dict[str, Any]) -> dict[str, Any]:
    """Go's ``omitempty``, as Service-Center writes a service or instance: an empty
    ``environment`` or ``properties`` is left out, not written as ``""`` / ``{}``."""
    for key in ("environment", "properties"):
        if key in doc and not doc[key]:
            del doc[key]
    return doc


def registration_outcome(requested_id: str | None, existing_by_key: str | None, id_taken: bool) -> str | None:
    """Service-Center's answer to ``POST /microservices`` (``datasource/etcd/ms.go`` RegisterService):

    * the key (env/app/name/version) already exists: without an id, or with the same id -> that
      id, nothing updated; with another id -> 400010;
    * the key is new but the requested id belongs to another service -> 400010;
    * otherwise ``None``: create it."""
    if existing_by_key is not None:
        if not requested_id or requested_id == existing_by_key:
            return existing_by_key
        raise service_already_exists()
    if requested_id and id_taken:
        raise service_already_exists()
    return None


def _changed(doc: Mapping[str, Any], key: str, value: Any, timestamp: str) -> dict[str, Any]:
    """A copy of a service or instance JSON with ``key`` set (left out when empty, as Go's
    omitempty writes it) and ``modTimestamp`` moved on."""
    out = dict(doc)
    if value:
        out[key] = value
    else:
        out.pop(key, None)
    out["modTimestamp"] = timestamp
    return out


def with_properties(doc: Mapping[str, Any], properties: Mapping[str, str], timestamp: str) -> dict[str, Any]:
    """A copy of a service or instance JSON whose ``properties`` are replaced (no merge)."""
    return _changed(doc, "properties", dict(properties), timestamp)


def with_schema_id(doc: Mapping[str, Any], schema_id: str, timestamp: str) -> dict[str, Any] | None:
    """The service JSON with ``schema_id`` added to ``schemas`` (None if it is already there)."""
    schemas = list(doc.get("schemas") or [])
    if schema_id in schemas:
        return None
    return _changed(doc, "schemas", [*schemas, schema_id], timestamp)


def with_schema_ids(doc: Mapping[str, Any], schema_ids: Sequence[str], timestamp: str) -> dict[str, Any]:
    """The service JSON whose ``schemas`` are exactly ``schema_ids``."""
    return _changed(doc, "schemas", list(schema_ids), timestamp)


# --- instances ---------------------------------------------------------------------------------
def endpoints_key(endpoints: Iterable[str] | None) -> str:
    """Key under which the same endpoint set is recognised (sorted, de-duplicated); ``""`` for none."""
    eps = sorted(set(endpoints or []))
    if not eps:
        return ""
    return hashlib.sha1("\n".join(eps).encode()).hexdigest()


def new_instance_json(
    instance: MicroServiceInstance, service: Mapping[str, Any], instance_id: str, timestamp: str, registered_at: str | None = None
) -> dict[str, Any]:
    """The stored v4 JSON of a validated instance: ids, the service's version, timestamps.

    ``registered_at`` keeps the original ``timestamp`` when a registration overwrites an
    instance (its content is replaced; when it first registered is not)."""
    doc = instance.to_json()
    doc["instanceId"] = instance_id
    doc["serviceId"] = service["serviceId"]
    doc["version"] = service.get("version") or ""
    doc["timestamp"] = registered_at or timestamp
    doc["modTimestamp"] = timestamp
    doc.setdefault("status", "UP")
    return _omit_empty(doc)


def with_status(doc: Mapping[str, Any], status: str, timestamp: str) -> dict[str, Any]:
    """The instance JSON with a new (validated, non-empty) ``status``."""
    return _changed(doc, "status", status, timestamp)


def instance_event_data(doc: Mapping[str, Any], service: Mapping[str, Any]) -> dict[str, Any]:
    """CloudEvent ``data`` of every instance event (fixed: the watcher consumes it)."""
    return {
        "serviceId": doc.get("serviceId"),
        "instanceId": doc.get("instanceId"),
        "instance": dict(doc),
        "service": ServiceKey.of(service).summary(),
    }


def ttl_of(doc: Mapping[str, Any]) -> int:
    """The lease TTL (seconds) of an instance JSON, from its health check."""
    return ttl_for_health_check(doc.get("healthCheck"))


# --- discovery ---------------------------------------------------------------------------------
def _version_order(service: Mapping[str, Any]) -> tuple[tuple[int, ...], str]:
    v = service.get("version") or ""
    return (_segments(v) or (-1, -1, -1, -1), v)


def accessible(consumer: Mapping[str, Any] | None, provider: Mapping[str, Any]) -> bool:
    """Service-Center's ``Accessible`` without black/white rules: another app is refused unless the
    provider's property ``allowCrossApp`` is true (any case); another environment is refused."""
    if consumer is None:
        return True
    if (consumer.get("environment") or "") != (provider.get("environment") or ""):
        return False
    if (consumer.get("appId") or "") != (provider.get("appId") or ""):
        props = provider.get("properties") or {}
        return str(props.get(ALLOW_CROSS_APP, "")).strip().lower() == "true"
    return True


def select_providers(
    services: Iterable[Mapping[str, Any]],
    service_name: str,
    rule: VersionRule,
    *,
    consumer: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    service_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[bool, list[dict[str, Any]]]:
    """(any service has that name or alias, the matching services newest first).

    ``services`` are those of one (project, environment, appId). Name first, alias as fallback
    (Service-Center looks up the name index, then the alias index)."""
    by_name = [s for s in services if s.get("serviceName") == service_name]
    if not by_name:
        by_name = [s for s in services if s.get("alias") and s.get("alias") == service_name]
    if not by_name:
        return False, []
    ordered = sorted(by_name, key=_version_order, reverse=True)
    if rule.kind is RuleKind.LATEST:
        ordered = ordered[:1]
    elif rule.kind is not RuleKind.ALL:
        ordered = [s for s in ordered if rule.matches(s.get("version") or "")]
    out = []
    for s in ordered:
        if not accessible(consumer, s):
            continue
        if tags:
            have = (service_tags or {}).get(s.get("serviceId") or "", {})
            if not all(t in have for t in tags):
                continue
        out.append(dict(s))
    return True, out


def instance_sort_key(doc: Mapping[str, Any]) -> tuple[str, str]:
    return (doc.get("timestamp") or "", doc.get("instanceId") or "")


def find_body(instances: Sequence[Mapping[str, Any]]) -> bytes:
    """``{"instances": [...]}`` or ``{}`` (Go's omitempty) as bytes."""
    if not instances:
        return EMPTY_FIND_BODY
    return orjson.dumps({"instances": list(instances)})


def body_revision(body: bytes) -> str:
    """The revision of a result: sha1 of its bytes (deterministic: the same instances in the same
    order give the same bytes in every process). Any change the result shows – registration,
    deregistration, expiry, status, properties – changes it; a heartbeat does not."""
    return hashlib.sha1(body).hexdigest()


# --- dependencies --------------------------------------------------------------------------------
def dependency_matches(rule_key: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    """Whether a stored provider rule (environment/appId/serviceName/version rule) selects a
    service. ``serviceName`` ``*`` selects every service of the consumer's environment."""
    if (rule_key.get("environment") or "") != (service.get("environment") or ""):
        return False
    if rule_key.get("serviceName") == "*":
        return True
    if (rule_key.get("appId") or "") != (service.get("appId") or ""):
        return False
    name = rule_key.get("serviceName")
    if name != service.get("serviceName") and not (service.get("alias") and name == service.get("alias")):
        return False
    return parse_version_rule(rule_key.get("version") or "").matches(service.get("version") or "")


def resolve_rules(rules: Sequence[Mapping[str, Any]], services: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The services a list of provider rules selects now (``latest`` per (app, name)), in order,
    without repeats."""
    out: dict[str, dict[str, Any]] = {}
    for r in rules:
        rule = parse_version_rule(r.get("version") or "") if r.get("serviceName") != "*" else None
        matched = [s for s in services if dependency_matches({**r, "version": ""}, s)]
        if rule is not None:
            matched.sort(key=_version_order, reverse=True)
            if rule.kind is RuleKind.LATEST:
                matched = matched[:1]
            else:
                matched = [s for s in matched if rule.matches(s.get("version") or "")]
        for s in matched:
            out.setdefault(s["serviceId"], dict(s))
    return list(out.values())


# --- batch find ------------------------------------------------------------------------------------
@dataclass
class BatchResult:
    """One half (``services`` or ``instances``) of the batch-find answer (cari ``BatchFindResult``):
    ``updated`` entries with index and rev, ``notModified`` indexes, and ``failed`` grouped by
    error code (the first error of each code is kept)."""

    updated: list[dict[str, Any]] = field(default_factory=list)
    not_modified: list[int] = field(default_factory=list)
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_ok(self, index: int, rev: str, request_rev: str | None, instances: list[Any] | None) -> None:
        if request_rev and request_rev == rev:
            self.not_modified.append(index)
            return
        entry: dict[str, Any] = {"index": index, "rev": rev}
        if instances:
            entry["instances"] = instances
        self.updated.append(entry)

    def add_error(self, index: int, err: RegistryError) -> None:
        if err.internal:
            raise err
        group = self.failed.get(err.code)
        if group is None:
            body = {"errorCode": err.code, "errorMessage": err.message}
            if err.detail:
                body["detail"] = err.detail
            self.failed[err.code] = {"indexes": [index], "error": body}
        else:
            group["indexes"].append(index)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.failed:
            out["failed"] = list(self.failed.values())
        if self.not_modified:
            out["notModified"] = self.not_modified
        if self.updated:
            out["updated"] = self.updated
        return out


__all__ = [
    "ALLOW_CROSS_APP",
    "EMPTY_FIND_BODY",
    "BatchResult",
    "ServiceKey",
    "accessible",
    "body_revision",
    "dependency_matches",
    "endpoints_key",
    "find_body",
    "instance_event_data",
    "instance_sort_key",
    "new_instance_json",
    "new_service_json",
    "registration_outcome",
    "resolve_rules",
    "select_providers",
    "ttl_of",
    "with_properties",
    "with_schema_id",
    "with_schema_ids",
    "with_status",
]
