"""A runner's lease on a job: taken by ``claim`` (when free or expired), kept fresh by
``keep_alive`` while the job runs (with the work item it came from), given back by ``release``
when the runner stops. Every write of a job is fenced by the lease token (``store.update_job``
matches ``runner``), so a runner that lost its lease cannot overwrite the one that took over."""

from __future__ import annotations

import asyncio
import logging
import uuid

from nats.aio.msg import Msg
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.clock import Clock
from services.adapters.store import component_instances as store
from services.adapters.store.outbox import Outbox
from services.contracts.jobs import Job, JobUpdate

log = logging.getLogger("openstage.lifecycle.jobs")


class LeaseLost(Exception):
    """Another runner took the job over: stop without touching it."""


class JobLease:
    """One runner's lease on one job (a fresh token per claim)."""

    def __init__(self, db: AsyncDatabase, outbox: Outbox, clock: Clock, job_id: str, lease_ms: int) -> None:
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.job_id = job_id
        self.lease_ms = lease_ms
        self.token = uuid.uuid4().hex

    async def claim(self) -> Job | None:
        """Take the lease (counts an attempt); None when another runner holds it or the job ended."""

        async def write(session):
            return await store.claim_job(self.db, self.job_id, self.token, self.clock.millis(), self.lease_ms, session), []

        return await self.outbox.transaction(write)

    async def claim_at_once(self) -> Job | None:
        """``claim`` of a free lease of a job queued behind no other (most jobs: nothing to check
        first), in one atomic write outside a transaction (it writes nothing else and emits
        nothing); None otherwise (held, expired, queued or ended: ``claim`` after the checks)."""
        return await store.claim_job(self.db, self.job_id, self.token, self.clock.millis(), self.lease_ms, unqueued_only=True)

    async def update(self, update: JobUpdate, session) -> None:
        """Write ``update`` to the job in ``session`` if this lease still holds it, else LeaseLost."""
        if not await store.update_job(self.db, self.job_id, self.token, update, session):
            raise LeaseLost(self.job_id)

    async def update_unless_asked(self, update: JobUpdate, asked: store.Asked, session) -> bool:
        """Write ``update`` if this lease still holds the job and nobody asked it anything since
        ``asked`` (True); False when the job must be read again (LeaseLost can only be told then)."""
        return await store.update_job(self.db, self.job_id, self.token, update, session, asked)

    async def keep_alive(self, msg: Msg | None) -> None:
        """Until cancelled: every third of the lease, tell JetStream the work item is in progress
        (its ack wait is the lease) and push the lease's end further."""
        interval = max(0.2, self.lease_ms / 3000)
        while True:
            await asyncio.sleep(interval)
            try:
                if msg is not None:
                    await msg.in_progress()

                async def renew(session):
                    lease = JobUpdate(lease_until=self.clock.millis() + self.lease_ms)
                    return await store.update_job(self.db, self.job_id, self.token, lease, session), []

                await self.outbox.transaction(renew)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("job %s: heartbeat failed: %s", self.job_id, exc)

    async def release(self) -> None:
        """Give the lease back (graceful shutdown) so another runner resumes the job at once."""

        async def write(session):
            await store.update_job(self.db, self.job_id, self.token, JobUpdate(runner=None, lease_until=0), session)
            return None, []

        await self.outbox.transaction(write)
