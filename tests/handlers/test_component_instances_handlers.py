"""Component instance handlers and the job runner in-process: the worker's own composition root
(``workers.lifecycle.app.compose``) with a simulated driver that takes no time; each job is run by
calling the runner as a work item would (``JobRunner.run``)."""

from __future__ import annotations

import pytest

from services.adapters.store import component_instances as instance_store
from services.contracts import errors
from services.contracts.component_instances import (
    ActOnInstance,
    CreateInstance,
    DeleteInstance,
    InstanceConfiguration,
    InstanceRef,
    ListInstances,
    ListSnapshots,
    UpdateInstance,
)
from services.contracts.subjects import LIFECYCLE, ComponentInstances, Lifecycle
from tests.handlers.conftest import call
from tests.handlers.lifecycle_support import lifecycle_with_jobs
from workers.lifecycle.deps import LifecycleDeps
from workers.lifecycle.job_runner import RunOutcome

P = "p1"
CLUSTER = "cce-cluster-1"
BUSY = errors.INSTANCE_BUSY


@pytest.fixture
async def lifecycle(base_deps):
    async with lifecycle_with_jobs(base_deps) as running:
        yield running


async def _ok(broker, action: str, body) -> dict:
    reply = await call(broker, P, LIFECYCLE, action, body)
    assert reply.status in (200, 201, 204), reply
    return reply.result


async def _target(broker) -> dict:
    env = await _ok(
        broker,
        Lifecycle.ENVIRONMENT_CREATE,
        {
            "name": "env1",
            "deploy_mode": "container",
            "vpc_id": "vpc-1",
            "base_resources": [{"id": CLUSTER, "type": "cce"}],
            "optional_resources": [{"id": "elb-1", "type": "elb"}],
        },
    )
    app = await _ok(broker, Lifecycle.APPLICATION_CREATE, {"name": "app1"})
    component = await _ok(
        broker,
        Lifecycle.COMPONENT_CREATE,
        {"application_id": app["id"], "body": {"name": "web", "runtime": "Docker", "category": "Webapp"}},
    )
    return {"environment_id": env["id"], "application_id": app["id"], "component_id": component["id"]}


def _create(target: dict, name: str = "web-1", replica: int = 2, url: str = "swr.example.com/org/web:1.0.0") -> CreateInstance:
    return CreateInstance.model_validate(
        {
            "application_id": target["application_id"],
            "component_id": target["component_id"],
            "creator": "alice",
            "body": {
                "name": name,
                "environment_id": target["environment_id"],
                "flavor_id": "MICRO-5G:0.5C:1G",
                "replica": replica,
                "version": "1.0.0",
                "artifacts": {"web": {"storage": "swr", "type": "image", "url": url}},
                "refer_resources": [{"id": CLUSTER, "type": "cce", "parameters": {"namespace": "default"}}],
            },
        }
    )


def _ref(target: dict, instance_id: str) -> dict:
    return {"application_id": target["application_id"], "component_id": target["component_id"], "instance_id": instance_id}


async def _instance(broker, target: dict, instance_id: str) -> dict:
    return await _ok(broker, ComponentInstances.GET, InstanceRef.model_validate(_ref(target, instance_id)))


async def store_job(deps: LifecycleDeps, job_id: str):
    return await instance_store.job(deps.db, job_id)


def _events_since(deps: LifecycleDeps, mark: int) -> list[str]:
    return [e.type.removeprefix("io.openstage.lifecycle.") for e in deps.js.published[mark:]]


async def test_an_instance_through_its_jobs(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    mark = len(deps.js.published)

    created = await _ok(broker, ComponentInstances.CREATE, _create(target))
    iid, job_id = created["instance_id"], created["job_id"]
    assert job_id.startswith("JOB") and set(created) == {"instance_id", "job_id"}
    assert _events_since(deps, mark) == ["instance.created", "job.submitted", "job.run"]
    work = deps.js.published[-1]
    assert work.openstagesubject == f"openstage.work.{P}.lifecycle.job" and work.data == {"job_id": job_id, "instance_id": iid}
    inst = await _instance(broker, target, iid)
    assert inst["status_detail"]["status"] == "INITIALIZING" and inst["status_detail"]["last_job_id"] == job_id

    # the instance is locked while its job has not run
    stop = ActOnInstance.model_validate({**_ref(target, iid), "body": {"action": "stop"}})
    refused = await call(broker, P, LIFECYCLE, ComponentInstances.ACTION, stop)
    assert refused.status == 400 and refused.error.error_code == BUSY
    plain_delete = DeleteInstance.model_validate(_ref(target, iid))
    assert (await call(broker, P, LIFECYCLE, ComponentInstances.DELETE, plain_delete)).error.error_code == BUSY

    mark = len(deps.js.published)
    assert await deps.job_runner.run(job_id) is RunOutcome.DONE
    events = _events_since(deps, mark)
    assert events[:2] == ["job.running", "instance.status_changed"] and events[-2:] == ["job.succeeded", "instance.status_changed"]
    assert events.count("task.running") == events.count("task.succeeded") == 4
    seqs = [
        e.data["seq"]
        for e in deps.js.published[mark:]
        if e.type.startswith("io.openstage.lifecycle.j") or e.type.startswith("io.openstage.lifecycle.t")
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # one counter, one value per event
    detail = (await _instance(broker, target, iid))["status_detail"]
    assert (detail["status"], detail["available_replica"], detail["last_job_status"]) == ("RUNNING", 2, "SUCCEEDED")
    # a redelivered work item of an ended job changes nothing
    mark = len(deps.js.published)
    assert await deps.job_runner.run(job_id) is RunOutcome.DONE and len(deps.js.published) == mark

    listed = await _ok(
        broker,
        ComponentInstances.LIST,
        ListInstances.model_validate({"application_id": target["application_id"], "component_id": target["component_id"]}),
    )
    assert listed["count"] == 1 and listed["instances"][0]["id"] == iid

    # stop, then stop again is not allowed from STOPPED
    stop_job = (await _ok(broker, ComponentInstances.ACTION, stop))["job_id"]
    assert (await _instance(broker, target, iid))["status_detail"]["status"] == "STOPPING"
    await deps.job_runner.run(stop_job)
    detail = (await _instance(broker, target, iid))["status_detail"]
    assert (detail["status"], detail["available_replica"]) == ("STOPPED", 0)
    again = await call(broker, P, LIFECYCLE, ComponentInstances.ACTION, stop)
    assert again.status == 400 and again.error.error_code == errors.INSTANCE_ACTION_NOT_ALLOWED

    # modify: a new version and a second snapshot; an upgrade of a STOPPED instance leaves it stopped
    update = UpdateInstance.model_validate({**_ref(target, iid), "body": {"version": "1.0.1"}})
    mark = len(deps.js.published)
    await deps.job_runner.run((await _ok(broker, ComponentInstances.UPDATE, update))["job_id"])
    assert "instance.updated" in _events_since(deps, mark)
    inst = await _instance(broker, target, iid)
    assert inst["version"] == "1.0.1" and inst["status_detail"]["status"] == "STOPPED"
    snaps = await _ok(
        broker, ComponentInstances.SNAPSHOTS, ListSnapshots.model_validate({**_ref(target, iid), "snapshot_order_by": "version"})
    )
    assert snaps["count"] == 2 and [s["version"] for s in snaps["snapshots"]] == ["1.0.1", "1.0.0"]

    # what still has an instance cannot be deleted (the guards composed into the worker)
    env_delete = await call(broker, P, LIFECYCLE, Lifecycle.ENVIRONMENT_DELETE, {"environment_id": target["environment_id"]})
    assert env_delete.status == 400 and env_delete.error.error_code == errors.COMPONENT_DEPLOYED
    comp_delete = await call(
        broker,
        P,
        LIFECYCLE,
        Lifecycle.COMPONENT_DELETE,
        {"application_id": target["application_id"], "component_id": target["component_id"]},
    )
    assert comp_delete.status == 400 and comp_delete.error.error_code == errors.COMPONENT_DEPLOYED

    mark = len(deps.js.published)
    deleted = await _ok(broker, ComponentInstances.DELETE, plain_delete)
    await deps.job_runner.run(deleted["job_id"])
    assert _events_since(deps, mark)[-2:] == ["job.succeeded", "instance.deleted"]
    gone = await call(broker, P, LIFECYCLE, ComponentInstances.GET, InstanceRef.model_validate(_ref(target, iid)))
    assert gone.status == 404
    assert (
        await call(
            broker,
            P,
            LIFECYCLE,
            Lifecycle.COMPONENT_DELETE,
            {"application_id": target["application_id"], "component_id": target["component_id"]},
        )
    ).status == 204


async def test_a_failing_task_fails_the_job_and_the_instance(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, url="https://repo.example.invalid/w.jar"))
    mark = len(deps.js.published)
    await deps.job_runner.run(created["job_id"])
    failed = [e for e in deps.js.published[mark:] if e.type == "io.openstage.lifecycle.job.failed"]
    assert len(failed) == 1 and "cannot be resolved" in failed[0].data["message"]
    assert [t["task_status"] for t in failed[0].data["tasks"]] == ["SKIPPED", "SKIPPED"]
    detail = (await _instance(broker, target, created["instance_id"]))["status_detail"]
    assert (detail["status"], detail["last_job_status"]) == ("FAILED", "FAILED")


async def test_a_forced_delete_cancels_the_running_job_and_deletes_after_it(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, replica=3))
    iid, deploy = created["instance_id"], created["job_id"]
    force = DeleteInstance.model_validate({**_ref(target, iid), "force": True})
    delete = (await _ok(broker, ComponentInstances.DELETE, force))["job_id"]
    twice = await call(broker, P, LIFECYCLE, ComponentInstances.DELETE, force)
    assert twice.status == 400 and twice.error.error_code == BUSY and delete in twice.error.error_msg

    assert await deps.job_runner.run(delete) is RunOutcome.WAIT  # queued behind the deploy
    mark = len(deps.js.published)
    assert await deps.job_runner.run(deploy) is RunOutcome.DONE
    cancelled = [e for e in deps.js.published[mark:] if e.type == "io.openstage.lifecycle.job.cancelled"]
    assert len(cancelled) == 1 and {t["task_status"] for t in cancelled[0].data["tasks"]} == {"CANCELLED"}
    detail = (await _instance(broker, target, iid))["status_detail"]
    assert (detail["status"], detail["last_job_id"], detail["last_job_status"]) == ("DELETING", delete, "SUBMITTED")

    assert await deps.job_runner.run(delete) is RunOutcome.DONE
    gone = await call(broker, P, LIFECYCLE, ComponentInstances.GET, InstanceRef.model_validate(_ref(target, iid)))
    assert gone.status == 404


async def test_bad_input_is_a_typed_400_and_writes_nothing(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    mark = len(deps.js.published)
    bad = _create(target).model_dump()
    bad["body"]["flavor_id"] = "HUGE-1G:1C:1G"
    reply = await call(broker, P, LIFECYCLE, ComponentInstances.CREATE, bad)
    assert reply.status == 400 and reply.error.error_code == errors.INSTANCE_INVALID
    missing = await call(broker, P, LIFECYCLE, ComponentInstances.GET, InstanceRef.model_validate(_ref(target, "no-such-instance")))
    assert missing.status == 404 and missing.error.error_code == errors.INSTANCE_NOT_FOUND
    await _ok(broker, ComponentInstances.CREATE, _create(target, name="dup"))
    duplicate = await call(broker, P, LIFECYCLE, ComponentInstances.CREATE, _create(target, name="dup"))
    assert duplicate.status == 400 and duplicate.error.error_code == errors.INSTANCE_NAME_EXISTS
    assert _events_since(deps, mark) == ["instance.created", "job.submitted", "job.run"]


# --- DELETE .../components/{id}?force=true ---------------------------------------------------------
def _component_ref(target: dict, force: bool | None = None) -> dict:
    ref = {"application_id": target["application_id"], "component_id": target["component_id"]}
    return ref if force is None else {**ref, "force": force, "creator": "bob"}


async def _component(broker, target: dict):
    return await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_GET, _component_ref(target))


def _jobs_submitted(deps: LifecycleDeps, mark: int) -> dict[str, str]:
    """{instance id: job id} of the jobs submitted since ``mark``."""
    return {e.data["instance_id"]: e.data["job_id"] for e in deps.js.published[mark:] if e.type == "io.openstage.lifecycle.job.submitted"}


async def test_a_forced_delete_deletes_the_instances_through_their_jobs_then_the_component(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    idle = await _ok(broker, ComponentInstances.CREATE, _create(target, name="web-1"))
    await deps.job_runner.run(idle["job_id"])  # deployed: RUNNING, no job
    deploying = await _ok(broker, ComponentInstances.CREATE, _create(target, name="web-2"))  # its deploy not run yet

    # without force: Huawei's 400 SVCSTG.00100402, nothing changes
    plain = await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target, force=False))
    assert (plain.status, plain.error.error_code) == (400, errors.COMPONENT_DEPLOYED)
    assert "web-1" in plain.error.error_msg and "web-2" in plain.error.error_msg

    mark = len(deps.js.published)
    forced = await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target, force=True))
    assert forced.status == 204 and forced.error is None
    events = _events_since(deps, mark)
    # one transaction: the component marked, the idle instance locked for its delete job, the deploying
    # one's delete job queued behind the deploy (which is asked to stop)
    assert events[0] == "component.deleting" and deps.js.published[mark].data["status"] == 1
    assert events.count("job.submitted") == events.count("job.run") == 2 and "instance.status_changed" in events
    jobs_of = _jobs_submitted(deps, mark)
    assert set(jobs_of) == {idle["instance_id"], deploying["instance_id"]}
    assert all(
        e.data["job_type"] == "DEPROVISION" and e.data["created_by"] == "bob"
        for e in deps.js.published[mark:]
        if e.type == "io.openstage.lifecycle.job.submitted"
    )
    shown = await _component(broker, target)
    assert shown.status == 200 and shown.result["status"] == 1  # "1: being deleted" (SDK ComponentView.status)
    detail = (await _instance(broker, target, idle["instance_id"]))["status_detail"]
    assert (detail["status"], detail["last_job_id"]) == ("DELETING", jobs_of[idle["instance_id"]])
    holder = await store_job(deps, deploying["job_id"])
    assert holder.cancel_requested and holder.handoff_to == jobs_of[deploying["instance_id"]]

    # while it is being deleted: no new instance, a plain delete is still refused, a second force adds nothing
    refused = await call(broker, P, LIFECYCLE, ComponentInstances.CREATE, _create(target, name="web-3"))
    assert (refused.status, refused.error.error_code) == (400, errors.COMPONENT_BEING_DELETED)
    assert (await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target))).status == 400
    mark = len(deps.js.published)
    again = await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target, force=True))
    assert again.status == 204 and _events_since(deps, mark) == []

    # the jobs run: the component goes with its last instance, in that job's last transaction
    mark = len(deps.js.published)
    assert await deps.job_runner.run(jobs_of[idle["instance_id"]]) is RunOutcome.DONE
    assert _events_since(deps, mark)[-2:] == ["job.succeeded", "instance.deleted"]
    assert (await _component(broker, target)).result["status"] == 1  # web-2 is still there
    assert await deps.job_runner.run(jobs_of[deploying["instance_id"]]) is RunOutcome.WAIT
    assert await deps.job_runner.run(deploying["job_id"]) is RunOutcome.DONE  # cancelled, handed over
    mark = len(deps.js.published)
    assert await deps.job_runner.run(jobs_of[deploying["instance_id"]]) is RunOutcome.DONE
    assert _events_since(deps, mark)[-3:] == ["job.succeeded", "instance.deleted", "component.deleted"]
    gone = await _component(broker, target)
    assert (gone.status, gone.error.error_code) == (404, errors.COMPONENT_NOT_FOUND)
    app = await _ok(broker, Lifecycle.APPLICATION_GET, {"application_id": target["application_id"]})
    assert app["component_count"] == 0


async def test_a_failed_instance_delete_leaves_the_component_being_deleted_until_forced_again(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    body = _create(target)
    body.body.configuration = InstanceConfiguration.model_validate(
        {"env": [{"name": "OPENSTAGE_SIMULATE_FAILURE", "value": "delete_workload"}]}
    )
    created = await _ok(broker, ComponentInstances.CREATE, body)
    iid = created["instance_id"]
    await deps.job_runner.run(created["job_id"])

    mark = len(deps.js.published)
    assert (await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target, True))).status == 204
    await deps.job_runner.run(_jobs_submitted(deps, mark)[iid])
    assert (await _instance(broker, target, iid))["status_detail"]["status"] == "FAILED"
    assert (await _component(broker, target)).result["status"] == 1

    # the cause fixed (the failure switch removed), a second forced delete finishes the job
    fixed = UpdateInstance.model_validate({**_ref(target, iid), "body": {"version": "1.0.1", "configuration": {}}})
    await deps.job_runner.run((await _ok(broker, ComponentInstances.UPDATE, fixed))["job_id"])
    mark = len(deps.js.published)
    assert (await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target, True))).status == 204
    assert "component.deleting" not in _events_since(deps, mark)  # already marked
    await deps.job_runner.run(_jobs_submitted(deps, mark)[iid])
    assert _events_since(deps, mark)[-1] == "component.deleted"
    assert (await _component(broker, target)).status == 404


async def test_a_forced_delete_is_one_transaction(lifecycle):
    """If anything in the forced delete fails, nothing of it is written: no mark, no lock, no job, no event."""
    broker, deps = lifecycle
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target))
    await deps.job_runner.run(created["job_id"])
    cascade = deps.delete_guards.component_force

    async def then_fail(*args):
        await cascade(*args)
        raise RuntimeError("worker stopped mid-delete")

    deps.delete_guards.component_force = then_fail
    mark = len(deps.js.published)
    failed = await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target, True))
    assert failed.status == 500 and _events_since(deps, mark) == []
    assert (await _component(broker, target)).result["status"] == 0
    stored = await instance_store.by_id(deps.db, created["instance_id"])
    assert stored.active_job_id is None and stored.instance.status_detail.status == "RUNNING"
    deps.delete_guards.component_force = cascade


async def test_a_forced_delete_of_a_component_without_instances_deletes_it_at_once(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    mark = len(deps.js.published)
    assert (await call(broker, P, LIFECYCLE, Lifecycle.COMPONENT_DELETE, _component_ref(target, True))).status == 204
    assert _events_since(deps, mark) == ["component.deleted"]
    assert (await _component(broker, target)).status == 404
