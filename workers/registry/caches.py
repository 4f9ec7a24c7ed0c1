"""What one registry worker process keeps in memory, and how registry events keep it true.

* ``services``: service JSON by (project, serviceId) – consumers (X-ConsumerId) and providers
  of instance registrations are looked up here first;
* ``instance_ttls``: lease TTL by (project, serviceId, instanceId) of the instances known to
  exist – a heartbeat for one of them is answered without touching MongoDB;
* ``finds``: the serialized discovery answer (200 and 304 replies with the revision) by
  :func:`find_key` – the hot path of ``GET /instances`` does no query while nothing changed;
* ``recorded_dependencies``: the dependency rules a find with ``X-ConsumerId`` has already
  recorded (:func:`dependency_of_find`), so the next such find writes nothing;
* ``instance_docs`` / ``endpoint_ids``: the stored JSON of instances this process registered
  itself, and their ids by endpoints – a registration that would write the same content again
  is answered from here as a lease renewal (workers/registry/microservice_instances.py
  ``register_from_memory``), which is what Service-Center does with a known instance.

Every process subscribes to ``openstage.evt.*.registry.>`` (services/adapters/registry_events.py)
and applies each event with :meth:`RegistryCaches.apply_event`; the process that made a change
applies its own events synchronously before it answers (workers/registry/transactions.py), so
its next read is fresh. A find computed while an event for its scope arrived is not cached
(scope generations), so a late result never hides a change. After a reconnect (events may have
been missed) everything is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.adapters.clock import Clock
from services.domain.registry.global_services import is_global
from services.domain.registry.model import ttl_of
from services.domain.registry.version_rules import ALL_VERSIONS

Scope = tuple[str, str, str]  # (project, environment, appId)
# (project, environment, appId, serviceName, version rule, tags, consumerId)
FindKey = tuple[Any, Any, Any, Any, Any, Any, Any]
# (project, consumerId, environment, appId, serviceName, version rule)
DependencyMark = tuple[str, str, str, str, str, str]

# A cached find is rebuilt after this long even without an event (a safety net, not the design).
FIND_MAX_AGE_SECONDS = 30.0
MAX_FIND_ENTRIES = 100_000
MAX_SERVICES = 100_000
MAX_INSTANCES = 1_000_000
MAX_REREGISTRATIONS = 8_192
MAX_REREGISTRATION_BYTES = 2_048  # commands up to this size are remembered (a few MB at most)


def find_key(project: str, environment: Any, app_id: Any, service_name: Any, version: Any, tags: Any, consumer_id: Any) -> FindKey:
    """The cache key of a find. Absent values count as ``""``; any other value is kept as it is, so
    a value that is not a string never finds an entry cached for a validated find."""
    return (
        project,
        "" if environment is None else environment,
        "" if app_id is None else app_id,
        "" if service_name is None else service_name,
        "" if version is None else version,
        "" if tags is None else tags,
        "" if consumer_id is None else consumer_id,
    )


def dependency_of_find(
    project: str, consumer: dict[str, Any], app_id: str, service_name: str, version: str | None
) -> tuple[dict[str, str], DependencyMark]:
    """The provider rule a find with X-ConsumerId records for its consumer, and its mark in
    ``recorded_dependencies``."""
    rule = {
        "environment": consumer.get("environment") or "",
        "appId": app_id,
        "serviceName": service_name,
        "version": version or ALL_VERSIONS,
    }
    mark = (project, consumer["serviceId"], rule["environment"], app_id, service_name, rule["version"])
    return rule, mark


@dataclass(frozen=True, slots=True, eq=False)
class Reregistration:
    """An unchanged re-registration this process answered from memory, kept by its command's bytes
    (``RegistryCaches.reregistrations``): the same bytes again mean the same validated instance,
    so while the service and the remembered instance JSON are still the very objects it was
    compared with (and, without an instance id, its endpoints still name that instance), the
    answer is the same and nothing needs validating."""

    service: dict[str, Any]
    known: dict[str, Any]
    instance: tuple[str, str, str]  # (project, serviceId, instanceId)
    endpoints_key: str | None  # when the registration named no instance id
    ttl: int
    answer: bytes

    def holds(self, caches: RegistryCaches) -> bool:
        project, sid, iid = self.instance
        return (
            caches.services.get((project, sid)) is self.service
            and caches.registered_doc(project, sid, iid) is self.known
            and (self.endpoints_key is None or caches.endpoint_ids.get((project, sid, self.endpoints_key)) == iid)
        )


@dataclass(slots=True)
class FindEntry:
    scope: Scope
    rev: str | None
    ok: bytes  # the reply for a changed (or first) read
    not_modified: bytes | None  # the 304 reply
    instances: list[dict[str, Any]] | None
    error: Exception | None
    built: float  # clock.monotonic() when computed


class RegistryCaches:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.instance_ttls: dict[tuple[str, str, str], int] = {}
        self.finds: dict[FindKey, FindEntry] = {}
        self.scope_keys: dict[Scope, set[FindKey]] = {}
        self.scope_generations: dict[Scope, int] = {}
        self.recorded_dependencies: set[DependencyMark] = set()
        # projects whose global services this process has registered (workers/registry/global_services.py)
        self.globals_ready: set[str] = set()
        # Instances as this process last committed them (remember_registration), by
        # (project, serviceId, instanceId), and their ids by (project, serviceId, endpoints key).
        # An entry is dropped by any other event for its instance; instance_generation counts those
        # events, so a registration whose commit raced one is not remembered (a late own event can
        # never hide a newer change made by another process).
        self.instance_docs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.endpoint_ids: dict[tuple[str, str, str], str] = {}
        self.instance_generation = 0
        # (project, the command's bytes) -> its unchanged re-registration (Reregistration.holds
        # says whether it still stands; a stale entry only costs the full check)
        self.reregistrations: dict[tuple[str, bytes], Reregistration] = {}

    # --- finds -------------------------------------------------------------------------------
    def generation(self, scope: Scope) -> int:
        return self.scope_generations.get(scope, 0)

    def cached_find(self, key: FindKey) -> FindEntry | None:
        entry = self.finds.get(key)
        if entry is not None and self.clock.monotonic() - entry.built > FIND_MAX_AGE_SECONDS:
            self._drop_find(key)
            return None
        return entry

    def store_find(self, key: FindKey, entry: FindEntry, generation: int) -> None:
        """Cache a computed find unless its scope changed while it was computed."""
        if self.scope_generations.get(entry.scope, 0) != generation:
            return
        if len(self.finds) >= MAX_FIND_ENTRIES:
            self.clear_finds()
        self.finds[key] = entry
        self.scope_keys.setdefault(entry.scope, set()).add(key)

    def _drop_find(self, key: FindKey) -> None:
        entry = self.finds.pop(key, None)
        if entry is not None:
            keys = self.scope_keys.get(entry.scope)
            if keys is not None:
                keys.discard(key)

    def invalidate_scope(self, project: str, environment: str, app_id: str) -> None:
        scope = (project, environment or "", app_id or "")
        self.scope_generations[scope] = self.scope_generations.get(scope, 0) + 1
        for key in self.scope_keys.pop(scope, ()):
            self.finds.pop(key, None)

    def clear_finds(self) -> None:
        for scope in list(self.scope_generations):
            self.scope_generations[scope] += 1
        self.finds.clear()
        self.scope_keys.clear()

    # --- services and instances ----------------------------------------------------------------
    def remember_service(self, project: str, service: dict[str, Any]) -> None:
        if len(self.services) >= MAX_SERVICES:
            self.services.clear()
        self.services[(project, service["serviceId"])] = service

    def remember_instance(self, project: str, service_id: str, instance_id: str, ttl: int) -> None:
        if len(self.instance_ttls) >= MAX_INSTANCES:
            self.instance_ttls.clear()
        self.instance_ttls[(project, service_id, instance_id)] = ttl

    def forget_instance(self, project: str, service_id: str, instance_id: str) -> None:
        self.instance_ttls.pop((project, service_id, instance_id), None)
        self.forget_instance_doc(project, service_id, instance_id)

    # --- registrations answered from memory ------------------------------------------------------
    def remember_registration(self, project: str, doc: dict[str, Any], endpoints_key: str, generation: int) -> None:
        """Keep the JSON this process just committed for an instance, unless another change to
        any instance was heard since ``generation`` was read (before the transaction began)."""
        key = (project, doc["serviceId"], doc["instanceId"])
        if generation != self.instance_generation:
            self.forget_instance_doc(*key)
            return
        if len(self.instance_docs) >= MAX_INSTANCES:
            self.instance_docs.clear()
            self.endpoint_ids.clear()
        self.instance_docs[key] = doc
        if endpoints_key:
            self.endpoint_ids[(project, doc["serviceId"], endpoints_key)] = doc["instanceId"]

    def registered_doc(self, project: str, service_id: str, instance_id: str) -> dict[str, Any] | None:
        """The instance's JSON as this process committed it, while nothing else changed it and its
        lease is known to this process."""
        key = (project, service_id, instance_id)
        if key not in self.instance_ttls:
            return None
        return self.instance_docs.get(key)

    def remember_reregistration(self, project: str, payload: bytes, seen: Reregistration) -> None:
        if len(payload) > MAX_REREGISTRATION_BYTES:
            return
        if len(self.reregistrations) >= MAX_REREGISTRATIONS:
            self.reregistrations.clear()
        self.reregistrations[(project, payload)] = seen

    def forget_instance_doc(self, project: str, service_id: str, instance_id: str) -> None:
        if self.instance_docs.pop((project, service_id, instance_id), None) is not None:
            self.instance_generation += 1

    def _heard_instance_change(self, project: str, service_id: str, instance_id: str, doc: Any) -> None:
        """An instance event applied from the bus (or after a failed commit): unless it is the echo
        of what this process committed, the remembered JSON goes and racing registrations are not
        remembered."""
        key = (project, service_id, instance_id)
        if doc is not None and self.instance_docs.get(key) == doc:
            return  # the echo of this process's own registration
        self.instance_docs.pop(key, None)
        self.instance_generation += 1

    def forget_service(self, project: str, service_id: str) -> None:
        self.services.pop((project, service_id), None)
        for key in [k for k in self.instance_ttls if k[0] == project and k[1] == service_id]:
            del self.instance_ttls[key]
        for key in [k for k in self.instance_docs if k[0] == project and k[1] == service_id]:
            del self.instance_docs[key]
        self.instance_generation += 1
        self._forget_dependencies_of(project, service_id)

    def _forget_dependencies_of(self, project: str, consumer_id: str) -> None:
        self.recorded_dependencies = {r for r in self.recorded_dependencies if not (r[0] == project and r[1] == consumer_id)}

    def clear(self) -> None:
        self.services.clear()
        self.instance_ttls.clear()
        self.recorded_dependencies.clear()
        self.globals_ready.clear()
        self.instance_docs.clear()
        self.endpoint_ids.clear()
        self.reregistrations.clear()
        self.instance_generation += 1
        self.clear_finds()

    # --- events ----------------------------------------------------------------------------------
    def apply_event(self, project: str, entity: str, verb: str, data: dict[str, Any]) -> None:
        """Bring the caches in line with one registry event (idempotent)."""
        if entity == "instance":
            svc = data.get("service") or {}
            self.invalidate_scope(project, svc.get("environment") or "", svc.get("appId") or "")
            sid, iid = data.get("serviceId") or "", data.get("instanceId") or ""
            self._heard_instance_change(project, sid, iid, data.get("instance") if verb in ("registered", "updated") else None)
            if verb in ("deregistered", "expired"):
                self.forget_instance(project, sid, iid)
                if is_global(svc.get("appId"), svc.get("serviceName")):
                    self.globals_ready.discard(project)
            elif verb in ("registered", "updated"):
                try:
                    self.remember_instance(project, sid, iid, ttl_of(data.get("instance") or {}))
                except Exception:  # a malformed event only costs a cache miss
                    self.forget_instance(project, sid, iid)
        elif entity == "tag":  # Service-Center drops the tagged service's finds (tag_event_handler.go)
            svc = data.get("service") or {}
            self.invalidate_scope(project, svc.get("environment") or "", svc.get("appId") or "")
        elif entity == "service":
            svc = data.get("service") or {}
            sid = data.get("serviceId") or svc.get("serviceId") or ""
            self.invalidate_scope(project, svc.get("environment") or "", svc.get("appId") or "")
            if verb == "deleted":
                self.forget_service(project, sid)
                if is_global(svc.get("appId"), svc.get("serviceName")):
                    self.globals_ready.discard(project)
            else:
                self.services.pop((project, sid), None)
        elif entity == "dependency":
            self._forget_dependencies_of(project, data.get("consumerId") or "")
