"""The job runner of the lifecycle worker: runs instance jobs from the durable JetStream work queue
OPENSTAGE_JOBS_WORK (subject ``openstage.work.<project>.lifecycle.job``, durable pull consumer
``lifecycle-job-runner``), up to ``OPENSTAGE_JOB_CONCURRENCY`` at a time.

It only orchestrates: take a work item, claim the job's lease (job_leases.py), run its tasks
through the deployment driver, persisting and publishing each step (job_execution.py; the steps
themselves are pure rules in services/domain), then ack or nak the work item.

Crash safety. A job's state lives in ``instance_jobs`` (``services.contracts.jobs.Job``: plan,
next task, event counter, lease). The runner holds the work item un-acked while it runs and keeps
it alive (``in_progress``) and its lease fresh every third of ``OPENSTAGE_JOB_LEASE_SECONDS``. If
the process dies, JetStream redelivers the item after that ack wait to whichever lifecycle worker
pulls next (another one, or this one restarted); it claims the job once the lease has expired and
resumes at the first unfinished task (which is re-run: driver tasks are idempotent). After
MAX_ATTEMPTS claims the job ends FAILED with a message instead of being tried forever. Every write
of a runner is fenced by its lease token, so a runner that lost its lease (paused too long) cannot
overwrite the one that took over: there is never more than one driver acting on an instance."""

from __future__ import annotations

import asyncio
import logging
from enum import Enum

import orjson
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.background import cancel_and_wait
from services.adapters.clock import Clock
from services.adapters.drivers import Driver
from services.adapters.store import component_instances as store
from services.adapters.store.outbox import Outbox
from services.contracts import subjects
from services.contracts.jobs import is_terminal
from services.contracts.subjects import LIFECYCLE
from workers.lifecycle.deps import InstanceRemoved
from workers.lifecycle.job_execution import JobExecution
from workers.lifecycle.job_leases import JobLease, LeaseLost

log = logging.getLogger("openstage.lifecycle.jobs")

CONSUMER = "lifecycle-job-runner"


class RunOutcome(Enum):
    """What became of a work item: ``run`` says whether to ack it or to try it again later."""

    DONE = "done"  # the job finished, or there was nothing to do: ack
    WAIT = "wait"  # queued behind the job holding the instance (a forced delete): try again soon
    BUSY = "busy"  # another runner holds the job's lease: try again after half a lease


class JobRunner:
    def __init__(
        self,
        db: AsyncDatabase,
        js: JetStreamContext,
        outbox: Outbox,
        clock: Clock,
        driver: Driver,
        lease_seconds: float,
        concurrency: int,
        instance_removed: InstanceRemoved | None = None,
    ) -> None:
        self.db = db
        # in the last transaction of a delete job that removed its instance (app.compose wires
        # the end of a forced component delete here)
        self.instance_removed = instance_removed
        self.js = js
        self.outbox = outbox
        self.clock = clock
        self.driver = driver
        self.lease_seconds = lease_seconds
        self.lease_ms = int(lease_seconds * 1000)
        self.concurrency = concurrency
        self._loop_task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        work = f"{subjects.WORK_PREFIX}.*.{LIFECYCLE}.job"
        config = ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.lease_seconds,
            max_deliver=-1,
            max_ack_pending=10_000,
            filter_subject=work,
        )
        self._sub = await self.js.pull_subscribe(work, durable=CONSUMER, stream=subjects.JOBS_WORK_STREAM, config=config)
        self._loop_task = asyncio.create_task(self._loop(), name="job-runner")

    async def stop(self) -> None:
        await cancel_and_wait(self._loop_task, *list(self._running))

    async def _loop(self) -> None:
        assert self._sub is not None
        slots = asyncio.Semaphore(self.concurrency)
        while True:
            await slots.acquire()
            try:
                msgs = await self._sub.fetch(1, timeout=1.0)
            except (TimeoutError, NatsTimeout):
                slots.release()
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # bus reconnecting
                slots.release()
                log.warning("job queue fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if not msgs:
                slots.release()
                continue
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg))
                self._running.add(task)

                def done(t: asyncio.Task, _slots: asyncio.Semaphore = slots) -> None:
                    self._running.discard(t)
                    _slots.release()

                task.add_done_callback(done)

    async def _handle(self, msg: Msg) -> None:
        try:
            data = orjson.loads(msg.data)["data"]
            job_id = data["job_id"]
            instance_id = data.get("instance_id")  # (a hint: the job's own instance_id decides)
        except Exception:
            log.warning("dropping malformed job work item")
            await msg.term()
            return
        try:
            outcome = await self.run(job_id, msg, instance_id if isinstance(instance_id, str) else None)
        except asyncio.CancelledError:
            await self._safe(msg.nak())
            raise
        except LeaseLost:
            log.warning("job %s: lease lost to another runner; leaving it", job_id)
            return
        except Exception:
            log.exception("job %s: runner step failed; it will be retried", job_id)
            await self._safe(msg.nak(delay=1.0))
            return
        if outcome is RunOutcome.WAIT:
            await self._safe(msg.nak(delay=0.3))
        elif outcome is RunOutcome.BUSY:
            await self._safe(msg.nak(delay=max(0.5, self.lease_seconds / 2)))
        else:
            await self._safe(msg.ack())

    @staticmethod
    async def _safe(coro) -> None:
        try:
            await coro
        except Exception as exc:
            log.debug("ack/nak failed: %s", exc)

    async def run(self, job_id: str, msg: Msg | None = None, instance_id: str | None = None) -> RunOutcome:
        """Run (or resume) a job to its end, under a lease taken for this run. ``instance_id``
        (when the work item names it): the job's instance is read while the lease is claimed."""
        lease = JobLease(self.db, self.outbox, self.clock, job_id, self.lease_ms)
        if instance_id is not None:
            claimed, held = await asyncio.gather(lease.claim_at_once(), store.by_id(self.db, instance_id))
        else:
            claimed, held = await lease.claim_at_once(), None
        if claimed is not None:
            # The instance read next to the claim is used only for the job's first claim: no runner
            # ever held it, so nothing but its submission (committed before the work item went out)
            # wrote the instance it locks. A resumed job's instance is read after the claim, so a
            # step the previous runner committed in between is never missed.
            if held is None or held.instance.id != claimed.instance_id or claimed.attempts != 1:
                held = await store.by_id(self.db, claimed.instance_id)
        else:  # ended, held by another runner, or queued behind another job: look first
            job = await store.job(self.db, job_id)
            if job is None or is_terminal(job.status):
                return RunOutcome.DONE
            held = await store.by_id(self.db, job.instance_id)
            if held is not None and held.active_job_id != job_id:
                holder = await store.job(self.db, held.active_job_id) if held.active_job_id else None
                if holder is not None and holder.handoff_to == job_id:
                    return RunOutcome.WAIT
            claimed = await lease.claim()
            if claimed is None:
                return RunOutcome.BUSY
        keep_alive = asyncio.create_task(lease.keep_alive(msg))
        try:
            execution = JobExecution(self.db, self.outbox, self.clock, self.driver, claimed, lease, self.instance_removed)
            await execution.run(held)
        except asyncio.CancelledError:
            # graceful shutdown: give the lease back so another runner resumes at once
            try:
                await asyncio.shield(lease.release())
            except Exception:
                pass
            raise
        finally:
            keep_alive.cancel()
        return RunOutcome.DONE
