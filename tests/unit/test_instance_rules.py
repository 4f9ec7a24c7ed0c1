"""Instance rules (flavors, resources, actions against statuses) and the simulated driver."""

from __future__ import annotations

import asyncio

import pytest

from services.adapters.drivers import TaskFailed, Workload
from services.adapters.drivers.simulated import SimulatedDriver, artifact_host
from services.contracts.component_instances import Instance, InstanceAction, InstanceActionParameters, ReferResource, Snapshot
from services.contracts.environments import Environment, Resource
from services.contracts.errors import ServiceError
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle.catalogue import is_valid_flavor, parse_custom_flavor
from tests.support.instances import an_instance


@pytest.mark.parametrize(
    "flavor,ok",
    [
        ("MICRO-5G:0.5C:1G", True),
        ("CUSTOM-10G:250m-250m:0.5Gi-0.5Gi", True),  # the reference's documented form (millicores)
        ("CUSTOM-10G:0.5C-0.25C:1.6Gi-0.8Gi", True),  # the older cores form
        ("CUSTOM-10G:1000m-500m:2Gi-512Mi", True),
        ("CUSTOM-10G:250m-500m:1Gi-1Gi", False),  # request above limit
        ("CUSTOM-10G:500m-250m:1Gi-2Gi", False),
        ("CUSTOM-10G:0m-0m:1Gi-1Gi", False),
        ("CUSTOM-XG:X-X:X-X", False),  # the SDK enum's placeholder
        ("CUSTOM-10G:null-null:null-null", False),
        ("HUGE-1G:1C:1G", False),
    ],
)
def test_flavors(flavor, ok):
    assert is_valid_flavor(flavor) is ok


def test_custom_flavor_parsed_in_cores_and_gibibytes():
    assert parse_custom_flavor("CUSTOM-10G:250m-125m:1Gi-512Mi") == {
        "storage_gb": 10,
        "cpu": 0.25,
        "cpu_request": 0.125,
        "memory_gi": 1.0,
        "memory_request_gi": 0.5,
    }


ENV = Environment(
    id="env1",
    name="dev",
    project_id="p",
    charge_mode="provided",
    deploy_mode="container",
    vpc_id="vpc",
    base_resources=[Resource(id="cce1", type="cce")],
    optional_resources=[Resource(id="elb1", type="elb"), Resource(id="dcs1", type="dcs")],
    creator="x",
    create_time=1,
    update_time=1,
)


def refer(*items):
    return [ReferResource.model_validate(i) for i in items]


def test_refer_resources():
    cce = {"id": "cce1", "type": "cce", "parameters": {"namespace": "default"}}
    rules.check_refer_resources(ENV, refer(cce, {"id": "elb1", "type": "elb"}))
    assert rules.platform_of(ENV, refer(cce)) == "cce"
    for bad in (
        [{"id": "elb1", "type": "elb"}],  # no basic resource
        [{"id": "other", "type": "cce", "parameters": {"namespace": "default"}}],  # not in the environment
        [{"id": "cce1", "type": "cce"}],  # no namespace
        [cce, cce],  # twice
        [cce, {"id": "dcs1", "type": "dcs", "refer_alias": "bogus"}],
    ):
        with pytest.raises(ServiceError) as err:
            rules.check_refer_resources(ENV, refer(*bad))
        assert err.value.status == 400


def instance(status: str, replica: int = 2, available: int = 2) -> Instance:
    return an_instance(status, replica, available)


@pytest.mark.parametrize(
    "status,action,allowed",
    [
        ("RUNNING", "stop", True),
        ("STOPPED", "stop", False),
        ("STOPPED", "start", True),
        ("RUNNING", "start", False),
        ("RUNNING", "restart", True),
        ("STOPPED", "restart", False),
        ("FAILED", "start", True),
        ("UPGRADING", "stop", False),
        ("INITIALIZING", "restart", False),
    ],
)
def test_actions_against_status(status, action, allowed):
    try:
        rules.plan_action(instance(status), InstanceAction(action=action), [])
        assert allowed
    except ServiceError as err:
        assert not allowed and err.status == 400


def test_scale_and_rollback_parameters():
    assert (
        rules.plan_action(instance("RUNNING"), InstanceAction(action="scale", parameters=InstanceActionParameters(replica=3)), []).replica
        == 3
    )
    with pytest.raises(ServiceError):
        rules.plan_action(instance("RUNNING"), InstanceAction(action="scale"), [])
    snaps = [
        Snapshot(instance_id="i1", version=v, create_time=t, flavor_id="f", replica=1)
        for v, t in (("1.0.0", 1), ("1.0.1", 2), ("1.0.0", 3))
    ]
    planned = rules.plan_action(
        instance("RUNNING"), InstanceAction(action="rollback", parameters=InstanceActionParameters(version="1.0.0")), snaps
    )
    assert planned.snapshot.create_time == 3
    with pytest.raises(ServiceError) as err:
        rules.plan_action(
            instance("RUNNING"), InstanceAction(action="rollback", parameters=InstanceActionParameters(version="2.0.0")), snaps
        )
    assert (err.value.status, err.value.code) == (404, "SVCSTG.00100436")  # Huawei: snapshot not found


def test_an_action_the_reference_does_not_define_is_00100418():
    with pytest.raises(ServiceError) as err:
        rules.plan_action(instance("RUNNING"), InstanceAction(action="reboot"), [])
    assert (err.value.status, err.value.code) == (400, "SVCSTG.00100418")
    assert err.value.message.startswith("component instance action not defined")
    # checked before the status: a busy instance does not hide it
    with pytest.raises(ServiceError) as err:
        rules.plan_action(instance("UPGRADING"), InstanceAction(action="Start"), [])
    assert err.value.code == "SVCSTG.00100418"


def test_no_artifacts_is_00100425():
    for artifacts in ({}, None):
        with pytest.raises(ServiceError) as err:
            rules.check_artifacts(artifacts or {}, "cce")
        assert (err.value.status, err.value.code) == (400, "SVCSTG.00100425")


def test_cci_is_not_a_basic_resource_to_deploy_on():
    env = ENV.model_copy(update={"optional_resources": [*ENV.optional_resources, Resource(id="cci1", type="cci")]})
    cci = {"id": "cci1", "type": "cci"}
    with pytest.raises(ServiceError) as err:
        rules.check_refer_resources(env, refer(cci))  # cci alone: no basic resource
    assert err.value.code == "SVCSTG.00100634"
    rules.check_refer_resources(env, refer({"id": "cce1", "type": "cce", "parameters": {"namespace": "n"}}, cci))


def test_status_after_failure_and_version_order():
    assert rules.status_after_failure(3, 0) == "FAILED"
    assert rules.status_after_failure(3, 1) == "PARTIALLY_FAILED"
    assert sorted(["1.0.10", "1.0.9", "1.0.0-rc.1", "1.0.0"], key=rules.version_key) == ["1.0.0-rc.1", "1.0.0", "1.0.9", "1.0.10"]


def workload(url="swr.example.com/org/web:1", env=None, replica=2) -> Workload:
    return Workload(
        project_id="p",
        instance_id="i",
        name="web",
        application_id="a",
        component_id="c",
        environment_id="e",
        platform_type="cce",
        flavor_id="f",
        version="1.0.0",
        replica=replica,
        available_replica=0,
        artifacts={"web": {"url": url}},
        configuration={"env": env} if env else {},
        refer_resources=[{"id": "cce1", "type": "cce", "parameters": {"namespace": "default"}}],
    )


class Ctx:
    attempt = 1

    def __init__(self):
        self.progress_calls = []

    async def progress(self, message, available_replica=None):
        self.progress_calls.append((message, available_replica))


def run_all(tasks):
    async def go():
        ctx = Ctx()
        results = [await t.run(ctx) for t in tasks]
        return results, ctx.progress_calls

    return asyncio.run(go())


def test_simulated_deploy_reports_replicas():
    driver = SimulatedDriver(task_seconds=0)
    tasks = driver.deploy(workload(replica=3))
    assert [t.key for t in tasks] == ["prepare", "pull_artifact", "create_workload", "wait_healthy"]
    results, progress = run_all(tasks)
    assert results[-1].available_replica == 3
    assert [a for _, a in progress if a is not None] == [1, 2, 3]


def test_simulated_failure_triggers():
    assert artifact_host("https://repo.example.invalid:8443/x.jar") == "repo.example.invalid"
    assert artifact_host("registry.invalid/org/app:1") == "registry.invalid"
    driver = SimulatedDriver(task_seconds=0)
    with pytest.raises(TaskFailed) as err:
        run_all(driver.deploy(workload(url="https://repo.example.invalid/x.jar")))
    assert "cannot be resolved" in err.value.message
    env = [{"name": "OPENSTAGE_SIMULATE_FAILURE", "value": "wait_stopped"}]
    with pytest.raises(TaskFailed) as err:
        run_all(driver.stop(workload(env=env)))
    assert "OPENSTAGE_SIMULATE_FAILURE=wait_stopped" in err.value.message
    run_all(driver.start(workload(env=env)))  # other operations are unaffected
