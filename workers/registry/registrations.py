"""Registrations written in batches: the registrations one registry process receives while a batch
is being written are queued and written together, in one outbox transaction with a constant
number of store round trips whatever the batch's size: one read of the instances named by id,
one per service of the instances looked up by endpoints, one bulk write of the instances (each
carries its lease), the outbox insert and the commit. The usual batch – new instances, no ids,
distinct endpoints, even a single one – skips the reads: its upserts insert each instance unless
its endpoints already have one, and leave with the outbox's insert of their events in one write
(services/adapters/store/final_writes.py), so it is two round trips, that write and the commit
(``_write_new_endpoints``).

The result is the one of running them one at a time in arrival order
(workers/registry/microservice_instances.py ``register_instance``): a later registration of the
batch sees what an earlier one wrote (same id, or same service and endpoints). If the batch's
transaction fails, each registration is run again on its own (``alone``), so one failure never
answers for another."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.adapters.store import final_writes
from services.adapters.store import registry as store
from services.contracts.events import CloudEvent
from services.contracts.registry import MicroServiceInstance
from services.domain.registry.identity import new_instance_id, unix_timestamp
from services.domain.registry.model import instance_event_data, new_instance_json, ttl_of
from workers.registry.caches import RegistryCaches
from workers.registry.events import instance_event
from workers.registry.transactions import apply_events

log = logging.getLogger("openstage.registry.registrations")

MAX_BATCH = 256


@dataclass(eq=False)
class Registration:
    project: str
    inst: MicroServiceInstance
    service: dict[str, Any]
    ep_key: str
    done: asyncio.Future = field(repr=False)
    doc: dict[str, Any] | None = None  # as written by the last attempt


def new_endpoints_only(batch: Sequence[Registration]) -> bool:
    """Whether no registration of the batch names its instance id and each names endpoints no
    other one of the batch names in the same service: their order then does not matter."""
    keys = {(r.project, r.service["serviceId"], r.ep_key) for r in batch if r.ep_key and not r.inst.instance_id}
    return len(keys) == len(batch)


# one registration on its own: (project, instance, service, endpoints key) -> instance id
Alone = Callable[[str, MicroServiceInstance, dict[str, Any], str], Awaitable[str]]


class RegistrationBatcher:
    def __init__(self, db: Any, outbox: Any, caches: RegistryCaches, clock: Any, alone: Alone, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.outbox = outbox
        self.caches = caches
        self.clock = clock
        self.alone = alone
        self.max_batch = max_batch
        self._queue: list[Registration] = []
        self._runner: asyncio.Task | None = None
        self._finishing: set[asyncio.Task] = set()  # batches committed or failing, not answered yet

    async def register(self, project: str, inst: MicroServiceInstance, service: dict[str, Any], ep_key: str) -> str:
        item = Registration(project, inst, service, ep_key, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="registry-registrations")
        return await item.done

    async def _run(self) -> None:
        while self._queue:
            batch = [r for r in self._queue[: self.max_batch] if not r.done.done()]
            del self._queue[: self.max_batch]
            if not batch:
                continue
            try:
                # a new instance alone is written as a batch too: its upsert leaves with the outbox insert
                await self._write(batch) if len(batch) > 1 or new_endpoints_only(batch) else await self._alone(batch[0])
            except BaseException as exc:  # never leave a caller waiting
                for r in batch:
                    if not r.done.done():
                        r.done.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
                if not isinstance(exc, Exception):
                    raise

    async def _alone(self, r: Registration) -> None:
        try:
            iid = await self.alone(r.project, r.inst, r.service, r.ep_key)
        except Exception as exc:
            if not r.done.done():
                r.done.set_exception(exc)
            return
        if not r.done.done():
            r.done.set_result(iid)

    async def _write_new_endpoints(self, batch: list[Registration], now: float, ts: str, session: Any) -> list[CloudEvent]:
        """A batch of registrations without instance ids and with distinct endpoints (the usual
        one: new instances): each is inserted under a new id unless its endpoints already have an
        instance, in one write and no read, sent with the outbox's insert of their "registered"
        events (services/adapters/store/final_writes.py); those whose endpoints had one are then
        overwritten under their instance's id (a read of them, a write) and their events become
        "updated", as one at a time would have. The events."""
        items = []
        for r in batch:
            doc = new_instance_json(r.inst, r.service, new_instance_id(), ts)
            ttl = ttl_of(doc)
            items.append((r.project, doc, r.ep_key, ttl, now + ttl))
            r.doc = doc
        registered = [instance_event(r.project, "registered", instance_event_data(r.doc, r.service)) for r in batch]

        async def settle(inserted: list[bool]) -> dict[str, CloudEvent]:
            known = [i for i, new in enumerate(inserted) if not new]
            await self._overwrite_known([batch[i] for i in known], now, ts, session)
            return {
                registered[i].id: instance_event(batch[i].project, "updated", instance_event_data(batch[i].doc, batch[i].service))
                for i in known
            }

        if final_writes.defer(store.INSTANCES, store.new_instance_upserts(items), settle):
            return registered
        inserted = await store.insert_new_instances(self.db, items, session)
        replaced = await settle([i in inserted for i in range(len(batch))])
        return [replaced.get(e.id, e) for e in registered]

    async def _overwrite_known(self, known: list[Registration], now: float, ts: str, session: Any) -> None:
        """Registrations whose endpoints already have an instance: each overwrites that instance,
        under its id (``r.doc`` becomes what is written)."""
        if not known:
            return
        scopes: dict[tuple[str, str], list[str]] = {}
        for r in known:
            scopes.setdefault((r.project, r.service["serviceId"]), []).append(r.ep_key)
        found = {scope: await store.instances_by_endpoints(self.db, scope[0], scope[1], keys, session) for scope, keys in scopes.items()}
        rewrites = []
        for r in known:
            existing = found[(r.project, r.service["serviceId"])].get(r.ep_key)
            if existing is None:  # cannot happen in one transaction; the batch is then run one at a time
                raise RuntimeError(f"an instance with endpoints {r.ep_key!r} was found and then not")
            doc = new_instance_json(r.inst, r.service, existing["instanceId"], ts, registered_at=existing.get("timestamp"))
            ttl = ttl_of(doc)
            rewrites.append((r.project, doc, r.ep_key, ttl, now + ttl))
            r.doc = doc
        await store.put_instances(self.db, rewrites, session)

    async def _write(self, batch: list[Registration]) -> None:
        now = self.clock.seconds()
        ts = unix_timestamp(now)
        generation = self.caches.instance_generation

        # each registration's instance id is its ``r.doc``'s once committed (a new endpoints'
        # batch settles it after its write: final_writes.py)
        async def write(session: Any) -> tuple[None, list[CloudEvent]]:
            if new_endpoints_only(batch):
                return None, await self._write_new_endpoints(batch, now, ts, session)
            by_id = await store.instances_by_keys(
                self.db,
                [store.child_key(r.project, r.service["serviceId"], r.inst.instance_id) for r in batch if r.inst.instance_id],
                session,
            )
            wanted: dict[tuple[str, str], list[str]] = {}
            for r in batch:
                if not r.inst.instance_id and r.ep_key:
                    wanted.setdefault((r.project, r.service["serviceId"]), []).append(r.ep_key)
            by_endpoints = {
                scope: await store.instances_by_endpoints(self.db, scope[0], scope[1], keys, session) for scope, keys in wanted.items()
            }
            written: dict[str, dict[str, Any]] = {}  # this batch's writes by instance key
            written_ep: dict[tuple[str, str, str], dict[str, Any]] = {}
            items, events = [], []
            for r in batch:
                sid = r.service["serviceId"]
                if r.inst.instance_id:
                    iid = r.inst.instance_id
                    key = store.child_key(r.project, sid, iid)
                    existing = written.get(key) or by_id.get(key)
                else:
                    existing = written_ep.get((r.project, sid, r.ep_key)) if r.ep_key else None
                    if existing is None and r.ep_key:
                        found = by_endpoints.get((r.project, sid), {}).get(r.ep_key)
                        # an instance this batch already rewrote with other endpoints no longer has these
                        if found is not None and store.child_key(r.project, sid, found["instanceId"]) not in written:
                            existing = found
                    iid = existing["instanceId"] if existing else new_instance_id()
                    key = store.child_key(r.project, sid, iid)
                doc = new_instance_json(r.inst, r.service, iid, ts, registered_at=existing.get("timestamp") if existing else None)
                ttl = ttl_of(doc)
                items.append((r.project, doc, r.ep_key, ttl, now + ttl))
                verb = "updated" if existing else "registered"
                events.append(instance_event(r.project, verb, instance_event_data(doc, r.service)))
                written[key] = doc
                if r.ep_key:
                    written_ep[(r.project, sid, r.ep_key)] = doc
                r.doc = doc
            await store.put_instances(self.db, items, session)
            return None, events

        written = asyncio.get_running_loop().create_future()

        def committed(events: Sequence[CloudEvent]) -> None:
            for r, event in zip(batch, events, strict=True):
                assert r.doc is not None
                self.caches.remember_registration(r.project, r.doc, r.ep_key, generation)
                apply_events(self.caches, r.project, [event])
            written.set_result(None)

        async def finish() -> None:
            try:
                await self.outbox.transaction(write, on_commit=committed)
            except Exception as exc:  # each runs again on its own, so one failure answers only for itself
                log.info("a batch of %d registrations failed (%s): each is run again alone", len(batch), exc)
                for r in batch:
                    await self._alone(r)
                return
            for r in batch:
                if not r.done.done():
                    assert r.doc is not None
                    r.done.set_result(r.doc["instanceId"])

        # the next batch starts once this one is committed (it reads what this one wrote); the
        # events are published and the callers answered meanwhile
        task = asyncio.create_task(finish(), name="registry-registrations-batch")
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        await asyncio.wait([task, written], return_when=asyncio.FIRST_COMPLETED)
