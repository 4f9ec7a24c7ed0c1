"""CloudEvents of instances and their jobs, and the job work item.

- ``io.openstage.lifecycle.instance.{created,updated,status_changed,deleted}``: data = the instance;
- ``io.openstage.lifecycle.job.{submitted,running,succeeded,failed,cancelled}``: data = job fields,
  ``execution_status``, ``seq``, and for ``submitted`` and the terminal ones the tasks they set;
- ``io.openstage.lifecycle.task.{running,progress,succeeded,failed}``: data = one task;
- the work item ``io.openstage.lifecycle.job.run`` on ``openstage.work.<project>.lifecycle.job``
  (stream OPENSTAGE_JOBS_WORK), which the job runner consumes.
Every job/task event carries the job's ``seq`` (see services/domain/jobs/fold.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from services.contracts import subjects
from services.contracts.events import CloudEvent
from services.contracts.component_instances import Instance
from services.contracts.jobs import JobEventData, TaskEventData
from services.contracts.subjects import LIFECYCLE


EVENTS = {
    **{subjects.event_type(LIFECYCLE, "instance", verb): Instance
       for verb in ("created", "updated", "status_changed", "deleted")},
    **{subjects.event_type(LIFECYCLE, "job", verb): JobEventData
       for verb in ("submitted", "running", "succeeded", "failed", "cancelled")},
    **{subjects.event_type(LIFECYCLE, "task", verb): TaskEventData
       for verb in ("running", "progress", "succeeded", "failed")},
}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def instance_path(project: str, application_id: str, component_id: str, instance_id: str) -> str:
    return f"/v2/{project}/cas/applications/{application_id}/components/{component_id}/instances/{instance_id}"


def instance_event(inst: Instance, verb: str) -> CloudEvent:
    return CloudEvent.new(
        inst.project_id, LIFECYCLE, "instance", verb,
        resource_path=instance_path(inst.project_id, inst.application_id, inst.component_id, inst.id),
        data=inst.model_dump(mode="json"),
    )


def _job_path(project: str, job_id: str) -> str:
    return f"/v2/{project}/cas/jobs/{job_id}"


def job_fields(job: dict) -> dict:
    return {
        "job_id": job["_id"],
        "project_id": job["project_id"],
        "instance_id": job["instance_id"],
        "job_type": job["job_type"],
        "job_name": job["job_name"],
        "job_desc": job["job_desc"],
        "created_by": job["created_by"],
        "created_at": job["created_at"],
    }


def job_event(job: dict, verb: str, status: str, seq: int, now_ms: int, tasks: list[dict] | None = None,
              message: str | None = None) -> CloudEvent:
    data = {**job_fields(job), "execution_status": status, "seq": seq, "time": iso(now_ms)}
    if tasks:
        data["tasks"] = tasks
    if message:
        data["message"] = message
    return CloudEvent.new(job["project_id"], LIFECYCLE, "job", verb,
                          resource_path=_job_path(job["project_id"], job["_id"]), data=data)


def task_data(job: dict, index: int, status: str, messages: str | None, seq: int) -> dict:
    plan = job["plan"][index]
    return {"task_index": index, "task_name": plan["name"], "task_type": plan["type"], "task_status": status,
            "messages": messages or "", "seq": seq, "created_at": job["created_at"], "owner_id": job["created_by"]}


def task_event(job: dict, index: int, verb: str, status: str, messages: str | None, seq: int,
               now_ms: int) -> CloudEvent:
    data = {**job_fields(job), **task_data(job, index, status, messages, seq), "time": iso(now_ms)}
    return CloudEvent.new(job["project_id"], LIFECYCLE, "task", verb,
                          resource_path=_job_path(job["project_id"], job["_id"]), data=data)


def work_item(job: dict) -> CloudEvent:
    """The message that makes a job runner run (or resume) the job."""
    project = job["project_id"]
    return CloudEvent(
        source=f"/openstage/{LIFECYCLE}",
        type=subjects.event_type(LIFECYCLE, "job", "run"),
        subject=_job_path(project, job["_id"]),
        data={"job_id": job["_id"]},
        openstageproject=project,
        openstagesubject=subjects.job_work(project, LIFECYCLE),
    )
