"""What the edge remembers of the registry's answers, so the hottest registry requests need no bus
round trip while nothing changed (Service-Center answers them from its own caches too):

* **finds** (``GET /v4/{project}/registry/instances``): a worker's successful answer (200 with the
  body and the revision header, or 304), by (query string, ``X-ConsumerId``). The worker has
  recorded the consumer's dependency before it answered, so the same find again changes nothing.
* **live instances**: (serviceId, instanceId) whose heartbeat a worker answered 200. Their next
  heartbeats are answered here and forwarded in batches (api_edge/heartbeat_batches.py); the
  worker renews leases in memory anyway and flushes them in batches (workers/registry/leases.py).
* **registrations** (``POST /v4/{project}/registry/microservices/{id}/instances``): a worker's
  200 by (path, body). The same registration again, with nothing changed since, is a lease
  renewal (what the worker and Service-Center make of it): answered here, its instance's
  heartbeat passed on with the next batch.

Everything kept is of one project, and anything that may change a project's answers drops all of
that project's: every registry event of the project (services/adapters/registry_events.py, core
NATS; all of it is dropped when that connection drops or comes back), and every registry write
this edge passes on, before it is forwarded and again once it is answered (:meth:`changed`), so a
client reads its own writes through the same edge. An answer is kept only if its project did not
change while it was computed (generations), and for at most ``MAX_AGE_SECONDS`` (a safety net, as
the worker's own find cache). Another edge process or a direct bus command is seen when its event
arrives: milliseconds, as between Service-Center instances.

Pure and synchronous (no I/O): unit-tested in tests/unit/test_edge_registry_memory.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

MAX_AGE_SECONDS = 30.0
MAX_ENTRIES = 100_000  # finds and live instances together, over every project; emptied when full
MAX_KEPT_BODY = 4_194_304  # a find answer larger than this (over ~10,000 instances) is not kept

FindKey = tuple[bytes, str | None]  # (the query string, X-ConsumerId)
InstanceKey = tuple[str, str]  # (serviceId, instanceId)
RegistrationKey = tuple[str, bytes]  # (the path, the body)
V = TypeVar("V")


@dataclass(slots=True)
class KeptAnswer:
    """A worker's successful reply, as ``BusClient.forward`` sends it."""

    status: int
    headers: dict[str, str] | None
    result: bytes  # the result's JSON as the worker wrote it
    kept_at: float
    prepared: Any = None  # the HTTP response made of it, built once by its first user


@dataclass(frozen=True, slots=True)
class KeptRegistration:
    answer: KeptAnswer
    instance: InstanceKey  # the instance it registered (its renewal is a heartbeat)


class _Project:
    __slots__ = ("finds", "live", "registrations")

    def __init__(self) -> None:
        self.finds: dict[FindKey, KeptAnswer] = {}
        self.live: dict[InstanceKey, float] = {}  # -> when a worker last confirmed it
        self.registrations: dict[RegistrationKey, KeptRegistration] = {}


class EdgeRegistryMemory:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_age: float = MAX_AGE_SECONDS) -> None:
        self.clock = clock
        self.max_age = max_age
        self._projects: dict[str, _Project] = {}
        self._generations: dict[str, int] = {}
        # the project's latest run of changes with one cause: (the generation before its first, the
        # registration passed on, or None for any other change)
        self._runs: dict[str, tuple[int, RegistrationKey | None]] = {}
        self._entries = 0

    # --- what changes drop ----------------------------------------------------------------------
    def generation(self, project: str) -> int:
        """Take before asking a worker; hand back to ``keep_*`` with its answer."""
        return self._generations.get(project, 0)

    def changed(self, project: str, registration: RegistrationKey | None = None) -> None:
        """Something of ``project`` changed or may have: forget all of it. ``registration``: the
        change is that registration being passed on; its own kept answer stays (the same command
        has the same answer), and :meth:`changed_only_by` tells a registration answered meanwhile
        that nothing else came between."""
        generation = self._generations.get(project, 0)
        run = self._runs.get(project)
        if registration is None or run is None or run[1] != registration:
            self._runs[project] = (generation, registration)
        self._generations[project] = generation + 1
        kept = self._projects.pop(project, None)
        if kept is None:
            return
        self._entries -= len(kept.finds) + len(kept.live) + len(kept.registrations)
        if registration is not None and registration in kept.registrations:
            still = self._projects[project] = _Project()
            still.registrations[registration] = kept.registrations[registration]
            self._entries += 1

    def changed_only_by(self, project: str, since: int, registration: RegistrationKey | None) -> bool:
        """Whether nothing but passing on ``registration`` changed ``project`` since generation ``since``."""
        if self._generations.get(project, 0) == since:
            return True
        run = self._runs.get(project)
        return registration is not None and run is not None and run[1] == registration and run[0] <= since

    def apply_event(self, project: str, entity: str, verb: str, data: dict[str, Any]) -> None:
        """A registry event (any entity, any verb) of ``project``."""
        self.changed(project)

    def clear(self) -> None:
        """Events may have been missed: forget everything."""
        for project in list(self._projects):
            self.changed(project)

    def _kept(self, project: str, generation: int) -> _Project | None:
        """The project's memory to add to, or None when the answer is stale (the project changed
        since ``generation`` was taken)."""
        if self._generations.get(project, 0) != generation:
            return None
        if self._entries >= MAX_ENTRIES:
            self.clear()
            return None
        kept = self._projects.get(project)
        if kept is None:
            kept = self._projects[project] = _Project()
        return kept

    def _put(self, entries: dict[Any, Any], key: Any, value: Any) -> None:
        if key not in entries:
            self._entries += 1
        entries[key] = value

    def _young(self, entries: dict[Any, Any], key: Any, value: V, kept_at: float) -> V | None:
        """``value`` (``entries[key]``) unless it is older than ``max_age`` (then it is dropped)."""
        if self.clock() - kept_at <= self.max_age:
            return value
        del entries[key]
        self._entries -= 1
        return None

    # --- finds --------------------------------------------------------------------------------
    def find(self, project: str, key: FindKey) -> KeptAnswer | None:
        kept = self._projects.get(project)
        if kept is None:
            return None
        answer = kept.finds.get(key)
        return None if answer is None else self._young(kept.finds, key, answer, answer.kept_at)

    def keep_find(self, project: str, key: FindKey, generation: int, status: int, headers: dict[str, str] | None, result: bytes) -> None:
        if len(result) > MAX_KEPT_BODY:
            return
        kept = self._kept(project, generation)
        if kept is not None:
            self._put(kept.finds, key, KeptAnswer(status, headers, result, self.clock()))

    # --- live instances -------------------------------------------------------------------------
    def is_live(self, project: str, service_id: str, instance_id: str) -> bool:
        kept = self._projects.get(project)
        if kept is None:
            return False
        confirmed = kept.live.get((service_id, instance_id))
        return confirmed is not None and self.clock() - confirmed <= self.max_age

    def keep_live(self, project: str, service_id: str, instance_id: str, generation: int) -> None:
        kept = self._kept(project, generation)
        if kept is not None:
            self._put(kept.live, (service_id, instance_id), self.clock())

    # --- registrations ------------------------------------------------------------------------
    def registration(self, project: str, key: RegistrationKey) -> KeptRegistration | None:
        kept = self._projects.get(project)
        if kept is None:
            return None
        registration = kept.registrations.get(key)
        return None if registration is None else self._young(kept.registrations, key, registration, registration.answer.kept_at)

    def keep_registration(
        self,
        project: str,
        key: RegistrationKey,
        generation: int,
        service_id: str,
        status: int,
        headers: dict[str, str] | None,
        result: bytes,
    ) -> None:
        """A worker's successful answer to the registration ``key`` (``{"instanceId": ...}``)."""
        try:
            instance_id = orjson.loads(result).get("instanceId")
        except (orjson.JSONDecodeError, AttributeError):
            return
        if status != 200 or not isinstance(instance_id, str) or not instance_id:
            return
        kept = self._kept(project, generation)
        if kept is not None:
            answer = KeptAnswer(status, headers, result, self.clock())
            self._put(kept.registrations, key, KeptRegistration(answer, (service_id, instance_id)))
