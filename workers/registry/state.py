"""What one registry worker process keeps in memory, and how registry events keep it true.

* ``services``: service JSON by (project, serviceId) – consumers (X-ConsumerId) and providers
  of instance registrations are looked up here first;
* ``known``: lease TTL by (project, serviceId, instanceId) – a heartbeat for a known instance
  is answered without touching MongoDB;
* ``finds``: the serialized discovery answer (200 and 304 replies with the revision) by
  (project, env, appId, serviceName, version rule, tags, consumer) – the hot path of
  ``GET /instances`` does no query while nothing changed;
* ``recorded``: dependencies already recorded by a find with ``X-ConsumerId``.

Every process subscribes to ``openstage.evt.*.registry.>`` (core NATS) and applies each event
with :meth:`RegistryState.apply_event`; the process that made a change applies its own events
synchronously before it answers, so its next read is fresh. A find computed while an event for
its scope arrived is not cached (scope generations), so a late result never hides a change.
After a reconnect (events may have been missed) everything is dropped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

Scope = tuple[str, str, str]  # (project, environment, appId)
FindKey = tuple[str, str, str, str, str, str, str]

# A cached find is rebuilt after this long even without an event (a safety net, not the design).
FIND_MAX_AGE_SECONDS = 30.0
MAX_FIND_ENTRIES = 100_000
MAX_SERVICES = 100_000
MAX_KNOWN = 1_000_000


@dataclass(slots=True)
class FindEntry:
    scope: Scope
    rev: str | None
    ok: bytes  # the reply for a changed (or first) read
    not_modified: bytes | None  # the 304 reply
    instances: list[dict[str, Any]] | None
    error: Exception | None
    built: float


class RegistryState:
    def __init__(self) -> None:
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.known: dict[tuple[str, str, str], int] = {}
        self.finds: dict[FindKey, FindEntry] = {}
        self.scope_keys: dict[Scope, set[FindKey]] = {}
        self.scope_gen: dict[Scope, int] = {}
        self.recorded: set[tuple[str, str, str, str, str, str]] = set()

    # --- finds -------------------------------------------------------------------------------
    def generation(self, scope: Scope) -> int:
        return self.scope_gen.get(scope, 0)

    def cached_find(self, key: FindKey) -> FindEntry | None:
        entry = self.finds.get(key)
        if entry is not None and time.monotonic() - entry.built > FIND_MAX_AGE_SECONDS:
            self._drop_find(key)
            return None
        return entry

    def store_find(self, key: FindKey, entry: FindEntry, generation: int) -> None:
        """Cache a computed find unless its scope changed while it was computed."""
        if self.scope_gen.get(entry.scope, 0) != generation:
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
        self.scope_gen[scope] = self.scope_gen.get(scope, 0) + 1
        for key in self.scope_keys.pop(scope, ()):
            self.finds.pop(key, None)

    def clear_finds(self) -> None:
        for scope in list(self.scope_gen):
            self.scope_gen[scope] += 1
        self.finds.clear()
        self.scope_keys.clear()

    # --- services and instances ----------------------------------------------------------------
    def remember_service(self, project: str, service: dict[str, Any]) -> None:
        if len(self.services) >= MAX_SERVICES:
            self.services.clear()
        self.services[(project, service["serviceId"])] = service

    def remember_instance(self, project: str, service_id: str, instance_id: str, ttl: int) -> None:
        if len(self.known) >= MAX_KNOWN:
            self.known.clear()
        self.known[(project, service_id, instance_id)] = ttl

    def forget_instance(self, project: str, service_id: str, instance_id: str) -> None:
        self.known.pop((project, service_id, instance_id), None)

    def forget_service(self, project: str, service_id: str) -> None:
        self.services.pop((project, service_id), None)
        for key in [k for k in self.known if k[0] == project and k[1] == service_id]:
            del self.known[key]
        self.recorded = {r for r in self.recorded if not (r[0] == project and r[1] == service_id)}

    def clear(self) -> None:
        self.services.clear()
        self.known.clear()
        self.recorded.clear()
        self.clear_finds()

    # --- events ----------------------------------------------------------------------------------
    def apply_event(self, project: str, entity: str, verb: str, data: dict[str, Any]) -> None:
        """Bring the caches in line with one registry event (idempotent)."""
        if entity == "instance":
            svc = data.get("service") or {}
            self.invalidate_scope(project, svc.get("environment") or "", svc.get("appId") or "")
            sid, iid = data.get("serviceId") or "", data.get("instanceId") or ""
            if verb in ("deregistered", "expired"):
                self.forget_instance(project, sid, iid)
            elif verb in ("registered", "updated"):
                from services.domain.registry.model import ttl_of

                inst = data.get("instance") or {}
                try:
                    self.remember_instance(project, sid, iid, ttl_of(inst))
                except Exception:  # noqa: BLE001 - a malformed event only costs a cache miss
                    self.forget_instance(project, sid, iid)
        elif entity == "service":
            svc = data.get("service") or {}
            sid = data.get("serviceId") or svc.get("serviceId") or ""
            self.invalidate_scope(project, svc.get("environment") or "", svc.get("appId") or "")
            if verb == "deleted":
                self.forget_service(project, sid)
            else:
                self.services.pop((project, sid), None)
        elif entity == "dependency":
            cid = data.get("consumerId") or ""
            self.recorded = {r for r in self.recorded if not (r[0] == project and r[1] == cid)}


state = RegistryState()
