"""How the host agents' reports move an idle instance: RUNNING, PARTIALLY_FAILED or DOWN with a
fail_detail, UNKNOWN when a host falls silent; and statuses replicas do not decide."""

from __future__ import annotations

import pytest

from services.contracts.component_instances import Instance, InstanceAction, ReferResource
from services.contracts.jobs import ExecutionStatus as E
from services.contracts.jobs import JobOperation as Op
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle.component_instances import InstanceVerb, host_silent, status_from_replicas
from tests.support.instances import an_instance


def detail_of(inst):
    d = inst.status_detail
    return d.status, d.available_replica, d.fail_detail


def test_a_crashed_replica_makes_a_running_instance_partially_failed_then_running_again():
    running = an_instance("RUNNING", replica=2, available=2)
    partial, event = status_from_replicas(running, 1, 2, "replica 1 on host local: backoff (exited with code 1)")
    assert detail_of(partial) == ("PARTIALLY_FAILED", 1, "replica 1 on host local: backoff (exited with code 1)")
    assert event is not None and event.verb == InstanceVerb.STATUS_CHANGED and event.instance == partial
    back, event = status_from_replicas(partial, 2, 2, None)
    assert detail_of(back) == ("RUNNING", 2, None) and event is not None


def test_no_ready_replica_is_down():
    down, event = status_from_replicas(an_instance("RUNNING", replica=3, available=3), 0, 3, None)
    assert detail_of(down) == ("DOWN", 0, "3 of 3 replicas are not ready") and event is not None


def test_the_same_report_again_changes_nothing():
    running = an_instance("RUNNING", replica=2, available=2)
    same, event = status_from_replicas(running, 2, 2, None)
    assert same == running and event is None
    partial, _ = status_from_replicas(running, 1, 2, "x")
    again, event = status_from_replicas(partial, 1, 2, "x")
    assert again == partial and event is None


@pytest.mark.parametrize("status", ["STOPPED", "FAILED", "INITIALIZING", "UPGRADING", "STOPPING", "DELETING", "STARTING"])
def test_statuses_replicas_do_not_decide_are_left_alone(status):
    inst = an_instance(status, replica=2, available=0)
    assert status_from_replicas(inst, 2, 2, None) == (inst, None)
    assert host_silent(inst, "h", 30) == (inst, None)


def test_a_silent_host_makes_the_instance_unknown_until_its_replicas_report_again():
    unknown, event = host_silent(an_instance("RUNNING", replica=2, available=2), "local", 6.2)
    assert unknown.status_detail.status == "UNKNOWN" and event is not None
    assert "host local has not been heard from for 6s" in unknown.status_detail.fail_detail
    again, event = host_silent(unknown, "local", 9)
    assert event is None or again.status_detail.status == "UNKNOWN"
    back, event = status_from_replicas(unknown, 2, 2, None)
    assert detail_of(back) == ("RUNNING", 2, None) and event is not None


# --- how a job leaves an instance on VM hosts --------------------------------------------------------
def vm_instance(status: str = "RUNNING", hosts: tuple[str, ...] = ("a",)) -> Instance:
    refer = [ReferResource(id="a", type="ecs", parameters={"hosts": list(hosts)})]
    return an_instance(status, replica=2, available=2, platform_type="vmapp", refer_resources=refer)


def test_a_vm_scale_with_hosts_moves_the_instance_to_them_when_it_succeeds():
    inst = vm_instance()
    planned = rules.plan_action(inst, InstanceAction(action="scale", parameters={"replica": 3, "hosts": ["a", "b"]}), [])
    target = rules.target_of(inst, planned)
    assert target.status_detail.replica == 3 and target.refer_resources[0].parameters == {"hosts": ["a", "b"]}
    locked, _ = rules.locked_for_job(inst, Op.SCALE, "JOB1", 3)
    out = rules.after_job(locked, "JOB1", Op.SCALE, E.SUCCEEDED, target, 3, None, 5)
    assert out.instance.refer_resources[0].parameters == {"hosts": ["a", "b"]}
    assert (out.instance.status_detail.status, out.instance.status_detail.available_replica) == ("RUNNING", 3)
    failed = rules.after_job(locked, "JOB1", Op.SCALE, E.FAILED, target, 1, None, 5)
    assert failed.instance.refer_resources[0].parameters == {"hosts": ["a"]}  # a failed scale moves nothing


@pytest.mark.parametrize("operation", [Op.UPGRADE, Op.ROLLBACK])
def test_an_upgrade_of_a_stopped_instance_leaves_it_stopped(operation):
    stopped = vm_instance("STOPPED")
    target = stopped.model_copy(update={"version": "2.0.0"})
    locked, _ = rules.locked_for_job(stopped, operation, "JOB1")
    out = rules.after_job(locked, "JOB1", operation, E.SUCCEEDED, target, 0, None, 5)
    assert out.instance.version == "2.0.0"
    assert (out.instance.status_detail.status, out.instance.status_detail.available_replica) == ("STOPPED", 0)
    running = rules.after_job(locked, "JOB1", operation, E.SUCCEEDED, vm_instance("RUNNING"), 2, None, 5)
    assert running.instance.status_detail.status == "RUNNING"
