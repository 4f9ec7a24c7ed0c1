"""Instance leases: heartbeats in memory, flushed in batches; expiry in every process.

A heartbeat only marks its lease dirty here (no write); every ``FLUSH_SECONDS`` the dirty leases
are written to ``registry_leases`` – one ``update_many`` with ``$max`` per distinct TTL, the new
deadline being flush time + TTL (at most one flush period later than the beat: a lease never
ends early). Then the expiry scan reads the leases whose deadline passed more than
``EXPIRY_GRACE_SECONDS`` ago (the grace covers a beat another process holds but has not flushed
yet) and, for each, deletes it **conditionally** (same deadline as read) in a transaction that
also deletes the instance and writes its ``instance.expired`` event to the outbox: when several
processes scan at once exactly one wins.

A flush that finds fewer leases than it updated (the instance was deregistered or expired
meanwhile) drops those from the process's known-instances cache, so the next heartbeat for
them is answered 400017 and the client registers again.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.adapters.clock import clock
from services.domain.registry.model import instance_event_data
from services.adapters.store import registry as store
from workers.registry.common import commit, instance_event
from workers.registry.state import state
from workers.runtime import ctx

log = logging.getLogger("openstage.registry.leases")

FLUSH_SECONDS = 0.25
EXPIRY_GRACE_SECONDS = 0.5
EXPIRY_BATCH = 200


class LeaseKeeper:
    def __init__(self) -> None:
        # lease _id -> (project, serviceId, instanceId, ttl)
        self.dirty: dict[str, tuple[str, str, str, int]] = {}
        self._task: asyncio.Task | None = None
        self.flushed = 0
        self.expired = 0

    def beat(self, project: str, service_id: str, instance_id: str, ttl: int) -> None:
        self.dirty[store.child_key(project, service_id, instance_id)] = (project, service_id, instance_id, ttl)

    def drop(self, project: str, service_id: str, instance_id: str) -> None:
        self.dirty.pop(store.child_key(project, service_id, instance_id), None)

    async def flush(self) -> None:
        if not self.dirty:
            return
        batch, self.dirty = self.dirty, {}
        now = clock.seconds()
        by_deadline: dict[float, list[str]] = {}
        for key, (_, _, _, ttl) in batch.items():
            by_deadline.setdefault(now + ttl, []).append(key)
        try:
            matched = await store.extend_leases(ctx.db, by_deadline)
        except Exception:
            # keep them for the next round (newer beats win)
            for key, value in batch.items():
                self.dirty.setdefault(key, value)
            raise
        self.flushed += len(batch)
        if matched < len(batch):
            await self._forget_missing(batch)

    async def _forget_missing(self, batch: dict[str, tuple[str, str, str, int]]) -> None:
        keys = list(batch)
        present: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            cursor = ctx.db[store.LEASES].find({"_id": {"$in": chunk}}, {"_id": 1})
            present.update([d["_id"] async for d in cursor])
        for key, (project, sid, iid, _) in batch.items():
            if key not in present:
                state.forget_instance(project, sid, iid)

    async def expire_once(self) -> int:
        now = clock.seconds()
        leases = await store.expired_leases(ctx.db, now - EXPIRY_GRACE_SECONDS, EXPIRY_BATCH)
        count = 0
        for lease in leases:
            if lease["_id"] in self.dirty:  # beaten here since; the next flush renews it
                continue
            try:
                if await self._expire(lease):
                    count += 1
            except Exception as exc:  # noqa: BLE001 - try again next round
                log.warning("expiring %s failed: %s", lease.get("_id"), exc)
        self.expired += count
        return count

    async def _expire(self, lease: dict[str, Any]) -> bool:
        project, sid, iid = lease["project"], lease["service_id"], lease["instance_id"]

        async def write(session):
            if not await store.take_expired_lease(ctx.db, lease, session):
                return False, []
            instance = await store.get_instance(ctx.db, project, sid, iid, session=session)
            await store.delete_instance(ctx.db, project, sid, iid, session)
            if instance is None:
                return True, []
            service = await store.get_service(ctx.db, project, sid, session=session) or {"serviceId": sid}
            return True, [instance_event(project, "expired", instance_event_data(instance, service))]

        won = await commit(project, write)
        if won:
            log.info("instance %s/%s/%s expired", project, sid, iid)
        return won

    def start(self) -> None:
        async def loop() -> None:
            while True:
                try:
                    await self.flush()
                    await self.expire_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - store down: next round
                    log.warning("lease round failed: %s", exc)
                await asyncio.sleep(FLUSH_SECONDS)

        self._task = asyncio.create_task(loop(), name="registry-leases")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - shutting down
            pass


leases = LeaseKeeper()

__all__ = ["EXPIRY_GRACE_SECONDS", "FLUSH_SECONDS", "LeaseKeeper", "leases"]
