"""Deployment job API (GET /v2/{project_id}/cas/jobs/{job_id}) and the job/task events the job
tracker folds.

On the wire the job and its tasks use the SDK's ``attribute_map`` names, which are upper-case
(JobInfo: ``EXECUTION_STATUS``, ``JOB_ID``...; TaskInfo: ``TASK_NAME``, ``TASK_STATUS``...)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts.component_instances import Instance
from services.contracts.envelope import Offset
from services.contracts.environments import EntityId

# "JOB" + a UUID, as the reference's examples show (JOB66761060-f209-407c-a093-4df6f531b9dc).
JOB_ID_PATTERN = r"^JOB[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class ExecutionStatus(StrEnum):
    """JobInfo.EXECUTION_STATUS (and TaskInfo.TASK_STATUS, which adds SKIPPED)."""

    SUBMITTED = "SUBMITTED"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    CANCELLED = "CANCELLED"
    PARTIALLY_FAILED = "PARTIALLY_FAILED"
    SKIPPED = "SKIPPED"
    ROLLBACKING = "ROLLBACKING"
    ROLLBACKED = "ROLLBACKED"
    UNKNOWN = "UNKNOWN"


# The statuses nothing follows, of a job and of a task: the one terminal set (the runner, the job
# tracker, `openstage jobs watch` and the tests use it). The job runner ends a job SUCCEEDED,
# FAILED or CANCELLED and a task also SKIPPED; the others are SDK values no code writes.
TERMINAL: frozenset[ExecutionStatus] = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.PARTIALLY_FAILED,
        ExecutionStatus.ROLLBACKED,
        ExecutionStatus.SKIPPED,
    }
)


def is_terminal(status: str | None) -> bool:
    """Whether a job or task in ``status`` (an ExecutionStatus value) has ended."""
    return status in TERMINAL


class JobType(StrEnum):
    """JobInfo.JOB_TYPE."""

    PROVISION = "PROVISION"
    DEPROVISION = "DEPROVISION"
    DAILY_OPERATION = "DAILY_OPERATION"
    SYSTEM_INNER = "SYSTEM_INNER"
    UNKNOWN = "UNKNOWN"


class JobOperation(StrEnum):
    """What a job does to a component instance (the driver method that plans its tasks)."""

    DEPLOY = "deploy"  # create
    UPGRADE = "upgrade"  # modify
    ROLLBACK = "rollback"
    SCALE = "scale"
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    DELETE = "delete"


# --- the job runner's state of a job (collection instance_jobs, owned by the lifecycle worker) ---
def task_key(index: int) -> str:
    """The key of task ``index`` in ``Job.tasks`` (an object, not an array: nx-27017 ignores $set
    on array positions such as ``tasks.0.status``)."""
    return f"t{index}"


class PlannedTask(BaseModel):
    """One task of a job's plan, as the deployment driver named it when the job was submitted."""

    index: int
    key: str  # the driver's stable identifier (a resumed job checks its plan has not changed)
    name: str  # TASK_NAME
    type: str  # TASK_TYPE


class TaskState(BaseModel):
    status: ExecutionStatus = ExecutionStatus.SUBMITTED
    messages: str = ""


class Job(BaseModel):
    """A deployment job as the job runner keeps it (one document of ``instance_jobs``; the jobs
    API serves the tracker's read model, folded from the events, instead). Field order and names
    are the stored document's."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="_id")
    project_id: str
    application_id: str
    component_id: str
    instance_id: str
    operation: JobOperation
    job_type: JobType
    job_name: str
    job_desc: str
    created_by: str
    created_at: str  # ISO 8601 with milliseconds, UTC (what the events carry)
    create_time: int  # epoch milliseconds
    status: ExecutionStatus = ExecutionStatus.SUBMITTED
    before: Instance  # the instance when the job was accepted
    target: Instance  # the instance the job deploys
    replica: int | None = None  # scale: the replica count asked for
    plan: list[PlannedTask]
    tasks: dict[str, TaskState]  # task_key(index) -> state
    next_task: int = 0  # the first task not finished yet (where a resumed job starts)
    seq: int = 0  # the job's event counter (services/domain/jobs/fold.py)
    available: int = 0  # replicas available, as the driver last reported
    runner: str | None = None  # the lease token of the runner holding the job
    lease_until: int = 0  # epoch milliseconds
    attempts: int = 0  # how many times a runner claimed the job
    cancel_requested: bool = False  # a forced delete asks the job to stop at its next task
    handoff_to: str | None = None  # the delete job that takes the instance over when this one ends
    waits_for: str | None = None  # the cancelled job this (delete) job was queued behind
    # set by the runner
    started_at: int | None = None
    finished_at: int | None = None
    message: str | None = None

    def task(self, index: int) -> TaskState:
        return self.tasks.get(task_key(index)) or TaskState()

    def document(self) -> dict[str, Any]:
        """The document inserted when the job is submitted (the runner's fields come later)."""
        return self.model_dump(mode="json", by_alias=True, exclude={"started_at", "finished_at", "message"})

    def applied(self, update: JobUpdate) -> Job:
        """This job after ``update`` (what the store writes, applied in memory)."""
        changes = {name: getattr(update, name) for name in update.model_fields_set if name != "tasks"}
        tasks = dict(self.tasks)
        for index, change in update.tasks.items():
            key = task_key(index)
            tasks[key] = (tasks.get(key) or TaskState()).model_copy(
                update={name: getattr(change, name) for name in change.model_fields_set}
            )
        return self.model_copy(update={**changes, "tasks": tasks})


class TaskChange(BaseModel):
    """What changes in one task (fields not given stay as they are)."""

    status: ExecutionStatus | None = None
    messages: str | None = None


class JobUpdate(BaseModel):
    """What one step of the runner changes in a job: only the fields given (``model_fields_set``,
    None included) are written."""

    status: ExecutionStatus | None = None
    seq: int | None = None
    started_at: int | None = None
    finished_at: int | None = None
    runner: str | None = None
    lease_until: int | None = None
    message: str | None = None
    next_task: int | None = None
    available: int | None = None
    before: Instance | None = None
    target: Instance | None = None
    cancel_requested: bool | None = None
    handoff_to: str | None = None
    tasks: dict[int, TaskChange] = Field(default_factory=dict)


# --- the jobs API (served by the jobs worker from the tracker's read model) -----------------------
class JobInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    created_by: str | None = Field(default=None, alias="CREATED_BY")
    execution_status: ExecutionStatus = Field(alias="EXECUTION_STATUS")
    job_desc: str | None = Field(default=None, alias="JOB_DESC")
    job_id: str = Field(alias="JOB_ID")
    job_name: str | None = Field(default=None, alias="JOB_NAME")
    job_type: JobType | None = Field(default=None, alias="JOB_TYPE")
    order_id: str | None = Field(default=None, alias="ORDER_ID")
    project_id: str | None = Field(default=None, alias="PROJECT_ID")
    service_instance_id: str | None = Field(default=None, alias="SERVICE_INSTANCE_ID")


class TaskInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    created_at: str | None = Field(default=None, alias="CREATED_AT")
    last_health_check: str | None = Field(default=None, alias="LAST_HEALTH_CHECK")
    messages: str | None = Field(default=None, alias="MESSAGES")
    owner_id: str | None = Field(default=None, alias="OWNER_ID")
    task_id: str = Field(alias="TASK_ID")
    task_index: int = Field(alias="TASK_INDEX")
    task_name: str = Field(alias="TASK_NAME")
    task_status: ExecutionStatus = Field(alias="TASK_STATUS")
    task_type: str | None = Field(default=None, alias="TASK_TYPE")


class JobDetail(BaseModel):
    """ShowJobDetailResponse."""

    task_count: int
    job: JobInfo
    tasks: list[TaskInfo]


class ShowJob(BaseModel):
    """job.get (GET /v2/{project_id}/cas/jobs/{job_id}?instance_id=&limit=&offset=&desc=)."""

    model_config = ConfigDict(extra="ignore")

    job_id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    instance_id: EntityId | None = None
    limit: Annotated[int, Field(ge=0, le=1000)] | None = None
    offset: Offset = 0
    desc: Literal["true", "false", "True", "False"] = "false"


# --- the data of job and task CloudEvents (published by the lifecycle worker, folded by the tracker) --
class JobEventFields(BaseModel):
    """What every job and task event says about its job."""

    job_id: str
    project_id: str
    instance_id: str
    job_type: JobType
    job_name: str
    job_desc: str | None = None
    created_by: str | None = None
    created_at: int | str | None = None


class TaskData(BaseModel):
    """One task as a job event carries it (the plan on ``submitted``, the tasks it closes on the
    terminal events)."""

    task_index: int
    task_name: str
    task_type: str
    task_status: ExecutionStatus
    messages: str = ""
    seq: int
    created_at: str | None = None
    owner_id: str | None = None


class JobEventData(JobEventFields):
    """``io.openstage.lifecycle.job.{submitted,running,succeeded,failed,cancelled}``"""

    execution_status: ExecutionStatus
    seq: int = Field(description="the job's event counter: the tracker keeps the highest it saw")
    time: str
    tasks: list[TaskData] | None = Field(default=None, description="the task plan, on submitted and terminal events")
    message: str | None = None


class TaskEventData(JobEventFields):
    """``io.openstage.lifecycle.task.{running,progress,succeeded,failed}``: the job's fields and one task."""

    task_index: int
    task_name: str
    task_type: str
    task_status: ExecutionStatus
    messages: str = ""
    seq: int = Field(description="the job's event counter: the tracker keeps the highest it saw")
    owner_id: str | None = None
    time: str
