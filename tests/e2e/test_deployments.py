"""Real deployments through the official SDK against `openstage up` and its host agent `local`:
the example packages (examples/apps) run as real processes, observed as a user would observe
them (the processes, their ports and HTTP answers, the CSE registry, the instance's events).

The tests of this module share one `openstage up` and run in order on two instances (a web app and
a microservice); failures of bad inputs are in test_deployments_failures.py."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from tests.support.deployments import (
    HOST,
    InstanceEvents,
    act,
    all_instance_processes,
    answers,
    cce_environment,
    create_instance,
    delete_instance,
    deploy_up,
    describe_job,
    ecs_environment,
    ecs_instance,
    find_agent,
    get,
    new_target,
    package,
    port_open,
    replica_envs,
    replica_ports,
    replica_processes,
    sdk,
    show,
    signed,
    succeeded,
    up_instances,
    wait_job,
    wait_status,
    wait_until,
)

PROJECT = "deployproj"
# Short timeouts so that the module stays quick (settings of the lifecycle worker and the agent).
FAST = {"OPENSTAGE_SIMULATED_TASK_SECONDS": "0.05", "OPENSTAGE_READY_TIMEOUT_SECONDS": "20", "OPENSTAGE_REGISTRATION_TIMEOUT_SECONDS": "20"}
STARTED: list[str] = []  # every instance this module created: killed at the end whatever happened


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    with deploy_up(tmp_path_factory.mktemp("deploy"), FAST, STARTED) as running:
        yield running


@pytest.fixture(scope="module")
def client(up):
    return sdk(up, PROJECT)


@pytest.fixture(scope="module")
def registry(up):
    c = signed(up)
    yield c
    c.close()


@pytest.fixture(scope="module")
def env_id(client):
    return ecs_environment(client)


APP_CONFIG = {"GREETING": "hello from the application configuration", "SHARED": "from-app-config"}
INSTANCE_ENV = {"SHARED": "from-instance", "OWN": "instance-only"}


@pytest.fixture(scope="module")
def web(up, client, env_id):
    """The example web app, 2 replicas on host `local`, deployed once for the tests below."""
    target = new_target(client, PROJECT, env_id, config_env=APP_CONFIG)
    v1 = package(up, "hello-web", "1.0.0")
    instance_id, job_id = create_instance(target, ecs_instance(target, v1.url, replica=2, version="1.0.0", env=INSTANCE_ENV))
    STARTED.append(instance_id)
    job = wait_job(client, job_id)
    # the replicas' ports right when the job ended: both must answer already
    ports = replica_ports(instance_id)
    answering = [p for p in ports if answers(p)]
    return {"target": target, "id": instance_id, "job": job, "ports_at_success": ports, "answering_at_success": answering, "v1": v1}


def version_of(port: int) -> str:
    """What the example web app says its version is (its VERSION file)."""
    return get(port).json()["version"]


def wait_replicas(instance_id: str, n: int, timeout: float = 30.0) -> list[int]:
    """Wait until exactly n replica processes run and each answers HTTP on its port."""

    def ready():
        ports = replica_ports(instance_id)
        return ports if len(replica_processes(instance_id)) == n and len(ports) == n and all(answers(p) for p in ports) else None

    return wait_until(ready, timeout, f"{n} replicas of {instance_id} answering")


def test_web_app_job_succeeds_only_once_both_replicas_answer(web):
    job = web["job"]
    assert job.job.execution_status == "SUCCEEDED", describe_job(job)
    assert len(web["ports_at_success"]) == 2 and len(set(web["ports_at_success"])) == 2
    assert web["answering_at_success"] == web["ports_at_success"]
    for port in web["ports_at_success"]:
        assert version_of(port) == "1.0.0"
    inst = show(web["target"], web["id"])
    assert inst.status_detail.status == "RUNNING"
    assert inst.status_detail.replica == 2 and inst.status_detail.available_replica == 2
    assert not any(t.messages.startswith("simulated") for t in job.tasks), describe_job(job)


def test_each_replica_sees_configuration_instance_env_and_injected_variables(up, web):
    target = web["target"]
    names = "GREETING,SHARED,OWN,PORT,SERVICECOMB_CREDENTIALS_ACCOUNT_NAME,SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD"
    for port in web["ports_at_success"]:
        env = get(port, f"/env?names={names}").json()  # what the replica itself sees
        assert env["GREETING"] == APP_CONFIG["GREETING"]  # the application's configuration
        assert env["SHARED"] == "from-instance"  # the instance's own wins on a clash
        assert env["OWN"] == "instance-only"
        assert env["PORT"] == str(port)
        assert env["CAS_APPLICATION_NAME"] == target.application_name
        assert env["CAS_COMPONENT_NAME"] == target.component_name
        assert env["CAS_INSTANCE_VERSION"] == "1.0.0"
        assert env["CAS_ENVIRONMENT_ID"] == target.environment_id
        assert env["CAS_APPLICATION_ID"] == target.application_id
        assert env["CAS_COMPONENT_ID"] == target.component_id
        assert env["CAS_INSTANCE_ID"] == web["id"]
        assert env["PAAS_PROJECT_NAME"] == PROJECT
        for name in ("PAAS_CSE_SC_ENDPOINT", "PAAS_CSE_CC_ENDPOINT", "PAAS_CSE_ENDPOINT"):
            assert env[name].startswith("http"), (name, env[name])
        assert env["SERVICECOMB_CREDENTIALS_ACCOUNT_NAME"] == f"deploy-{PROJECT}"
        assert env["SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD"]
    # nothing of openstage's own in a replica's whole environment: no OPENSTAGE_* variable, no secret key
    envs = replica_envs(web["id"])
    assert len(envs) == 2
    secrets = {up.credential()["sk"]}
    for env in envs:
        assert not [k for k in env if k.startswith("OPENSTAGE_") or k.startswith("NATS")], sorted(env)
        assert not secrets & set(env.values())
        assert not [v for v in env.values() if "nats://" in v], "a NATS URL (with its password) reached a replica"


def test_the_registry_account_given_to_replicas_logs_in(up, web, registry):
    env = replica_envs(web["id"])[0]
    got = registry.http.post(
        f"{up.endpoint}/v4/token",
        json={"name": env["SERVICECOMB_CREDENTIALS_ACCOUNT_NAME"], "password": env["SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD"]},
    )
    assert got.status_code == 200 and got.json()["token"], got.text


def test_scale_gives_exactly_that_many_processes(client, web):
    target, iid = web["target"], web["id"]
    for n in (3, 1):
        job = succeeded(client, act(target, iid, "scale", replica=n, hosts=[HOST]))
        ports = replica_ports(iid)
        assert len(replica_processes(iid)) == n and len(ports) == n, describe_job(job)
        assert all(answers(p) for p in ports)
        inst = show(target, iid)
        assert inst.status_detail.replica == n and inst.status_detail.available_replica == n
    succeeded(client, act(target, iid, "scale", replica=2, hosts=[HOST]))
    wait_replicas(iid, 2)


def test_rolling_restart_keeps_a_replica_answering(client, web):
    target, iid = web["target"], web["id"]
    before = {p.pid for p in replica_processes(iid)}
    ports_before = replica_ports(iid)
    assert len(before) == 2
    stop = threading.Event()
    gaps: list[float] = []
    polls = [0]

    def poll():
        while not stop.is_set():
            # ports of the replicas running now (a restarted replica may get another port)
            ports = set(ports_before) | set(replica_ports(iid))
            if not any(answers(p) for p in ports):
                gaps.append(time.monotonic())
            polls[0] += 1
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        job = succeeded(client, act(target, iid, "restart"))
    finally:
        stop.set()
        poller.join(10)
    assert polls[0] > 5
    assert not gaps, f"no replica answered at {len(gaps)} polls during the restart"
    after = {p.pid for p in replica_processes(iid)}
    assert len(after) == 2 and not (after & before), describe_job(job)  # every replica was restarted
    assert show(target, iid).status_detail.status == "RUNNING"


def test_upgrade_then_rollback(up, client, web):
    from huaweicloudsdkservicestage.v2.model import ChangeInstanceRequest, InstanceModify

    target, iid = web["target"], web["id"]
    v2 = package(up, "hello-web", "2.0.0")
    body = InstanceModify(
        version="2.0.0", artifacts={target.component_name: {"storage": "obs", "type": "package", "url": v2.url, "auth": "none"}}
    )
    job = succeeded(client, client.change_instance(ChangeInstanceRequest(instance_id=iid, body=body, **target.ids())).job_id)
    ports = replica_ports(iid)
    assert len(ports) == 2, describe_job(job)
    assert all(version_of(p) == "2.0.0" for p in ports), [version_of(p) for p in ports]
    assert all(e["CAS_INSTANCE_VERSION"] == "2.0.0" for e in replica_envs(iid))

    job = succeeded(client, act(target, iid, "rollback", version="1.0.0"))
    ports = replica_ports(iid)
    assert len(ports) == 2, describe_job(job)
    assert all(version_of(p) == "1.0.0" for p in ports), [version_of(p) for p in ports]
    inst = show(target, iid)
    assert inst.version == "1.0.0" and inst.status_detail.status == "RUNNING"


def test_a_killed_replica_makes_the_instance_degraded_then_running_again(up, web):
    target, iid = web["target"], web["id"]
    wait_replicas(iid, 2)
    victim = replica_processes(iid)[0]
    with InstanceEvents(up, PROJECT) as events:
        os.kill(victim.pid, signal.SIGKILL)

        def back():
            seen = [s for s, _ in events.statuses(iid)]
            return seen if ("DOWN" in seen or "PARTIALLY_FAILED" in seen) and seen[-1] == "RUNNING" else None

        wait_until(back, 30, "instance events DOWN/PARTIALLY_FAILED then RUNNING")
        degraded = [(s, d) for s, d in events.statuses(iid) if s in ("DOWN", "PARTIALLY_FAILED")]
    assert degraded[0][1], f"a degraded instance says why (fail_detail): {degraded}"
    wait_replicas(iid, 2)
    assert victim.pid not in {p.pid for p in replica_processes(iid)}
    inst = show(target, iid)
    assert inst.status_detail.status == "RUNNING" and inst.status_detail.available_replica == 2


def agent_process(up) -> psutil.Process:
    """The `openstage agent` process `openstage up` started on its data directory."""
    return wait_until(lambda: find_agent(up.data_dir), 20, "the agent process of openstage up")


def test_killed_agent_comes_back_with_its_replicas(up, web):
    target, iid = web["target"], web["id"]
    wait_replicas(iid, 2)
    agent = agent_process(up)
    os.kill(agent.pid, signal.SIGKILL)
    wait_until(lambda: agent_process(up).pid != agent.pid, 30, "a new agent process")
    wait_replicas(iid, 2, timeout=40)
    wait_status(target, iid, {"RUNNING"}, timeout=30)


def test_microservice_registers_stops_and_starts(up, client, env_id, registry):
    target = new_target(client, PROJECT, env_id, category="MicroService")
    pkg = package(up, "hello-microservice", "1.0.0")
    iid, job_id = create_instance(target, ecs_instance(target, pkg.url, replica=2, version="1.0.0"))
    STARTED.append(iid)
    job = succeeded(client, job_id)
    # the job waited for the registry: 2 UP instances right when it ended
    registered = up_instances(registry, PROJECT, target.component_name)
    assert len(registered) == 2, (describe_job(job), registered)
    ports = replica_ports(iid)
    assert len(ports) == 2

    succeeded(client, act(target, iid, "stop"))
    assert not all_instance_processes(iid)
    assert not [p for p in ports if port_open(p)]
    assert not up_instances(registry, PROJECT, target.component_name)
    inst = show(target, iid)
    assert inst.status_detail.status == "STOPPED" and inst.status_detail.available_replica == 0

    succeeded(client, act(target, iid, "start"))
    assert len(replica_processes(iid)) == 2
    assert len(up_instances(registry, PROJECT, target.component_name)) == 2
    assert show(target, iid).status_detail.status == "RUNNING"

    succeeded(client, delete_instance(target, iid))
    assert not all_instance_processes(iid)


def test_delete_leaves_no_process_and_no_directory(up, client, web):
    target, iid = web["target"], web["id"]
    ports = replica_ports(iid)
    succeeded(client, delete_instance(target, iid))
    assert not all_instance_processes(iid)
    assert not [p for p in ports if port_open(p)]
    assert not [p for p in up.data_dir.rglob(f"*{iid}*")], "working directories, logs or state left"


def test_lifecycle_hooks_run_after_start_and_before_stop(up, client, env_id):
    """post-start and pre-stop as the SDK sends them (ConfigurationLifecycle: "post-start", "pre-stop"),
    run in the replica's working directory."""
    from huaweicloudsdkservicestage.v2.model import (
        ConfigurationLifecycle,
        InstanceConfiguration,
        LifecycleProcess,
        LifecycleProcessParameter,
    )

    def hook(script: str) -> LifecycleProcess:
        return LifecycleProcess(type="command", parameters=LifecycleProcessParameter(command=["sh", "-c", script]))

    target = new_target(client, PROJECT, env_id)
    body = ecs_instance(target, package(up, "hello-web", "1.0.0").url, replica=1)
    body.configuration = InstanceConfiguration(
        lifecycle=ConfigurationLifecycle(post_start=hook('echo "$PORT" > post-start.txt'), pre_stop=hook("echo stopping > pre-stop.txt"))
    )
    iid, job_id = create_instance(target, body)
    STARTED.append(iid)
    succeeded(client, job_id)
    port = replica_ports(iid)[0]

    def written(name: str) -> list:
        return [p for p in up.data_dir.rglob(name) if iid in p.parts]

    started = wait_until(lambda: written("post-start.txt"), 10, "the post-start hook's file")
    assert started[0].read_text().strip() == str(port)
    succeeded(client, act(target, iid, "stop"))
    assert written("pre-stop.txt"), "the pre-stop hook did not run before the stop"
    succeeded(client, delete_instance(target, iid))


def test_cce_target_is_simulated_and_says_so(client):
    target = new_target(client, PROJECT, cce_environment(client))
    from huaweicloudsdkservicestage.v2.model import InstanceCreate, ReferResourceCreate

    body = InstanceCreate(
        name="sim",
        environment_id=target.environment_id,
        flavor_id="MICRO-5G:0.5C:1G",
        replica=2,
        version="1.0.0",
        artifacts={target.component_name: {"storage": "swr", "type": "image", "url": "swr.example.com/org/web:1.0.0", "auth": "iam"}},
        refer_resources=[ReferResourceCreate(id="cce-cluster-1", type="cce", parameters={"namespace": "default"})],
    )
    iid, job_id = create_instance(target, body)
    job = succeeded(client, job_id)
    assert job.tasks and all(t.messages.startswith("simulated: ") for t in job.tasks), describe_job(job)
    assert not all_instance_processes(iid)
    assert show(target, iid).status_detail.status == "RUNNING"
