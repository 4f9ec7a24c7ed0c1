"""One runner's execution of one job under its lease: the driver's tasks run one at a time, from
the first unfinished one (a task is idempotent, so one a crash interrupted is run again).

Persist-then-emit: each step (started, task running / progress / succeeded, finished) is decided
by a pure rule (services/domain/jobs/transitions.py for the job,
services/domain/lifecycle/component_instances.py for the instance); this module writes the job
(fenced by the lease), the instance (only while the job holds it) and the steps' events in one
outbox transaction.

Fewer transactions, same guarantees. A step is decided at once but written with the next
transaction, which comes before anything that acts outside the job:
- before a task with side effects runs (``Task.side_effects``: the process driver's), everything
  decided so far (the previous task's SUCCEEDED, the job's start) is committed with the task's
  start; so a task's success is committed before the next task acts, and a crash leaves the same
  states to resume from as before;
- a task without side effects (the simulated driver's) and a running task's progress need nothing
  committed first: their steps are written with the next transaction, or ``LINGER`` seconds later
  if none comes first (so a long task shows as running). A crash before that loses only steps
  whose events were never emitted (persist, then emit); the resumed job runs those tasks again;
- the job's end is written with whatever was decided before it.
Whether a forced delete asked the job to stop (``cancel_requested``, ``handoff_to``) is checked by
each write itself (it matches what the runner last knew) and only read when it changed; a job
stops at the first task with side effects after the request, or at a task boundary after a write
that saw it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.clock import Clock
from services.adapters.drivers import Driver, TaskFailed, tasks_for
from services.adapters.store import component_instances as store
from services.adapters.store.component_instances import Asked, StoredInstance
from services.adapters.store.outbox import Outbox
from services.contracts.component_instances import Instance
from services.contracts.events import CloudEvent
from services.contracts.jobs import ExecutionStatus, Job, JobUpdate
from services.domain.jobs import transitions as jobs
from services.domain.jobs.transitions import JobEvent, JobStep, TaskEvent
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle.component_instances import InstanceEvent
from workers.lifecycle.component_instance_events import cloud_events
from workers.lifecycle.deps import InstanceRemoved
from workers.lifecycle.job_leases import JobLease, LeaseLost

log = logging.getLogger("openstage.lifecycle.jobs")

E = ExecutionStatus
MAX_ATTEMPTS = 5  # claims of a job (its worker stopped that often) before it ends FAILED
LINGER = 0.05  # seconds a step may wait to be written with the one that follows (see the module docstring)


@dataclass(frozen=True)
class Ending:
    """How a transaction ends the job (after its steps)."""

    status: ExecutionStatus
    failed_index: int | None = None
    message: str | None = None


# What a transaction writes after the steps already decided, given the job as the runner holds it
# (with what a forced delete asked of it): more steps, maybe the job's end, and a value to return.
Plan = Callable[[Job], tuple[list[JobStep], Ending | None, object]]


def nothing_more(job: Job) -> tuple[list[JobStep], Ending | None, object]:
    return [], None, None


class _NotHeld(Exception):
    """The instance is no longer held by the job as the runner remembered it: read it again."""


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
        db: AsyncDatabase,
        outbox: Outbox,
        clock: Clock,
        driver: Driver,
        job: Job,
        lease: JobLease,
        instance_removed: InstanceRemoved | None = None,
        linger: float = LINGER,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.driver = driver
        self.job = job  # as this runner holds it (each decided step applied, written or not yet)
        self.lease = lease
        # what else goes when a delete job removes the instance (a component being deleted)
        self.instance_removed = instance_removed
        self.linger = linger
        self._unsaved: list[JobStep] = []  # decided, not written yet (in order)
        self._writing = asyncio.Lock()
        self._flusher: asyncio.Task | None = None
        self._lost: LeaseLost | None = None  # found by a background write (the lease was taken over)
        # the instance as this job last read or wrote it while holding it (None: read it). Only the
        # job holding an instance writes it (store.save, conditional on the lock), so it is
        # not read again in each transaction; a write that finds it no longer held reads it again.
        self._instance: Instance | None = None

    # --- persisting the steps ---------------------------------------------------------------------
    def _decide(self, step: JobStep) -> None:
        """A step to write with the next transaction."""
        self._unsaved.append(step)
        self.job = step.job

    async def _commit(self, plan: Plan = nothing_more) -> object:
        """One transaction: the steps decided so far, then what ``plan`` adds (given the job as
        stored now, should a forced delete have asked something of it)."""
        async with self._writing:
            unsaved = list(self._unsaved)
            holding = self.job
            if not unsaved and plan is nothing_more:
                return None

            async def write(session):
                job = holding
                steps, ending, value = plan(job)
                update, after = self._updates(unsaved, steps, ending, job)
                if not await self.lease.update_unless_asked(update, Asked(job.cancel_requested, job.handoff_to), session):
                    current = await store.job(self.db, job.id, session=session)
                    if current is None or current.runner != self.lease.token:
                        raise LeaseLost(job.id)
                    job = job.model_copy(update={"cancel_requested": current.cancel_requested, "handoff_to": current.handoff_to})
                    steps, ending, value = plan(job)
                    update, after = self._updates(unsaved, steps, ending, job)
                    await self.lease.update(update, session)
                events, consequences, kept = await self._instance_of([*unsaved, *steps], ending, after, session)
                return (after, value, kept), [*cloud_events(events), *consequences]

            try:
                after, value, kept = await self.outbox.transaction(write)
            except _NotHeld:
                self._instance = None
                after, value, kept = await self.outbox.transaction(write)
            self._instance = kept
            del self._unsaved[: len(unsaved)]
            written = after.job if isinstance(after, JobStep) else after
            if plan is nothing_more:  # a background write: keep the steps decided since, learn what was asked
                self.job = self.job.model_copy(update={"cancel_requested": written.cancel_requested, "handoff_to": written.handoff_to})
            else:
                self.job = written
            return value

    def _updates(self, unsaved: list[JobStep], steps: list[JobStep], ending: Ending | None, job: Job) -> tuple[JobUpdate, Job | JobStep]:
        """The one update of the job that the ``unsaved`` steps, then ``steps`` (decided on ``job``:
        the job as held, with what a forced delete asked of it), then ``ending`` write; and the job
        after them (the end's step when the job ends)."""
        last = steps[-1].job if steps else job
        updates = [s.update for s in (*unsaved, *steps)]
        if ending is None:
            return jobs.combined(updates), last
        end = jobs.finished(last, ending.status, self.clock.millis(), ending.failed_index, ending.message)
        return jobs.combined([*updates, end.update]), end

    async def _held(self, session) -> StoredInstance | None:
        """The job's instance, if this job still holds it."""
        stored = await store.by_id(self.db, self.job.instance_id, session=session)
        return stored if stored is not None and stored.active_job_id == self.job.id else None

    async def _instance_of(
        self, steps: list[JobStep], ending: Ending | None, after: Job | JobStep, session
    ) -> tuple[list[InstanceEvent | JobEvent | TaskEvent], list[CloudEvent], Instance | None]:
        """The steps' events with what each reports about the instance, then the job's end and
        where it leaves the instance (written once); and the instance if the job still holds it."""
        events: list[InstanceEvent | JobEvent | TaskEvent] = []
        touches = ending is not None or any(s.instance is not None for s in steps)
        remembered = self._instance
        current = remembered
        if touches and current is None:
            held = await self._held(session)
            current = held.instance if held is not None else None

        def written(matched: bool) -> None:
            if remembered is not None and not matched:
                raise _NotHeld(self.job.instance_id)

        changed = False
        for step in steps:
            events += step.events
            if step.instance is not None and current is not None:
                current, event = rules.with_progress(current, step.instance)
                events.append(event)
                changed = True
        if ending is None or not isinstance(after, JobStep):
            if changed and current is not None:
                written(await store.save(self.db, current, self.job.id, self.job.id, session))
            return events, [], current
        events += after.events
        if current is None:
            return events, [], None
        job = after.job
        left = rules.after_job(
            current, job.id, job.operation, ending.status, job.target, job.available, job.handoff_to, job.finished_at or 0
        )
        consequences: list[CloudEvent] = []
        if left.removed:
            written(await store.remove(self.db, left.instance.id, job.id, session))
            if self.instance_removed is not None:
                consequences = await self.instance_removed(left.instance, session)
        else:
            if left.snapshot is not None:
                await store.add_snapshot(self.db, left.snapshot, session)
            written(await store.save(self.db, left.instance, job.id, left.held_by, session))
        return [*events, *left.events], consequences, None

    async def progress(self, index: int, message: str, available: int | None) -> None:
        """A running task's progress: written with the next step, or after ``linger``."""
        if self._lost is not None:
            raise self._lost
        self._decide_soon(jobs.task_progress(self.job, index, message, available, self.clock.millis()))

    def _decide_soon(self, step: JobStep) -> None:
        """A step written with the next transaction, or ``linger`` seconds from now if none comes first."""
        self._decide(step)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._write_soon(), name=f"job-steps-{self.job.id}")

    async def _write_soon(self) -> None:
        """Write the steps decided ``linger`` seconds ago, and again while more are decided meanwhile."""
        while True:
            await asyncio.sleep(self.linger)
            try:
                await self._commit()
            except LeaseLost as exc:
                self._lost = exc  # the running task learns it at its next progress, the runner after it
                return
            except Exception as exc:  # the next step writes them again
                log.warning("job %s: steps not written yet: %s", self.job.id, exc)
                return
            if not self._unsaved:
                return

    async def close(self) -> None:
        """Stop a pending background write (the execution ended or is being cancelled)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            try:
                await self._flusher
            except BaseException:
                pass

    async def finish(self, status: ExecutionStatus, failed_index: int | None = None, message: str | None = None) -> None:
        """End the job (SUCCEEDED, FAILED or CANCELLED), close its tasks, and leave the instance
        where the operation leaves it: released, or handed to the forced delete waiting for it."""
        ending = Ending(status, failed_index, message)
        await self._commit(lambda job: ([], ending, None))

    async def _start_task(self, index: int, note: str) -> bool:
        """Start task ``index`` (with the steps decided before it); when a forced delete asked the
        job to stop, end it CANCELLED instead (False)."""

        def plan(job: Job) -> tuple[list[JobStep], Ending | None, object]:
            if job.cancel_requested:
                return [], Ending(E.CANCELLED, message=jobs.CANCELLED_NOTE), False
            return [jobs.task_started(job, index, note, self.clock.millis())], None, True

        return bool(await self._commit(plan))

    # --- running ----------------------------------------------------------------------------------
    async def run(self, held: StoredInstance | None) -> None:
        """Run the claimed job from its first unfinished task (``held``: its instance, read before the claim)."""
        try:
            await self._run(held)
        finally:
            await self.close()

    async def _run(self, held: StoredInstance | None) -> None:
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
        self._instance = held.instance
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
            self._decide(jobs.started(job, self.clock.millis(), rebase_on))
        start = job.next_task
        for index in range(start, len(tasks)):
            task = tasks[index]
            resumed = attempts > 1 and index == start and claimed.task(index).status == E.RUNNING
            note = f"resumed after the job's worker stopped (attempt {attempts})" if resumed else "started"
            if task.side_effects or self.job.cancel_requested:
                # written before it runs, with the steps decided since the last write (the previous
                # task's success): what a resumed job starts from is committed before any side effect
                if not await self._start_task(index, note):
                    return
            else:  # it changes nothing outside the job: its start is written with what follows
                self._decide_soon(jobs.task_started(self.job, index, note, self.clock.millis()))
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
            if self._lost is not None:
                raise self._lost
            self._decide(jobs.task_succeeded(self.job, index, result.message, result.available_replica, self.clock.millis()))
        await self.finish(E.SUCCEEDED)
