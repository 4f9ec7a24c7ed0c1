"""Instance leases: heartbeats in memory, flushed in batches; expiry in every process.

A heartbeat only marks its lease renewed here (:meth:`LeaseKeeper.renew`, no write); every
``FLUSH_SECONDS`` the renewed leases are written to their instances' documents (a lease is the
``ttl`` and ``deadline`` of its instance's document, services/adapters/store/registry.py) – one
``update_many`` with ``$max`` per distinct TTL, the new deadline being flush time + TTL (at most
one flush period later than the heartbeat: a lease never ends early). Then the expiry scan reads
the instances whose deadline passed more than ``EXPIRY_GRACE_SECONDS`` ago (the grace covers a
heartbeat another process holds but has not flushed yet) and, for each, deletes the instance
**conditionally** (same deadline as read) in a transaction that also writes its
``instance.expired`` event to the outbox: when several processes scan at once exactly one wins.

A flush that finds fewer leases than it updated (the instance was deregistered or expired
meanwhile) drops those from the process's cache of known instances, so the next heartbeat for
them is answered 400017 and the client registers again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.background import cancel_and_wait
from services.adapters.clock import Clock
from services.adapters.store import registry as store
from services.adapters.store.outbox import Outbox
from services.domain.registry.model import instance_event_data
from workers.registry.caches import RegistryCaches
from workers.registry.events import instance_event
from workers.registry.transactions import commit_and_apply

log = logging.getLogger("openstage.registry.leases")

FLUSH_SECONDS = 0.25
EXPIRY_GRACE_SECONDS = 0.5
EXPIRY_BATCH = 200

RenewedLease = tuple[str, str, str, int]  # (project, serviceId, instanceId, ttl)


class LeaseKeeper:
    def __init__(self, db: AsyncDatabase, clock: Clock, outbox: Outbox, caches: RegistryCaches) -> None:
        self.db = db
        self.clock = clock
        self.outbox = outbox
        self.caches = caches
        # lease _id -> the lease renewed since the last flush
        self.renewed: dict[str, RenewedLease] = {}
        self._task: asyncio.Task | None = None
        self.flushed = 0
        self.expired = 0

    def renew(self, project: str, service_id: str, instance_id: str, ttl: int) -> None:
        """A heartbeat: the lease is extended by ``ttl`` at the next flush."""
        self.renewed[store.child_key(project, service_id, instance_id)] = (project, service_id, instance_id, ttl)

    def forget(self, project: str, service_id: str, instance_id: str) -> None:
        """The instance was registered again or deregistered: its pending renewal is moot."""
        self.renewed.pop(store.child_key(project, service_id, instance_id), None)

    async def flush(self) -> None:
        if not self.renewed:
            return
        batch, self.renewed = self.renewed, {}
        now = self.clock.seconds()
        by_deadline: dict[float, list[str]] = {}
        for key, (_, _, _, ttl) in batch.items():
            by_deadline.setdefault(now + ttl, []).append(key)
        try:
            matched = await store.extend_leases(self.db, by_deadline)
        except Exception:
            # keep them for the next round (newer heartbeats win)
            for key, value in batch.items():
                self.renewed.setdefault(key, value)
            raise
        self.flushed += len(batch)
        if matched < len(batch):
            await self._forget_missing(batch)

    async def _forget_missing(self, batch: dict[str, RenewedLease]) -> None:
        present = await store.existing_leases(self.db, list(batch))
        for key, (project, sid, iid, _) in batch.items():
            if key not in present:
                self.caches.forget_instance(project, sid, iid)

    async def expire_once(self) -> int:
        leases = await store.expired_leases(self.db, self.clock.seconds() - EXPIRY_GRACE_SECONDS, EXPIRY_BATCH)
        count = 0
        for lease in leases:
            if lease["_id"] in self.renewed:  # renewed here since; the next flush extends it
                continue
            try:
                if await self._expire(lease):
                    count += 1
            except Exception as exc:  # try again next round
                log.warning("expiring %s failed: %s", lease.get("_id"), exc)
        self.expired += count
        return count

    async def _expire(self, lease: dict[str, Any]) -> bool:
        project, sid, iid = lease["project"], lease["service_id"], lease["instance_id"]

        async def write(session):
            instance = await store.take_expired_instance(self.db, lease, session)
            if instance is None:
                return False, []
            service = await store.get_service(self.db, project, sid, session=session) or {"serviceId": sid}
            return True, [instance_event(project, "expired", instance_event_data(instance, service))]

        won = await commit_and_apply(self.outbox, self.caches, project, write)
        if won:
            log.info("instance %s/%s/%s expired", project, sid, iid)
        return won

    def start(self) -> None:
        """Flush and expire every ``FLUSH_SECONDS`` until :meth:`stop`."""

        async def loop() -> None:
            while True:
                try:
                    await self.flush()
                    await self.expire_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the store is down: next round
                    log.warning("lease round failed: %s", exc)
                await asyncio.sleep(FLUSH_SECONDS)

        self._task = asyncio.create_task(loop(), name="registry-leases")

    async def stop(self) -> None:
        """Stop the loop and flush what is left (best effort)."""
        await cancel_and_wait(self._task)
        try:
            await self.flush()
        except Exception:  # shutting down: best effort
            pass
