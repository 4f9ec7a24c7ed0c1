"""CloudEvents of instances and their jobs, and the job work item.

- ``io.openstage.lifecycle.instance.{created,updated,status_changed,deleted}``: data = the instance;
- ``io.openstage.lifecycle.job.{submitted,running,succeeded,failed,cancelled}``: data = job fields,
  ``execution_status``, ``seq``, and for ``submitted`` and the terminal ones the tasks they set;
- ``io.openstage.lifecycle.task.{running,progress,succeeded,failed}``: data = one task;
- the work item ``io.openstage.lifecycle.job.run`` on ``openstage.work.<project>.lifecycle.job``
  (stream OPENSTAGE_JOBS_WORK), which the job runner consumes.
Every job/task event carries the job's ``seq`` (see services/domain/jobs/fold.py). What the events
say is decided by the domain rules (services/domain/jobs/transitions.py,
services/domain/lifecycle/component_instances.py); this module only wraps it as CloudEvents."""

from __future__ import annotations

from collections.abc import Sequence

from services.contracts import subjects
from services.contracts.component_instances import Instance
from services.contracts.events import CloudEvent
from services.contracts.jobs import Job, JobEventData, TaskEventData
from services.contracts.subjects import LIFECYCLE
from services.domain.jobs.transitions import JobEvent, JobVerb, TaskEvent, TaskVerb
from services.domain.lifecycle.component_instances import InstanceEvent, InstanceVerb

EVENTS = {
    **{subjects.event_type(LIFECYCLE, "instance", verb): Instance for verb in InstanceVerb},
    **{subjects.event_type(LIFECYCLE, "job", verb): JobEventData for verb in JobVerb},
    **{subjects.event_type(LIFECYCLE, "task", verb): TaskEventData for verb in TaskVerb},
}


def instance_path(project: str, application_id: str, component_id: str, instance_id: str) -> str:
    return f"/v2/{project}/cas/applications/{application_id}/components/{component_id}/instances/{instance_id}"


def job_path(project: str, job_id: str) -> str:
    return f"/v2/{project}/cas/jobs/{job_id}"


def instance_event(inst: Instance, verb: InstanceVerb) -> CloudEvent:
    return CloudEvent.new(
        inst.project_id,
        LIFECYCLE,
        "instance",
        verb.value,
        resource_path=instance_path(inst.project_id, inst.application_id, inst.component_id, inst.id),
        data=inst.model_dump(mode="json"),
    )


def cloud_event(event: InstanceEvent | JobEvent | TaskEvent) -> CloudEvent:
    """The CloudEvent of an event a domain rule decided on."""
    if isinstance(event, InstanceEvent):
        return instance_event(event.instance, event.verb)
    entity = "job" if isinstance(event, JobEvent) else "task"
    data = event.data
    return CloudEvent.new(
        data.project_id,
        LIFECYCLE,
        entity,
        event.verb.value,
        resource_path=job_path(data.project_id, data.job_id),
        data=data.model_dump(mode="json", exclude_none=True),
    )


def cloud_events(events: Sequence[InstanceEvent | JobEvent | TaskEvent]) -> list[CloudEvent]:
    return [cloud_event(e) for e in events]


def work_item(job: Job) -> CloudEvent:
    """The message that makes a job runner run (or resume) the job."""
    project = job.project_id
    return CloudEvent(
        source=f"/openstage/{LIFECYCLE}",
        type=subjects.event_type(LIFECYCLE, "job", "run"),
        subject=job_path(project, job.id),
        # (the instance id lets the runner read the instance while it claims the job)
        data={"job_id": job.id, "instance_id": job.instance_id},
        openstageproject=project,
        openstagesubject=subjects.job_work(project, LIFECYCLE),
    )
