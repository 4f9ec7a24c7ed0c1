"""Component instances and their jobs through the official SDK against the running system
(simulated driver, 0.05 s per task)."""
from __future__ import annotations

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import (
    CreateInstanceRequest,
    DeleteInstanceRequest,
    InstanceAction,
    InstanceActionParameters,
    InstanceModify,
    ListInstanceSnapshotsRequest,
    ListInstancesRequest,
    ShowJobDetailRequest,
    UpdateInstanceActionRequest,
    ChangeInstanceRequest,
)

from tests.support.deploy import Target, artifacts, instance_body, show_instance, wait_job


@pytest.fixture(scope="module")
def client(sdk_factory):
    return sdk_factory("instproj")


@pytest.fixture(scope="module")
def target(client):
    return Target(client)


def act(client, target, instance_id, action, **params):
    body = InstanceAction(action=action, parameters=InstanceActionParameters(**params) if params else None)
    return client.update_instance_action(UpdateInstanceActionRequest(instance_id=instance_id, body=body,
                                                                     **target.ids())).job_id


def test_full_lifecycle(client, target):
    created = client.create_instance(CreateInstanceRequest(body=instance_body(target, replica=2), **target.ids()))
    assert created.instance_id and created.job_id.startswith("JOB")
    job = wait_job(client, created.job_id)
    assert job.job.execution_status == "SUCCEEDED", job
    assert job.task_count >= 3 and len(job.tasks) == job.task_count
    assert all(t.task_status == "SUCCEEDED" for t in job.tasks)
    assert [t.task_index for t in job.tasks] == list(range(job.task_count))
    assert job.job.job_type == "PROVISION" and job.job.service_instance_id == created.instance_id
    inst = show_instance(client, target, created.instance_id)
    assert inst.status_detail.status == "RUNNING"
    assert inst.status_detail.replica == 2 and inst.status_detail.available_replica == 2
    assert inst.status_detail.last_job_id == created.job_id and inst.status_detail.last_job_status == "SUCCEEDED"
    iid = created.instance_id

    wait_job(client, act(client, target, iid, "stop"))
    inst = show_instance(client, target, iid)
    assert inst.status_detail.status == "STOPPED" and inst.status_detail.available_replica == 0

    wait_job(client, act(client, target, iid, "start"))
    inst = show_instance(client, target, iid)
    assert inst.status_detail.status == "RUNNING" and inst.status_detail.available_replica == 2

    job = wait_job(client, act(client, target, iid, "restart"))
    assert job.job.execution_status == "SUCCEEDED"
    assert show_instance(client, target, iid).status_detail.status == "RUNNING"

    job = wait_job(client, act(client, target, iid, "scale", replica=3))
    assert job.job.execution_status == "SUCCEEDED"
    inst = show_instance(client, target, iid)
    assert inst.status_detail.replica == 3 and inst.status_detail.available_replica == 3

    job_id = client.change_instance(ChangeInstanceRequest(instance_id=iid, body=InstanceModify(
        version="1.0.1", artifacts=artifacts(target.component_name, "swr.example.com/org/web:1.0.1")),
        **target.ids())).job_id
    assert wait_job(client, job_id).job.execution_status == "SUCCEEDED"
    inst = show_instance(client, target, iid)
    assert inst.version == "1.0.1" and inst.status_detail.status == "RUNNING"
    snaps = client.list_instance_snapshots(ListInstanceSnapshotsRequest(instance_id=iid, **target.ids()))
    assert snaps.count == 2 and [s.version for s in snaps.snapshots] == ["1.0.1", "1.0.0"]

    job = wait_job(client, act(client, target, iid, "rollback", version="1.0.0"))
    assert job.job.execution_status == "SUCCEEDED"
    inst = show_instance(client, target, iid)
    assert inst.version == "1.0.0" and inst.status_detail.status == "RUNNING"
    assert inst.status_detail.replica == 3

    listed = client.list_instances(ListInstancesRequest(**target.ids()))
    assert iid in [i.id for i in listed.instances]

    job_id = client.delete_instance(DeleteInstanceRequest(instance_id=iid, **target.ids())).job_id
    job = wait_job(client, job_id)
    assert job.job.execution_status == "SUCCEEDED" and job.job.job_type == "DEPROVISION"
    with pytest.raises(ClientRequestException) as err:
        show_instance(client, target, iid)
    assert err.value.status_code == 404


def test_failure_trigger(client, target):
    body = instance_body(target, url="https://repo.example.invalid/web.jar")
    created = client.create_instance(CreateInstanceRequest(body=body, **target.ids()))
    job = wait_job(client, created.job_id)
    assert job.job.execution_status == "FAILED"
    failed = [t for t in job.tasks if t.task_status == "FAILED"]
    assert len(failed) == 1 and "cannot be resolved" in failed[0].messages
    assert all(t.task_status == "SKIPPED" for t in job.tasks if t.task_index > failed[0].task_index)
    inst = show_instance(client, target, created.instance_id)
    assert inst.status_detail.status == "FAILED" and inst.status_detail.last_job_status == "FAILED"
    assert inst.status_detail.available_replica == 0
