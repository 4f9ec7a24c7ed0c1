"""Component instances and their jobs through the official SDK against the running system
(simulated driver, 0.05 s per task)."""

from __future__ import annotations

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import (
    ChangeInstanceRequest,
    CreateInstanceRequest,
    DeleteInstanceRequest,
    InstanceAction,
    InstanceActionParameters,
    InstanceModify,
    ListInstanceSnapshotsRequest,
    ListInstancesRequest,
    ShowJobDetailRequest,
    UpdateInstanceActionRequest,
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
    return client.update_instance_action(UpdateInstanceActionRequest(instance_id=instance_id, body=body, **target.ids())).job_id


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

    job_id = client.change_instance(
        ChangeInstanceRequest(
            instance_id=iid,
            body=InstanceModify(version="1.0.1", artifacts=artifacts(target.component_name, "swr.example.com/org/web:1.0.1")),
            **target.ids(),
        )
    ).job_id
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


def _slow_env(var_value: str) -> list:
    return [{"name": "OPENSTAGE_SIMULATE_FAILURE", "value": var_value}]


def test_second_mutation_while_a_job_runs_is_refused(client, target):
    created = client.create_instance(CreateInstanceRequest(body=instance_body(target, replica=3), **target.ids()))
    # while the deploy runs: every mutating call is refused with 400 SVCSTG.00100633, never a 5xx
    for call in (
        lambda: act(client, target, created.instance_id, "stop"),
        lambda: client.change_instance(
            ChangeInstanceRequest(instance_id=created.instance_id, body=InstanceModify(version="2.0.0"), **target.ids())
        ),
        lambda: client.delete_instance(DeleteInstanceRequest(instance_id=created.instance_id, **target.ids())),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100633", err.value
    assert wait_job(client, created.job_id).job.execution_status == "SUCCEEDED"
    # idle again: accepted
    assert wait_job(client, act(client, target, created.instance_id, "stop")).job.execution_status == "SUCCEEDED"
    # start is allowed only from STOPPED/FAILED/DOWN, stop not from STOPPED
    with pytest.raises(ClientRequestException) as err:
        act(client, target, created.instance_id, "stop")
    assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100635"


def test_force_delete_cancels_the_running_deploy(client, target):
    created = client.create_instance(CreateInstanceRequest(body=instance_body(target, replica=3), **target.ids()))
    job_id = client.delete_instance(DeleteInstanceRequest(instance_id=created.instance_id, force=True, **target.ids())).job_id
    deploy = wait_job(client, created.job_id)
    assert deploy.job.execution_status in ("CANCELLED", "SUCCEEDED")
    if deploy.job.execution_status == "CANCELLED":
        assert any(t.task_status == "CANCELLED" for t in deploy.tasks)
    deleted = wait_job(client, job_id)
    assert deleted.job.execution_status == "SUCCEEDED"
    with pytest.raises(ClientRequestException) as err:
        show_instance(client, target, created.instance_id)
    assert err.value.status_code == 404


def test_configured_failure_of_a_later_operation(client, target):
    body = instance_body(target, replica=2, env=_slow_env("restart_replicas"))
    created = client.create_instance(CreateInstanceRequest(body=body, **target.ids()))
    assert wait_job(client, created.job_id).job.execution_status == "SUCCEEDED"
    job = wait_job(client, act(client, target, created.instance_id, "restart"))
    assert job.job.execution_status == "FAILED"
    assert "simulated failure" in job.tasks[0].messages and job.tasks[0].task_status == "FAILED"
    inst = show_instance(client, target, created.instance_id)
    assert inst.status_detail.status == "FAILED" and inst.status_detail.last_job_status == "FAILED"


def test_validation(client, target):
    def refused(body, status=400, code=None):
        with pytest.raises(ClientRequestException) as err:
            client.create_instance(CreateInstanceRequest(body=body, **target.ids()))
        assert err.value.status_code == status, err.value
        if code:
            assert err.value.error_code == code, err.value
        return err.value

    refused(instance_body(target, name="Bad_Name"))
    refused(instance_body(target, version="1.0"))
    refused(instance_body(target, replica=0))
    assert "flavor_id" in refused(instance_body(target, flavor_id="CUSTOM-10G:500m-1000m:1Gi-1Gi")).error_msg
    ok = instance_body(target, flavor_id="CUSTOM-10G:250m-250m:0.5Gi-0.5Gi")
    body = instance_body(target)
    body.refer_resources[0].id = "not-in-env"
    refused(body, code="SVCSTG.00100634")
    body = instance_body(target)
    body.refer_resources[0].parameters = {}
    refused(body, code="SVCSTG.00100634")
    body = instance_body(target)
    body.environment_id = "0123456789abcdef"
    refused(body, status=404)
    created = client.create_instance(CreateInstanceRequest(body=ok, **target.ids()))
    refused(instance_body(target, name=ok.name), code="SVCSTG.00100632")
    wait_job(client, created.job_id)
    with pytest.raises(ClientRequestException) as err:
        act(client, target, created.instance_id, "rollback", version="9.9.9")
    assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100436"  # snapshot not found
    with pytest.raises(ClientRequestException) as err:
        act(client, target, created.instance_id, "scale")
    assert err.value.status_code == 400
    with pytest.raises(ClientRequestException) as err:
        client.show_job_detail(ShowJobDetailRequest(job_id="JOB-nope"))
    assert err.value.status_code == 404
    with pytest.raises(ClientRequestException) as err:
        show_instance(client, target, "0123456789abcdef")
    assert err.value.status_code == 404


def test_component_and_environment_with_instances_cannot_be_deleted(client):
    from huaweicloudsdkservicestage.v2.model import DeleteComponentRequest, DeleteEnvironmentRequest

    t = Target(client)
    created = client.create_instance(CreateInstanceRequest(body=instance_body(t), **t.ids()))
    wait_job(client, created.job_id)
    with pytest.raises(ClientRequestException) as err:
        client.delete_component(DeleteComponentRequest(**t.ids()))
    assert err.value.status_code in (400, 409) and "instance" in err.value.error_msg
    with pytest.raises(ClientRequestException) as err:
        client.delete_environment(DeleteEnvironmentRequest(environment_id=t.environment_id))
    assert err.value.status_code in (400, 409) and "instance" in err.value.error_msg
    wait_job(client, client.delete_instance(DeleteInstanceRequest(instance_id=created.instance_id, **t.ids())).job_id)
    client.delete_component(DeleteComponentRequest(**t.ids()))
    client.delete_environment(DeleteEnvironmentRequest(environment_id=t.environment_id))


def test_snapshot_paging_and_version_order(client, target):
    created = client.create_instance(CreateInstanceRequest(body=instance_body(target, version="1.0.9"), **target.ids()))
    wait_job(client, created.job_id)
    for v in ("1.0.10", "1.0.2"):
        wait_job(
            client,
            client.change_instance(
                ChangeInstanceRequest(instance_id=created.instance_id, body=InstanceModify(version=v), **target.ids())
            ).job_id,
        )
    snaps = client.list_instance_snapshots(
        ListInstanceSnapshotsRequest(instance_id=created.instance_id, snapshot_order_by="version", order="asc", **target.ids())
    )
    assert [s.version for s in snaps.snapshots] == ["1.0.2", "1.0.9", "1.0.10"] and snaps.count == 3
    page = client.list_instance_snapshots(ListInstanceSnapshotsRequest(instance_id=created.instance_id, limit=1, offset=1, **target.ids()))
    assert page.count == 3 and [s.version for s in page.snapshots] == ["1.0.10"]
    assert all(s.instance_id == created.instance_id and s.create_time for s in snaps.snapshots)
