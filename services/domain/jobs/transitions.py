"""How a deployment job moves: submitted, started, each task running / progressing / succeeding,
finished (SUCCEEDED, FAILED or CANCELLED). Pure: no I/O.

Each step takes the job as the runner holds it and returns a ``JobStep``: the job after the step,
the change to write (``JobUpdate``, fenced by the runner's lease), the job and task events to emit
(each carrying the job's next ``seq``) and what the step reports about the instance. The job
runner (workers/lifecycle/job_runner.py) only persists the step and its events in one transaction.

How the job moves its instance is in ``services/domain/lifecycle/component_instances.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from services.contracts.component_instances import Instance
from services.contracts.jobs import (
    ExecutionStatus,
    Job,
    JobEventData,
    JobOperation,
    JobUpdate,
    PlannedTask,
    TaskChange,
    TaskData,
    TaskEventData,
    TaskState,
    is_terminal,
    task_key,
)
from services.domain.lifecycle import component_instances as instance_rules
from services.domain.lifecycle.component_instances import ProgressOfJob

E = ExecutionStatus
# the message of tasks a finished job closes without running them
SKIPPED_NOTE = "skipped: an earlier task failed"
CANCELLED_NOTE = "cancelled: the instance is being deleted"


def iso(ms: int) -> str:
    """Epoch milliseconds as the events and the jobs API show times: 2026-01-01T00:00:00.000Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class JobVerb(StrEnum):
    """The verb of an ``io.openstage.lifecycle.job.<verb>`` event."""

    SUBMITTED = "submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskVerb(StrEnum):
    """The verb of an ``io.openstage.lifecycle.task.<verb>`` event."""

    RUNNING = "running"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class JobEvent:
    verb: JobVerb
    data: JobEventData


@dataclass(frozen=True)
class TaskEvent:
    verb: TaskVerb
    data: TaskEventData


@dataclass(frozen=True)
class JobStep:
    job: Job  # the job after the step
    update: JobUpdate  # what the step writes
    events: list[JobEvent | TaskEvent]
    instance: ProgressOfJob | None = None  # what the step reports about the instance (if the job holds it)


# --- event data -------------------------------------------------------------------------------------
def _job_fields(job: Job) -> dict[str, object]:
    return {
        "job_id": job.id,
        "project_id": job.project_id,
        "instance_id": job.instance_id,
        "job_type": job.job_type,
        "job_name": job.job_name,
        "job_desc": job.job_desc,
        "created_by": job.created_by,
        "created_at": job.created_at,
    }


def task_data(job: Job, index: int, status: ExecutionStatus, messages: str | None, seq: int) -> TaskData:
    planned = job.plan[index]
    return TaskData(
        task_index=index,
        task_name=planned.name,
        task_type=planned.type,
        task_status=status,
        messages=messages or "",
        seq=seq,
        created_at=job.created_at,
        owner_id=job.created_by,
    )


def job_event(
    job: Job, verb: JobVerb, status: ExecutionStatus, seq: int, now_ms: int, tasks: list[TaskData] | None = None, message: str | None = None
) -> JobEvent:
    return JobEvent(
        verb,
        JobEventData.model_validate(
            {
                **_job_fields(job),
                "execution_status": status,
                "seq": seq,
                "time": iso(now_ms),
                "tasks": tasks or None,
                "message": message or None,
            }
        ),
    )


def task_event(job: Job, index: int, verb: TaskVerb, status: ExecutionStatus, messages: str | None, seq: int, now_ms: int) -> TaskEvent:
    task = task_data(job, index, status, messages, seq)
    return TaskEvent(
        verb, TaskEventData.model_validate({**_job_fields(job), **task.model_dump(exclude={"created_at"}), "time": iso(now_ms)})
    )


# --- the steps --------------------------------------------------------------------------------------
def new_job(
    job_id: str,
    operation: JobOperation,
    before: Instance,
    target: Instance,
    plan: list[PlannedTask],
    creator: str,
    now_ms: int,
    replica: int | None = None,
    version: str | None = None,
    waits_for: str | None = None,
) -> Job:
    """A job of ``operation`` on instance ``before`` that deploys ``target`` by the driver's ``plan``.
    ``waits_for``: the job it is queued behind (a forced delete waits for the job it cancels)."""
    return Job(
        id=job_id,
        project_id=before.project_id,
        application_id=before.application_id,
        component_id=before.component_id,
        instance_id=before.id,
        operation=operation,
        job_type=instance_rules.job_type(operation),
        job_name=f"{operation.value}-{before.name}",
        job_desc=instance_rules.describe(operation, before, replica=replica, version=version or target.version),
        created_by=creator,
        created_at=iso(now_ms),
        create_time=now_ms,
        status=E.SUBMITTED,
        before=before,
        target=target,
        replica=replica,
        plan=plan,
        tasks={task_key(i): TaskState() for i in range(len(plan))},
        available=before.status_detail.available_replica,
        waits_for=waits_for,
    )


def submitted(job: Job, now_ms: int) -> JobEvent:
    """The event of a job just submitted: its plan, every task SUBMITTED."""
    tasks = [task_data(job, i, E.SUBMITTED, "", 0) for i in range(len(job.plan))]
    return job_event(job, JobVerb.SUBMITTED, E.SUBMITTED, 0, now_ms, tasks=tasks)


def _step(job: Job, update: JobUpdate, events: list[JobEvent | TaskEvent], instance: ProgressOfJob | None = None) -> JobStep:
    return JobStep(job.applied(update), update, events, instance)


def started(job: Job, now_ms: int, rebase_on: Instance | None = None) -> JobStep:
    """The job starts running. ``rebase_on``: the instance as the job it waited for left it (the
    job then acts on that instead of the one it was submitted against)."""
    seq = job.seq + 1
    update = JobUpdate(status=E.RUNNING, seq=seq, started_at=now_ms)
    if rebase_on is not None:
        update = JobUpdate(
            status=E.RUNNING,
            seq=seq,
            started_at=now_ms,
            before=rebase_on,
            target=rebase_on,
            available=rebase_on.status_detail.available_replica,
        )
    return _step(job, update, [job_event(job, JobVerb.RUNNING, E.RUNNING, seq, now_ms)], ProgressOfJob(last_job_status=E.RUNNING))


def task_started(job: Job, index: int, message: str, now_ms: int) -> JobStep:
    seq = job.seq + 1
    update = JobUpdate(seq=seq, tasks={index: TaskChange(status=E.RUNNING, messages=message)})
    return _step(job, update, [task_event(job, index, TaskVerb.RUNNING, E.RUNNING, message, seq, now_ms)])


def _reported(job: Job, update: JobUpdate, available: int | None) -> tuple[JobUpdate, ProgressOfJob | None]:
    """``update`` plus the replicas a task reported available, when that changed."""
    if available is None or available == job.available:
        return update, None
    with_available = JobUpdate(**{name: getattr(update, name) for name in update.model_fields_set}, available=available)
    return with_available, ProgressOfJob(available_replica=available)


def task_progress(job: Job, index: int, message: str, available: int | None, now_ms: int) -> JobStep:
    """A running task reports ``message`` and, when it knows, how many replicas are available."""
    seq = job.seq + 1
    update, instance = _reported(job, JobUpdate(seq=seq, tasks={index: TaskChange(messages=message)}), available)
    return _step(job, update, [task_event(job, index, TaskVerb.PROGRESS, E.RUNNING, message, seq, now_ms)], instance)


def task_succeeded(job: Job, index: int, message: str, available: int | None, now_ms: int) -> JobStep:
    seq = job.seq + 1
    update, instance = _reported(
        job, JobUpdate(seq=seq, next_task=index + 1, tasks={index: TaskChange(status=E.SUCCEEDED, messages=message)}), available
    )
    return _step(job, update, [task_event(job, index, TaskVerb.SUCCEEDED, E.SUCCEEDED, message, seq, now_ms)], instance)


FINAL_STATUSES = (E.SUCCEEDED, E.FAILED, E.CANCELLED)


def finished(job: Job, status: ExecutionStatus, now_ms: int, failed_index: int | None = None, message: str | None = None) -> JobStep:
    """The job ends in ``status`` (SUCCEEDED, FAILED or CANCELLED): task ``failed_index`` FAILED
    with ``message``; the tasks not ended yet SKIPPED (after a failure) or CANCELLED; the lease let go.
    Where it leaves the instance: ``component_instances.after_job``."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"a job ends SUCCEEDED, FAILED or CANCELLED, not {status}")
    seq = job.seq + 1
    events: list[JobEvent | TaskEvent] = []
    tasks: dict[int, TaskChange] = {}
    if failed_index is not None:
        events.append(task_event(job, failed_index, TaskVerb.FAILED, E.FAILED, message, seq, now_ms))
        tasks[failed_index] = TaskChange(status=E.FAILED, messages=message)
    rest, note = (E.SKIPPED, SKIPPED_NOTE) if status == E.FAILED else (E.CANCELLED, CANCELLED_NOTE)
    closing = []
    for i in range(len(job.plan)):
        if i == failed_index or is_terminal(job.task(i).status):
            continue
        tasks[i] = TaskChange(status=rest, messages=note)
        closing.append(task_data(job, i, rest, note, seq))
    events.append(job_event(job, JobVerb(status.value.lower()), status, seq, now_ms, tasks=closing, message=message))
    update = JobUpdate(status=status, seq=seq, finished_at=now_ms, runner=None, message=message, tasks=tasks)
    return _step(job, update, events)


def combined(updates: Sequence[JobUpdate]) -> JobUpdate:
    """One update that writes what ``updates`` write one after the other (a later value of a field,
    or of a task's field, wins): consecutive steps with nothing run between them are written in
    one transaction. ``job.applied(combined([a, b])) == job.applied(a).applied(b)``."""
    fields: dict[str, object] = {}
    tasks: dict[int, dict[str, object]] = {}
    for update in updates:
        for name in update.model_fields_set - {"tasks"}:
            fields[name] = getattr(update, name)
        for index, change in update.tasks.items():
            tasks.setdefault(int(index), {}).update({name: getattr(change, name) for name in change.model_fields_set})
    if tasks:
        fields["tasks"] = {index: TaskChange(**change) for index, change in tasks.items()}
    return JobUpdate(**fields)


def current_task(job: Job) -> int | None:
    """The task a job would run next (None when every task has run)."""
    return job.next_task if job.next_task < len(job.plan) else None
