"""The process driver with a real host agent: a system of its own (nats-server, nx-27017, every
worker, the edge and the local agent `openstage agent --host-id local`), an environment whose base
resource is the ecs host ``local``, and a Python package (app.py serving its environment as JSON on
$PORT) fetched from a file:// URL.

Covers: a deploy of 2 replicas on host ``local`` ends SUCCEEDED with both replicas READY; the
environment precedence (application configuration < instance env < platform variables); a replica
killed behind the agent's back makes the instance PARTIALLY_FAILED (an event) and then RUNNING
again; a microservice whose replicas never register fails its job naming them; stop and delete;
a cce target keeps the simulated driver, whose messages say so."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import tarfile
import time
import urllib.request
from pathlib import Path

import nats
import pytest
from huaweicloudsdkservicestage.v2.model import (
    ApplicationConfigModify,
    ApplicationConfigModifyConfiguration,
    ApplicationConfigModifyConfigurationEnv,
    ApplicationCreate,
    ChangeApplicationConfigurationRequest,
    ComponentCreate,
    CreateApplicationRequest,
    CreateComponentRequest,
    CreateEnvironmentRequest,
    CreateInstanceRequest,
    DeleteInstanceRequest,
    EnvironmentCreate,
    InstanceAction,
    InstanceCreate,
    ReferResourceCreate,
    Resource,
    ShowJobDetailRequest,
    UpdateInstanceActionRequest,
)
from huaweicloudsdkservicestage.v2.model import ShowInstanceDetailRequest as ShowInstance
from pymongo import MongoClient

from openstage.processes import System, free_port
from services.adapters.agent_client import AgentClient
from services.adapters.store.mongo import database_name
from services.contracts.agent import InstanceReplicas, InstanceStatusQuery
from tests.support.deploy import Target, instance_body, unique, wait_job
from tests.support.system import credentials_json, make_sdk, tokens_json
from workers import WORKERS

PROJECT = "procproj"
APP_PY = """\
import http.server, json, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(dict(os.environ)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("process-driver")
    env = {
        "OPENSTAGE_CREDENTIALS": credentials_json(),
        "OPENSTAGE_TOKENS": tokens_json(),
        "OPENSTAGE_REQUEST_TIMEOUT": "3",
        "OPENSTAGE_SIMULATED_TASK_SECONDS": "0.05",
        "OPENSTAGE_AGENT_ANNOUNCE_SECONDS": "0.5",
        "OPENSTAGE_READY_TIMEOUT_SECONDS": "30",
        "OPENSTAGE_REGISTRATION_TIMEOUT_SECONDS": "3",
        "OPENSTAGE_LOG_LEVEL": "INFO",
    }
    sysm = System(data_dir=data_dir, port=free_port(), env=env, log_dir=data_dir / "logs", local_agent=True)
    try:
        sysm.start(list(WORKERS))
        sysm.wait_ready(timeout=60)
        with MongoClient(sysm.mongodb_url) as mc:  # the lifecycle worker knows host "local"
            hosts = mc[database_name("openstage", "lifecycle")].hosts
            deadline = time.monotonic() + 30
            while hosts.find_one({"_id": "local"}) is None:
                assert time.monotonic() < deadline, "the lifecycle worker never heard of host local"
                time.sleep(0.1)
        yield sysm
    finally:
        sysm.stop()


@pytest.fixture(scope="module")
def client(system):
    return make_sdk(f"http://127.0.0.1:{system.port}", PROJECT)


def package_url(system: System) -> str:
    path = Path(system.data_dir) / "artifacts" / "envapp.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = APP_PY.encode()
        info = tarfile.TarInfo("app.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path.resolve().as_uri()


class VmTarget:
    """An environment on the ecs host ``local`` and an application with one Python3 component."""

    def __init__(self, client, category: str = "Webapp") -> None:
        env = client.create_environment(
            CreateEnvironmentRequest(
                body=EnvironmentCreate(
                    name=unique("vmenv"), deploy_mode="virtualmachine", vpc_id="vpc-1", base_resources=[Resource(id="local", type="ecs")]
                )
            )
        )
        self.environment_id = env.id
        self.application_name = unique("shop")
        self.application_id = client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=self.application_name))).id
        self.component_name = unique("envapp")
        self.component_id = client.create_component(
            CreateComponentRequest(
                application_id=self.application_id, body=ComponentCreate(name=self.component_name, runtime="Python3", category=category)
            )
        ).id

    def ids(self) -> dict:
        return {"application_id": self.application_id, "component_id": self.component_id}

    def body(self, url: str, replica: int = 2, env: list | None = None) -> InstanceCreate:
        return InstanceCreate(
            name=unique("inst"),
            environment_id=self.environment_id,
            flavor_id="MICRO-5G:0.5C:1G",
            replica=replica,
            artifacts={self.component_name: {"storage": "obs", "type": "package", "url": url, "auth": "none"}},
            version="1.0.0",
            refer_resources=[ReferResourceCreate(id="local", type="ecs", parameters={"hosts": ["local"]})],
            configuration={
                "env": env or [],
                # READY once app.py answers on its PORT (the agent's http probe, port defaulting to PORT)
                "probes": {"readiness_probe": {"type": "http", "delay": 0, "timeout": 2, "parameters": {"path": "/"}}},
            },
        )


def replicas(system: System, instance_id: str) -> InstanceReplicas:
    async def ask() -> InstanceReplicas:
        nc = await nats.connect(system.nats_url)
        try:
            return await AgentClient(nc).status("local", InstanceStatusQuery(project_id=PROJECT, instance_id=instance_id), timeout=5)
        finally:
            await nc.close()

    return asyncio.run(ask())


def environment_of(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        return json.loads(r.read())


def show(client, target, instance_id: str):
    return client.show_instance_detail(ShowInstance(instance_id=instance_id, **target.ids()))


def act(client, target, instance_id: str, action: str):
    body = InstanceAction(action=action)
    return client.update_instance_action(UpdateInstanceActionRequest(instance_id=instance_id, body=body, **target.ids())).job_id


class StatusEvents:
    """The statuses of an instance's ``instance.status_changed`` events, as a core NATS subscriber sees them."""

    def __init__(self, system: System, instance_id: str) -> None:
        self.statuses: list[tuple[str, str | None]] = []
        self.unknown = asyncio.Event()  # set when an UNKNOWN event arrives (made anew by collect_while)
        self._system, self._instance_id = system, instance_id

    async def collect_while(self, until, timeout: float) -> None:
        nc = await nats.connect(self._system.nats_url)
        back = asyncio.Event()
        self.unknown = asyncio.Event()
        try:

            async def on(msg) -> None:
                data = json.loads(msg.data)["data"]
                if data["id"] == self._instance_id:
                    self.statuses.append((data["status_detail"]["status"], data["status_detail"].get("fail_detail")))
                    if len(self.statuses) >= 2 and self.statuses[-1][0] == "RUNNING":
                        back.set()
                    if self.statuses[-1][0] == "UNKNOWN":
                        self.unknown.set()

            await nc.subscribe(f"openstage.evt.{PROJECT}.lifecycle.instance.status_changed", cb=on)
            await nc.flush()
            await until()
            try:
                await asyncio.wait_for(back.wait(), timeout)
            except TimeoutError:
                pass  # the caller's assertions say what was seen
        finally:
            await nc.close()


def test_deploy_two_replicas_with_the_environment_in_order_then_a_crash_then_stop_and_delete(system, client):
    target = VmTarget(client)
    client.change_application_configuration(
        ChangeApplicationConfigurationRequest(
            application_id=target.application_id,
            body=ApplicationConfigModify(
                environment_id=target.environment_id,
                configuration=ApplicationConfigModifyConfiguration(
                    env=[
                        ApplicationConfigModifyConfigurationEnv(name=n, value=v)
                        for n, v in [("LEVEL", "application"), ("FROM_APP", "a"), ("CAS_INSTANCE_ID", "app-says")]
                    ]
                ),
            ),
        )
    )
    env = [{"name": "LEVEL", "value": "instance"}, {"name": "FROM_INSTANCE", "value": "i"}, {"name": "PAAS_PROJECT_NAME", "value": "x"}]
    created = client.create_instance(CreateInstanceRequest(body=target.body(package_url(system), env=env), **target.ids()))
    job = wait_job(client, created.job_id, timeout=60)
    assert job.job.execution_status == "SUCCEEDED", [(t.task_name, t.messages) for t in job.tasks]
    keys = [t.task_name for t in job.tasks]
    assert keys == [
        "Place replicas on hosts",
        "Fetch the software package",
        "Start replicas",
        "Wait for replicas to be ready",
        "Wait for registration",
    ]
    messages = " | ".join(t.messages or "" for t in job.tasks)
    assert "simulated" not in messages and "python3 app.py" in messages and "2/2 replicas ready" in messages
    assert "is not a microservice" in messages
    inst = show(client, target, created.instance_id)
    assert (inst.status_detail.status, inst.status_detail.available_replica) == ("RUNNING", 2)

    got = replicas(system, created.instance_id)
    assert sorted(r.index for r in got.replicas) == [0, 1] and {r.phase.value for r in got.replicas} == {"ready"}
    for r in got.replicas:
        seen = environment_of(r.port)
        assert seen["PORT"] == str(r.port)
        assert seen["LEVEL"] == "instance" and seen["FROM_APP"] == "a" and seen["FROM_INSTANCE"] == "i"
        assert seen["CAS_INSTANCE_ID"] == created.instance_id and seen["PAAS_PROJECT_NAME"] == PROJECT  # the platform's win
        assert seen["CAS_APPLICATION_NAME"] == target.application_name and seen["CAS_COMPONENT_NAME"] == target.component_name
        assert seen["CAS_ENVIRONMENT_ID"] == target.environment_id and seen["CAS_INSTANCE_VERSION"] == "1.0.0"
        assert seen["PAAS_CSE_SC_ENDPOINT"] == f"http://127.0.0.1:{system.port}" == seen["PAAS_CSE_CC_ENDPOINT"]
        assert seen["SERVICECOMB_CREDENTIALS_ACCOUNT_NAME"] == f"deploy-{PROJECT}" and seen["SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD"]

    # a replica killed behind the agent's back: PARTIALLY_FAILED (with why), then RUNNING again
    victim = next(r for r in got.replicas if r.index == 1)
    events = StatusEvents(system, created.instance_id)

    async def kill() -> None:
        os.kill(victim.pid, signal.SIGKILL)

    asyncio.run(events.collect_while(kill, timeout=30))
    statuses = [s for s, _ in events.statuses]
    assert statuses[0] in ("PARTIALLY_FAILED", "DOWN") and statuses[-1] == "RUNNING", events.statuses
    assert "PARTIALLY_FAILED" in statuses and "replica 1 on host local" in (events.statuses[0][1] or ""), events.statuses
    inst = show(client, target, created.instance_id)
    assert (inst.status_detail.status, inst.status_detail.available_replica, inst.status_detail.fail_detail) == ("RUNNING", 2, None)

    stopped = wait_job(client, act(client, target, created.instance_id, "stop"), timeout=60)
    assert stopped.job.execution_status == "SUCCEEDED" and "stopped 2 replicas" in stopped.tasks[0].messages
    assert show(client, target, created.instance_id).status_detail.status == "STOPPED"
    assert {r.phase.value for r in replicas(system, created.instance_id).replicas} <= {"stopped"}

    started = wait_job(client, act(client, target, created.instance_id, "start"), timeout=60)
    assert started.job.execution_status == "SUCCEEDED", [(t.task_name, t.messages) for t in started.tasks]
    assert show(client, target, created.instance_id).status_detail.status == "RUNNING"

    deleted = wait_job(client, client.delete_instance(DeleteInstanceRequest(instance_id=created.instance_id, **target.ids())).job_id)
    assert deleted.job.execution_status == "SUCCEEDED" and "removed from host local" in deleted.tasks[0].messages
    assert "expires with its heartbeat" in deleted.tasks[0].messages
    assert replicas(system, created.instance_id).replicas == []


def test_a_microservice_whose_replicas_never_register_fails_naming_them(system, client):
    target = VmTarget(client, category="MicroService")
    created = client.create_instance(CreateInstanceRequest(body=target.body(package_url(system), replica=1), **target.ids()))
    job = wait_job(client, created.job_id, timeout=60)
    assert job.job.execution_status == "FAILED"
    failed = [t for t in job.tasks if t.task_status == "FAILED"]
    assert [t.task_name for t in failed] == ["Wait for registration"]
    message = failed[0].messages
    assert re.search(
        rf"1 replica never registered in the registry of project {PROJECT} within 3s: replica 0 on host local \(port \d+\)", message
    )
    # a failed deploy leaves nothing behind on the host
    assert "the deployment's replicas were stopped and removed" in message
    assert replicas(system, created.instance_id).replicas == []
    assert show(client, target, created.instance_id).status_detail.status == "FAILED"
    wait_job(client, client.delete_instance(DeleteInstanceRequest(instance_id=created.instance_id, **target.ids())).job_id)


def test_a_cce_target_keeps_the_simulated_driver_and_says_so(system, client):
    target = Target(client)
    created = client.create_instance(CreateInstanceRequest(body=instance_body(target, replica=1), **target.ids()))
    job = wait_job(client, created.job_id)
    assert job.job.execution_status == "SUCCEEDED"
    assert job.tasks and all((t.messages or "").startswith("simulated: ") for t in job.tasks), [t.messages for t in job.tasks]
    assert client.show_job_detail(ShowJobDetailRequest(job_id=created.job_id)).job.execution_status == "SUCCEEDED"


def test_an_instance_on_a_host_that_does_not_serve_its_project_is_refused(system, client):
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    from services.contracts import subjects
    from services.contracts.agent import HostAnnouncement

    async def announce() -> None:  # a host whose agent serves another project only
        nc = await nats.connect(system.nats_url)
        try:
            a = HostAnnouncement(
                host_id="billing-vm",
                projects=["billing"],
                address="10.0.0.9",
                cpus=2,
                memory_mb=2048,
                replicas=0,
                started_at=1,
                announce_seconds=30,
            )
            await nc.publish(subjects.agent_announce("billing-vm"), a.model_dump_json().encode())
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(announce())
    with MongoClient(system.mongodb_url) as mc:  # known to the lifecycle worker
        hosts = mc[database_name("openstage", "lifecycle")].hosts
        deadline = time.monotonic() + 10
        while hosts.find_one({"_id": "billing-vm"}) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    env = client.create_environment(
        CreateEnvironmentRequest(
            body=EnvironmentCreate(
                name=unique("vmenv"), deploy_mode="virtualmachine", vpc_id="vpc-1", base_resources=[Resource(id="billing-vm", type="ecs")]
            )
        )
    )
    target = VmTarget(client)
    body = target.body("file:///nowhere/app.tar.gz", replica=1)
    body.environment_id = env.id
    body.refer_resources = [ReferResourceCreate(id="billing-vm", type="ecs", parameters={"hosts": ["billing-vm"]})]
    with pytest.raises(ClientRequestException) as refused:
        client.create_instance(CreateInstanceRequest(body=body, **target.ids()))
    assert refused.value.status_code == 400
    assert f"host billing-vm does not serve project {PROJECT}" in refused.value.error_msg


def test_a_silent_agent_makes_its_instances_unknown_and_its_restart_brings_them_back(system, client):
    target = VmTarget(client)
    created = client.create_instance(CreateInstanceRequest(body=target.body(package_url(system), replica=1), **target.ids()))
    assert wait_job(client, created.job_id, timeout=60).job.execution_status == "SUCCEEDED"
    events = StatusEvents(system, created.instance_id)

    async def kill_the_agent_then_start_it_again() -> None:
        agent = system.children["agent-local"].proc
        agent.send_signal(signal.SIGKILL)  # its replicas die with it (parent-death signal)
        await asyncio.to_thread(agent.wait, 10)
        await asyncio.wait_for(events.unknown.wait(), 20)  # silent for 3 x 0.5 s
        system.start_agent()  # it applies its persisted desired state again

    asyncio.run(events.collect_while(kill_the_agent_then_start_it_again, timeout=40))
    statuses = [s for s, _ in events.statuses]
    assert statuses[0] == "UNKNOWN" and "host local has not been heard from" in (events.statuses[0][1] or ""), events.statuses
    assert statuses[-1] == "RUNNING", events.statuses
    assert {r.phase.value for r in replicas(system, created.instance_id).replicas} == {"ready"}
    wait_job(client, client.delete_instance(DeleteInstanceRequest(instance_id=created.instance_id, **target.ids())).job_id)
