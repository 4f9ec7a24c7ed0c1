"""How a deployment job and its instance move (services/domain/jobs/transitions.py and the job
rules of services/domain/lifecycle/component_instances.py): pure functions, no I/O. Also what a
step writes to the stored job (the store's $set) and what its events carry on the wire."""

from __future__ import annotations

import pytest

from services.adapters.drivers import plan_of, tasks_for
from services.adapters.drivers.simulated import SimulatedDriver
from services.adapters.store.component_instances import _set as stored_changes
from services.contracts.component_instances import Instance
from services.contracts.jobs import TERMINAL, ExecutionStatus, Job, JobOperation, JobType, JobUpdate, TaskChange
from services.domain.jobs import transitions as jobs
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle.component_instances import InstanceVerb, ProgressOfJob
from tests.support.instances import an_instance
from workers.lifecycle.component_instance_events import cloud_event

E = ExecutionStatus
Op = JobOperation
NOW = 1_700_000_000_123
DEPLOY_TASKS = ["prepare", "pull_artifact", "create_workload", "wait_healthy"]


def instance(status: str = "RUNNING", replica: int = 2, available: int = 2, version: str = "1.0.0") -> Instance:
    return an_instance(
        status,
        replica,
        available,
        artifacts={"web": {"url": "swr.example.com/w:1"}},
        version=version,
        creator="alice",
        status_detail={"last_job_id": "JOB0", "last_job_status": "SUCCEEDED", "enterprise_project_id": "ep"},
    )


def job(
    operation: JobOperation = Op.DEPLOY,
    before: Instance | None = None,
    target: Instance | None = None,
    replica: int | None = None,
    waits_for: str | None = None,
) -> Job:
    before = before or instance("INITIALIZING", available=0)
    target = target or before
    plan = plan_of(tasks_for(SimulatedDriver(0), operation, before, target, replica))
    return jobs.new_job("JOB1", operation, before, target, plan, "alice", NOW, replica=replica, waits_for=waits_for)


# --- the job -----------------------------------------------------------------------------------------
def test_a_new_job_is_the_stored_document_of_a_submitted_job():
    j = job(Op.SCALE, before=instance(), replica=3)
    doc = j.document()
    assert list(doc) == [
        "_id",
        "project_id",
        "application_id",
        "component_id",
        "instance_id",
        "operation",
        "job_type",
        "job_name",
        "job_desc",
        "created_by",
        "created_at",
        "create_time",
        "status",
        "before",
        "target",
        "replica",
        "plan",
        "tasks",
        "next_task",
        "seq",
        "available",
        "runner",
        "lease_until",
        "attempts",
        "cancel_requested",
        "handoff_to",
        "waits_for",
    ]
    assert doc["_id"] == "JOB1" and doc["operation"] == "scale" and doc["job_type"] == "DAILY_OPERATION"
    assert doc["job_name"] == "scale-web" and doc["job_desc"] == "Scale instance web from 2 to 3 replicas"
    assert doc["created_at"] == "2023-11-14T22:13:20.123Z" and doc["create_time"] == NOW
    assert doc["status"] == "SUBMITTED" and doc["available"] == 2 and doc["replica"] == 3
    assert doc["tasks"] == {"t0": {"status": "SUBMITTED", "messages": ""}, "t1": {"status": "SUBMITTED", "messages": ""}}
    assert doc["plan"][0] == {"index": 0, "key": "scale_workload", "name": "Scale workload", "type": "kube"}
    assert Job.model_validate(doc) == j  # what the store reads back


@pytest.mark.parametrize(
    "operation,job_type",
    [
        (Op.DEPLOY, JobType.PROVISION),
        (Op.DELETE, JobType.DEPROVISION),
        (Op.RESTART, JobType.DAILY_OPERATION),
        (Op.ROLLBACK, JobType.DAILY_OPERATION),
    ],
)
def test_job_type_of_each_operation(operation, job_type):
    assert rules.job_type(operation) is job_type


def test_submitted_announces_the_plan():
    event = jobs.submitted(job(), NOW)
    assert event.verb == jobs.JobVerb.SUBMITTED and event.data.seq == 0
    assert [t.task_status for t in event.data.tasks] == [E.SUBMITTED] * 4
    assert [t.task_name for t in event.data.tasks] == [
        "Prepare deployment",
        "Pull artifacts",
        "Create workload",
        "Wait for replicas to be healthy",
    ]


def test_started_runs_the_job_and_reports_it_to_the_instance():
    step = jobs.started(job(), NOW)
    assert step.job.status == E.RUNNING and step.job.seq == 1 and step.job.started_at == NOW
    assert stored_changes(step.update) == {"status": "RUNNING", "seq": 1, "started_at": NOW}
    assert [(type(e).__name__, e.verb, e.data.execution_status) for e in step.events] == [("JobEvent", "running", E.RUNNING)]
    assert step.instance == ProgressOfJob(last_job_status=E.RUNNING)


def test_a_job_queued_behind_a_cancelled_one_acts_on_the_instance_it_left():
    left = instance("UPGRADING", replica=3, available=1)
    step = jobs.started(job(Op.DELETE, waits_for="JOB0"), NOW, rebase_on=left)
    assert step.job.before == left and step.job.target == left and step.job.available == 1
    changes = stored_changes(step.update)
    assert changes["before"] == left.model_dump(mode="json") and changes["available"] == 1


def test_each_task_step_counts_an_event_and_writes_its_task():
    j = jobs.started(job(), NOW).job
    running = jobs.task_started(j, 0, "started", NOW)
    assert stored_changes(running.update) == {"seq": 2, "tasks.t0.status": "RUNNING", "tasks.t0.messages": "started"}
    assert running.job.task(0).status == E.RUNNING and running.instance is None

    progress = jobs.task_progress(running.job, 0, "1/2 replicas available", 1, NOW)
    assert stored_changes(progress.update) == {"seq": 3, "tasks.t0.messages": "1/2 replicas available", "available": 1}
    assert progress.instance == ProgressOfJob(available_replica=1)
    same = jobs.task_progress(progress.job, 0, "still 1", 1, NOW)  # nothing new about the replicas
    assert stored_changes(same.update) == {"seq": 4, "tasks.t0.messages": "still 1"} and same.instance is None
    assert same.job.task(0).status == E.RUNNING  # a progress message keeps the status

    done = jobs.task_succeeded(same.job, 0, "ready", 2, NOW)
    assert stored_changes(done.update) == {
        "seq": 5,
        "tasks.t0.status": "SUCCEEDED",
        "tasks.t0.messages": "ready",
        "next_task": 1,
        "available": 2,
    }
    assert done.job.next_task == 1 and done.job.available == 2 and jobs.current_task(done.job) == 1
    event = done.events[0]
    assert (event.verb, event.data.task_status, event.data.seq, event.data.messages) == ("succeeded", E.SUCCEEDED, 5, "ready")


def test_a_failure_fails_its_task_and_skips_the_rest():
    j = jobs.task_succeeded(jobs.task_started(jobs.started(job(), NOW).job, 0, "started", NOW).job, 0, "ok", None, NOW).job
    j = jobs.task_started(j, 1, "started", NOW).job
    step = jobs.finished(j, E.FAILED, NOW, failed_index=1, message="cannot pull")
    note = jobs.SKIPPED_NOTE
    assert stored_changes(step.update) == {
        "status": "FAILED",
        "seq": 5,
        "finished_at": NOW,
        "runner": None,
        "message": "cannot pull",
        "tasks.t1.status": "FAILED",
        "tasks.t1.messages": "cannot pull",
        "tasks.t2.status": "SKIPPED",
        "tasks.t2.messages": note,
        "tasks.t3.status": "SKIPPED",
        "tasks.t3.messages": note,
    }
    failed_task, failed_job = step.events
    assert (failed_task.verb, failed_task.data.task_index, failed_task.data.messages) == ("failed", 1, "cannot pull")
    assert failed_job.verb == "failed" and failed_job.data.message == "cannot pull" and failed_job.data.seq == 5
    assert [(t.task_index, t.task_status) for t in failed_job.data.tasks] == [(2, E.SKIPPED), (3, E.SKIPPED)]
    assert [step.job.task(i).status for i in range(4)] == [E.SUCCEEDED, E.FAILED, E.SKIPPED, E.SKIPPED]
    assert step.job.runner is None and step.job.status in TERMINAL


def test_a_cancelled_job_cancels_what_has_not_run_and_a_success_closes_nothing():
    cancelled = jobs.finished(jobs.started(job(), NOW).job, E.CANCELLED, NOW, message=jobs.CANCELLED_NOTE)
    assert [cancelled.job.task(i).status for i in range(4)] == [E.CANCELLED] * 4
    assert cancelled.events[0].verb == "cancelled"

    j = jobs.started(job(Op.STOP, before=instance()), NOW).job
    for i in range(2):
        j = jobs.task_succeeded(jobs.task_started(j, i, "started", NOW).job, i, "ok", None, NOW).job
    succeeded = jobs.finished(j, E.SUCCEEDED, NOW)
    assert stored_changes(succeeded.update) == {"status": "SUCCEEDED", "seq": 6, "finished_at": NOW, "runner": None, "message": None}
    assert cloud_event(succeeded.events[0]).data == {
        "job_id": "JOB1",
        "project_id": "p",
        "instance_id": "i1",
        "job_type": "DAILY_OPERATION",
        "job_name": "stop-web",
        "job_desc": "Stop instance web",
        "created_by": "alice",
        "created_at": "2023-11-14T22:13:20.123Z",
        "execution_status": "SUCCEEDED",
        "seq": 6,
        "time": "2023-11-14T22:13:20.123Z",
    }
    with pytest.raises(ValueError):
        jobs.finished(j, E.RUNNING, NOW)


def test_task_events_on_the_wire():
    event = cloud_event(jobs.task_event(job(), 3, jobs.TaskVerb.PROGRESS, E.RUNNING, "1/2 replicas available", 9, NOW))
    assert event.type == "io.openstage.lifecycle.task.progress" and event.subject == "/v2/p/cas/jobs/JOB1"
    assert event.openstagesubject == "openstage.evt.p.lifecycle.task.progress"
    assert event.data == {
        "job_id": "JOB1",
        "project_id": "p",
        "instance_id": "i1",
        "job_type": "PROVISION",
        "job_name": "deploy-web",
        "job_desc": "Deploy instance web version 1.0.0 with 2 replicas",
        "created_by": "alice",
        "created_at": "2023-11-14T22:13:20.123Z",
        "task_index": 3,
        "task_name": "Wait for replicas to be healthy",
        "task_type": "kube",
        "task_status": "RUNNING",
        "messages": "1/2 replicas available",
        "seq": 9,
        "owner_id": "alice",
        "time": "2023-11-14T22:13:20.123Z",
    }


def test_a_job_update_writes_only_what_it_names():
    assert stored_changes(JobUpdate(runner=None, lease_until=0)) == {"runner": None, "lease_until": 0}
    assert stored_changes(JobUpdate(cancel_requested=True, handoff_to="JOB2")) == {"cancel_requested": True, "handoff_to": "JOB2"}
    assert stored_changes(JobUpdate(tasks={2: TaskChange(messages=None)})) == {"tasks.t2.messages": None}


# --- the instance ------------------------------------------------------------------------------------
def test_locking_an_instance_for_a_job():
    locked, event = rules.locked_for_job(instance(), Op.SCALE, "JOB1", replica=4)
    d = locked.status_detail
    assert (d.status, d.replica, d.last_job_id, d.last_job_status) == ("UPGRADING", 4, "JOB1", "SUBMITTED")
    assert event.verb == InstanceVerb.STATUS_CHANGED and event.instance == locked
    assert rules.locked_for_job(instance("STOPPED"), Op.START, "JOB1")[0].status_detail.replica == 2


def test_reported_progress_changes_the_instance():
    running, _ = rules.with_progress(instance("INITIALIZING", available=0), ProgressOfJob(last_job_status=E.RUNNING))
    assert running.status_detail.last_job_status == "RUNNING" and running.status_detail.available_replica == 0
    one, event = rules.with_progress(running, ProgressOfJob(available_replica=1))
    assert one.status_detail.available_replica == 1 and one.status_detail.last_job_status == "RUNNING"
    assert event.verb == InstanceVerb.STATUS_CHANGED


def after(
    current: Instance,
    operation: JobOperation,
    status: ExecutionStatus,
    target: Instance | None = None,
    available: int = 0,
    handoff_to: str | None = None,
) -> rules.InstanceAfterJob:
    return rules.after_job(current, "JOB1", operation, status, target or current, available, handoff_to, NOW)


def test_a_successful_deploy_runs_every_replica_and_keeps_a_snapshot():
    deploying = instance("INITIALIZING", replica=3, available=0)
    out = after(deploying, Op.DEPLOY, E.SUCCEEDED, available=3)
    d = out.instance.status_detail
    assert (d.status, d.replica, d.available_replica, d.last_job_id, d.last_job_status, d.enterprise_project_id) == (
        "RUNNING",
        3,
        3,
        "JOB1",
        "SUCCEEDED",
        "ep",
    )
    assert out.held_by is None and not out.removed and out.snapshot.version == "1.0.0" and out.snapshot.job_id == "JOB1"
    assert [e.verb for e in out.events] == [InstanceVerb.STATUS_CHANGED]


def test_an_upgrade_applies_its_target_and_a_stop_leaves_no_replica():
    current = instance("UPGRADING")
    out = after(current, Op.UPGRADE, E.SUCCEEDED, target=instance("UPGRADING", version="2.0.0"))
    assert out.instance.version == "2.0.0" and out.instance.update_time == NOW and out.snapshot.version == "2.0.0"
    assert [e.verb for e in out.events] == [InstanceVerb.UPDATED]
    rolled = after(current, Op.ROLLBACK, E.SUCCEEDED, target=instance(version="0.9.0"))
    assert rolled.instance.version == "0.9.0" and rolled.snapshot is None and rolled.events[0].verb == InstanceVerb.UPDATED
    stopped = after(instance("STOPPING"), Op.STOP, E.SUCCEEDED)
    assert stopped.instance.status_detail.status == "STOPPED" and stopped.instance.status_detail.available_replica == 0
    assert stopped.instance.update_time == 1 and stopped.snapshot is None


def test_a_successful_delete_removes_the_instance():
    out = after(instance("DELETING"), Op.DELETE, E.SUCCEEDED, handoff_to="JOB2")
    assert out.removed and out.instance.status_detail.status == "DELETED"
    assert out.instance.status_detail.available_replica == 0 and [e.verb for e in out.events] == [InstanceVerb.DELETED]


@pytest.mark.parametrize("available,status", [(0, "FAILED"), (1, "PARTIALLY_FAILED"), (3, "FAILED")])
def test_a_failure_leaves_the_instance_failed_or_partially_failed(available, status):
    out = after(instance("UPGRADING", replica=3, available=3), Op.SCALE, E.FAILED, available=available)
    d = out.instance.status_detail
    assert (d.status, d.available_replica, d.last_job_status) == (status, available, "FAILED")
    assert d.last_job_id == "JOB0" and out.held_by is None and not out.removed


def test_a_cancelled_job_hands_the_instance_to_the_delete_waiting_for_it():
    out = after(instance("INITIALIZING", replica=3, available=1), Op.DEPLOY, E.CANCELLED, available=1, handoff_to="JOB2")
    d = out.instance.status_detail
    assert (d.status, d.available_replica, d.last_job_id, d.last_job_status) == ("DELETING", 1, "JOB2", "SUBMITTED")
    assert out.held_by == "JOB2" and [e.instance for e in out.events] == [out.instance]
    # without a waiting delete a cancelled job leaves the status as it was
    assert after(instance("RESTARTING"), Op.RESTART, E.CANCELLED).instance.status_detail.status == "RESTARTING"
