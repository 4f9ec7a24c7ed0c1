"""Crash safety: the lifecycle worker is killed (SIGKILL) in the middle of a deploy job and
restarted; the job is resumed from the durable work queue and ends SUCCEEDED, with the instance
RUNNING and all its replicas available. Runs its own system (1 s per task, 2 s job lease)."""

from __future__ import annotations

import signal
import time

import pytest
from huaweicloudsdkservicestage.v2.model import CreateInstanceRequest, ShowJobDetailRequest

from tests.support.deploy import Target, instance_body, show_instance, wait_job
from tests.support.system import make_sdk, start_system
from workers import WORKERS


@pytest.fixture(scope="module")
def slow_system(tmp_path_factory):
    rs = start_system(
        tmp_path_factory.mktemp("crash"),
        list(WORKERS),
        extra_env={"OPENSTAGE_SIMULATED_TASK_SECONDS": "1", "OPENSTAGE_JOB_LEASE_SECONDS": "2"},
    )
    yield rs
    rs.system.stop()


def test_killed_worker_mid_deploy_is_resumed(slow_system):
    client = make_sdk(slow_system.base_url, "crashproj")
    target = Target(client)
    created = client.create_instance(CreateInstanceRequest(body=instance_body(target, replica=2), **target.ids()))

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.show_job_detail(ShowJobDetailRequest(job_id=created.job_id))
        if job.job.execution_status == "RUNNING" and any(t.task_index >= 1 and t.task_status == "RUNNING" for t in job.tasks):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the deploy job never reached its second task")

    worker = slow_system.system.children["worker-lifecycle"].proc
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    interrupted = client.show_job_detail(ShowJobDetailRequest(job_id=created.job_id))
    assert interrupted.job.execution_status == "RUNNING"

    slow_system.restart_worker("lifecycle")
    job = wait_job(client, created.job_id, timeout=60)
    assert job.job.execution_status == "SUCCEEDED", job
    assert all(t.task_status == "SUCCEEDED" for t in job.tasks)
    inst = show_instance(client, target, created.instance_id)
    assert inst.status_detail.status == "RUNNING"
    assert inst.status_detail.available_replica == 2 and inst.status_detail.replica == 2
    assert inst.status_detail.last_job_id == created.job_id and inst.status_detail.last_job_status == "SUCCEEDED"
    # the job was really resumed by the restarted worker (a second claim of its lease)
    from pymongo import MongoClient

    from services.adapters.store.mongo import database_name

    with MongoClient(slow_system.mongodb_url) as mc:
        runner_state = mc[database_name("openstage", "lifecycle")].instance_jobs.find_one({"_id": created.job_id})
    assert runner_state["attempts"] == 2 and runner_state["status"] == "SUCCEEDED"
    assert runner_state["runner"] is None
