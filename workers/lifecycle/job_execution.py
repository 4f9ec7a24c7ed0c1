"""One runner's execution of one job under its lease: the driver's tasks run one at a time, from
the first unfinished one (a task is idempotent, so one a crash interrupted is run again).

Persist-then-emit: each step (started, task running / progress / succeeded, finished) is decided
by a pure rule (services/domain/jobs/transitions.py for the job,
services/domain/lifecycle/component_instances.py for the instance); this module writes the job
(fenced by the lease), the instance (only while the job holds it) and the step's events in one
outbox transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from motor.motor_asyncio import AsyncIOMotorDatabase

from services.adapters.clock import Clock
from services.adapters.drivers import Driver, TaskFailed, tasks_for
from services.adapters.store import component_instances as store
from services.adapters.store.component_instances import StoredInstance
from services.adapters.store.outbox import Outbox
from services.contracts.events import CloudEvent
from services.contracts.jobs import ExecutionStatus, Job
from services.domain.jobs import transitions as jobs
from services.domain.jobs.transitions import JobEvent, JobStep, TaskEvent
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle.component_instances import InstanceEvent, ProgressOfJob
from workers.lifecycle.component_instance_events import cloud_events
from workers.lifecycle.deps import InstanceRemoved
from workers.lifecycle.job_leases import JobLease, LeaseLost

log = logging.getLogger("openstage.lifecycle.jobs")

E = ExecutionStatus
MAX_ATTEMPTS = 5  # claims of a job (its worker stopped that often) before it ends FAILED


class TaskReporter:
    """What a driver task reports through (``services.adapters.drivers.TaskContext``)."""

    def __init__(self, execution: JobExecution, index: int, attempt: int) -> None:
        self._execution = execution
        self.index = index
        self.attempt = attempt

    async def progress(self, message: str, available_replica: int | None = None) -> None:
        await self._execution.progress(self.index, message, available_replica)


class JobExecution:
    def __init__(
        self,
        db: AsyncIOMotorDatabase,
        outbox: Outbox,
        clock: Clock,
        driver: Driver,
        job: Job,
        lease: JobLease,
        instance_removed: InstanceRemoved | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.driver = driver
        self.job = job  # as this runner holds it (each persisted step applied)
        self.lease = lease
        # what else goes when a delete job removes the instance (a component being deleted)
        self.instance_removed = instance_removed

    # --- persisting the steps ---------------------------------------------------------------------
    async def _persist(self, step: JobStep) -> None:
        async def write(session):
            await self.lease.update(step.update, session)
            events: list[InstanceEvent | JobEvent | TaskEvent] = [*step.events]
            if step.instance is not None:
                events += await self._report_to_instance(step.instance, session)
            return None, cloud_events(events)

        await self.outbox.transaction(write)
        self.job = step.job

    async def _held(self, session) -> StoredInstance | None:
        """The job's instance, if this job still holds it."""
        stored = await store.by_id(self.db, self.job.instance_id, session=session)
        return stored if stored is not None and stored.active_job_id == self.job.id else None

    async def _report_to_instance(self, progress: ProgressOfJob, session) -> list[InstanceEvent]:
        held = await self._held(session)
        if held is None:
            return []
        changed, event = rules.with_progress(held.instance, progress)
        await store.save(self.db, changed, self.job.id, self.job.id, session)
        return [event]

    async def progress(self, index: int, message: str, available: int | None) -> None:
        await self._persist(jobs.task_progress(self.job, index, message, available, self.clock.millis()))

    async def finish(self, status: ExecutionStatus, failed_index: int | None = None, message: str | None = None) -> None:
        """End the job (SUCCEEDED, FAILED or CANCELLED), close its tasks, and leave the instance
        where the operation leaves it: released, or handed to the forced delete waiting for it."""
        now = self.clock.millis()

        async def write(session):
            current = await store.job(self.db, self.job.id, session=session)
            # a forced delete may have asked for the instance since this runner read the job
            job = self.job if current is None else self.job.model_copy(update={"handoff_to": current.handoff_to})
            step = jobs.finished(job, status, now, failed_index, message)
            await self.lease.update(step.update, session)
            left, consequences = await self._leave_instance(job, status, now, session)
            events: Sequence[InstanceEvent | JobEvent | TaskEvent] = [*step.events, *left]
            return step.job, [*cloud_events(events), *consequences]

        self.job = await self.outbox.transaction(write)

    async def _leave_instance(self, job: Job, status: ExecutionStatus, now: int, session) -> tuple[list[InstanceEvent], list[CloudEvent]]:
        """Where the job leaves its instance (its events), and the events of what removing the
        instance brought about in the same transaction (the end of a forced component delete)."""
        held = await self._held(session)
        if held is None:
            return [], []
        after = rules.after_job(held.instance, job.id, job.operation, status, job.target, job.available, job.handoff_to, now)
        consequences: list[CloudEvent] = []
        if after.removed:
            await store.remove(self.db, after.instance.id, job.id, session)
            if self.instance_removed is not None:
                consequences = await self.instance_removed(after.instance, session)
        else:
            if after.snapshot is not None:
                await store.add_snapshot(self.db, after.snapshot, session)
            await store.save(self.db, after.instance, job.id, after.held_by, session)
        return after.events, consequences

    async def _cancel_requested(self) -> bool:
        current = await store.job(self.db, self.job.id)
        return current is not None and current.cancel_requested

    # --- running ----------------------------------------------------------------------------------
    async def run(self, held: StoredInstance | None) -> None:
        """Run the claimed job from its first unfinished task (``held``: its instance, read before the claim)."""
        claimed = self.job
        if held is None or held.active_job_id != claimed.id:
            await self.finish(E.FAILED, message="the instance no longer exists or is held by another job")
            return
        attempts = claimed.attempts
        if attempts > MAX_ATTEMPTS:
            await self.finish(
                E.FAILED,
                failed_index=jobs.current_task(claimed),
                message=f"the job was interrupted {attempts - 1} times (its worker stopped); giving up",
            )
            return
        rebase_on = None
        if claimed.waits_for and claimed.status == E.SUBMITTED:
            # queued behind a cancelled job: act on the instance as that job left it
            rebase_on = held.instance
            self.job = self.job.model_copy(
                update={"before": rebase_on, "target": rebase_on, "available": rebase_on.status_detail.available_replica}
            )
        job = self.job
        tasks = tasks_for(self.driver, job.operation, job.before, job.target, job.replica)
        if [t.key for t in tasks] != [p.key for p in job.plan]:
            await self.finish(
                E.FAILED, failed_index=jobs.current_task(job), message="the deployment driver's plan changed since the job was submitted"
            )
            return
        if job.cancel_requested:
            await self.finish(E.CANCELLED, message=jobs.CANCELLED_NOTE)
            return
        if job.status == E.SUBMITTED:
            await self._persist(jobs.started(job, self.clock.millis(), rebase_on))
        start = job.next_task
        for index in range(start, len(tasks)):
            task = tasks[index]
            resumed = attempts > 1 and index == start and claimed.task(index).status == E.RUNNING
            note = f"resumed after the job's worker stopped (attempt {attempts})" if resumed else "started"
            if await self._cancel_requested():
                await self.finish(E.CANCELLED, message=jobs.CANCELLED_NOTE)
                return
            await self._persist(jobs.task_started(self.job, index, note, self.clock.millis()))
            try:
                result = await task.run(TaskReporter(self, index, attempts if index == start else 1))
            except TaskFailed as exc:
                if exc.available_replica is not None:
                    self.job = self.job.model_copy(update={"available": exc.available_replica})
                await self.finish(E.FAILED, failed_index=index, message=exc.message)
                return
            except (LeaseLost, asyncio.CancelledError):
                raise
            except Exception as exc:
                log.exception("job %s: driver task %s raised", job.id, task.key)
                await self.finish(E.FAILED, failed_index=index, message=f"{task.name} failed: internal driver error ({type(exc).__name__})")
                return
            await self._persist(jobs.task_succeeded(self.job, index, result.message, result.available_replica, self.clock.millis()))
        await self.finish(E.SUCCEEDED)
