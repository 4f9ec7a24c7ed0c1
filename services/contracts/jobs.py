"""Deployment job API (GET /v2/{project_id}/cas/jobs/{job_id}) and the job/task events the job
tracker folds.

On the wire the job and its tasks use the SDK's ``attribute_map`` names, which are upper-case
(JobInfo: ``EXECUTION_STATUS``, ``JOB_ID``...; TaskInfo: ``TASK_NAME``, ``TASK_STATUS``...)."""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts.environments import EntityId

# "JOB" + a UUID, as the reference's examples show (JOB66761060-f209-407c-a093-4df6f531b9dc).
JOB_ID_PATTERN = r"^JOB[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class ExecutionStatus(str, Enum):
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


TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "PARTIALLY_FAILED", "ROLLBACKED", "SKIPPED"})


class JobType(str, Enum):
    PROVISION = "PROVISION"
    DEPROVISION = "DEPROVISION"
    DAILY_OPERATION = "DAILY_OPERATION"
    SYSTEM_INNER = "SYSTEM_INNER"
    UNKNOWN = "UNKNOWN"


class JobInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    created_by: str | None = Field(default=None, alias="CREATED_BY")
    execution_status: str = Field(alias="EXECUTION_STATUS")
    job_desc: str | None = Field(default=None, alias="JOB_DESC")
    job_id: str = Field(alias="JOB_ID")
    job_name: str | None = Field(default=None, alias="JOB_NAME")
    job_type: str | None = Field(default=None, alias="JOB_TYPE")
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
    task_status: str = Field(alias="TASK_STATUS")
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
    offset: Annotated[int, Field(ge=0)] = 0
    desc: Literal["true", "false", "True", "False"] = "false"


# --- the data of job and task CloudEvents (published by the lifecycle worker, folded by the tracker) --
class JobEventData(BaseModel):
    """``io.openstage.lifecycle.job.{submitted,running,succeeded,failed,cancelled}``"""

    job_id: str
    project_id: str
    instance_id: str
    job_type: str
    job_name: str
    job_desc: str | None = None
    created_by: str | None = None
    created_at: int | str | None = None
    execution_status: str
    seq: int = Field(description="the job's event counter: the tracker keeps the highest it saw")
    time: str
    tasks: list[dict] | None = Field(default=None, description="the task plan, on submitted and terminal events")
    message: str | None = None


class TaskEventData(JobEventData):
    """``io.openstage.lifecycle.task.{running,progress,succeeded,failed}``: the job's fields and one task."""

    execution_status: str | None = None  # type: ignore[assignment]
    task_index: int
    task_name: str
    task_type: str
    task_status: str
    messages: str = ""
    owner_id: str | None = None
