"""Real deployments in end-to-end tests: an `openstage up` with its host agent `local`, targets on
that host (an ecs environment, an application with configuration, a Python3 component), instance
bodies from the example packages (file:// under the data directory's artifacts/), and what a test
observes of the result as a user would: the replica processes (psutil: a process whose environment
names the instance), their ports and HTTP answers, the registry, the instance's events (core NATS,
the credential's own subscription to its project's events)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import psutil
from huaweicloudsdkservicestage.v2 import ServiceStageClient
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
    InstanceActionParameters,
    InstanceCreate,
    ReferResourceCreate,
    Resource,
    ShowInstanceDetailRequest,
    ShowJobDetailRequest,
    UpdateInstanceActionRequest,
)

from openstage.processes import free_port
from services.contracts.jobs import TERMINAL
from tests.support.cli import TOKEN, UpForCli
from tests.support.deploy import unique
from tests.support.signing import SignedClient
from tests.support.system import Cred, make_sdk
from tests.support.up_command import UpRuns, wait_ready

HOST = "local"  # the host id of the agent `openstage up` starts
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "apps"


# --- the system ----------------------------------------------------------------------------------
def start_deploy_up(runs: UpRuns, workdir: Path, port: int, extra_env: dict[str, str] | None = None) -> UpForCli:
    """`openstage up` (data directory <workdir>/.openstage) as a user starts it, plus ``extra_env``
    (short probe and registration timeouts)."""
    env = {"OPENSTAGE_TOKENS": json.dumps([{"token": TOKEN, "projects": ["demo"]}]), **(extra_env or {})}
    proc = runs.start(workdir / ".openstage", port, env)
    return UpForCli(workdir, port, "".join(wait_ready(proc)))


def sdk(up: UpForCli, project: str) -> ServiceStageClient:
    cred = up.credential()
    return make_sdk(up.endpoint, project, Cred(cred["ak"], cred["sk"], ("*",)))


@contextmanager
def deploy_up(workdir: Path, extra_env: dict[str, str], started: list[str]) -> Iterator[UpForCli]:
    """A module's `openstage up` (start_deploy_up on a free port); at the end it is stopped and
    every replica of the instances in ``started`` is killed, whatever happened."""
    runs = UpRuns()
    try:
        yield start_deploy_up(runs, workdir, free_port(), extra_env)
    finally:
        runs.cleanup()
        kill_instance_processes(started)


def signed(up: UpForCli) -> SignedClient:
    cred = up.credential()
    return SignedClient(up.endpoint, cred["ak"], cred["sk"])


# --- packages ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Package:
    url: str  # file://...
    path: Path
    sha256: str


def package(up: UpForCli, app: str, version: str) -> Package:
    """The example app ``app`` (examples/apps/<app>) packed as a .tar.gz whose VERSION says
    ``version``, under the data directory's artifacts/ (the default allowed directory)."""
    from tests.support.example_packages import build_package  # helper B's module

    dest = up.data_dir / "artifacts"
    dest.mkdir(parents=True, exist_ok=True)
    path = build_package(app, dest, version)
    return Package(path.resolve().as_uri(), path, hashlib.sha256(path.read_bytes()).hexdigest())


# --- what is deployed ----------------------------------------------------------------------------
@dataclass
class Target:
    """An environment on host ``local``, an application with configuration in it, one component."""

    client: ServiceStageClient
    project: str
    environment_id: str
    application_id: str
    application_name: str
    component_id: str
    component_name: str
    config_env: dict[str, str] = field(default_factory=dict)

    def ids(self) -> dict[str, str]:
        return {"application_id": self.application_id, "component_id": self.component_id}


def ecs_environment(client: ServiceStageClient, host: str = HOST) -> str:
    body = EnvironmentCreate(
        name=unique("env"), deploy_mode="virtualmachine", vpc_id="vpc-1", base_resources=[Resource(id=host, type="ecs")]
    )
    return client.create_environment(CreateEnvironmentRequest(body=body)).id


def cce_environment(client: ServiceStageClient, cluster: str = "cce-cluster-1") -> str:
    body = EnvironmentCreate(name=unique("env"), deploy_mode="container", vpc_id="vpc-1", base_resources=[Resource(id=cluster, type="cce")])
    return client.create_environment(CreateEnvironmentRequest(body=body)).id


def set_app_config(client: ServiceStageClient, application_id: str, environment_id: str, variables: dict[str, str]) -> None:
    client.change_application_configuration(
        ChangeApplicationConfigurationRequest(
            application_id=application_id,
            body=ApplicationConfigModify(
                environment_id=environment_id,
                configuration=ApplicationConfigModifyConfiguration(
                    env=[ApplicationConfigModifyConfigurationEnv(name=n, value=v) for n, v in variables.items()]
                ),
            ),
        )
    )


def new_target(
    client: ServiceStageClient,
    project: str,
    environment_id: str,
    runtime: str = "Python3",
    category: str = "Webapp",
    sub_category: str | None = None,
    config_env: dict[str, str] | None = None,
) -> Target:
    app_name = unique("app")
    app_id = client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=app_name))).id
    if config_env:
        set_app_config(client, app_id, environment_id, config_env)
    comp = ComponentCreate(name=unique("comp"), runtime=runtime, category=category)
    if sub_category:
        comp.sub_category = sub_category
    created = client.create_component(CreateComponentRequest(application_id=app_id, body=comp))
    return Target(client, project, environment_id, app_id, app_name, created.id, created.name, dict(config_env or {}))


def package_artifact(url: str, sha256: str | None = None) -> dict[str, Any]:
    art: dict[str, Any] = {"storage": "obs", "type": "package", "url": url, "auth": "none"}
    if sha256 is not None:
        art["properties"] = {"sha256": sha256}
    return art


def ecs_instance(
    target: Target,
    url: str,
    replica: int = 2,
    version: str = "1.0.0",
    env: dict[str, str] | None = None,
    sha256: str | None = None,
    hosts: list[str] | None = None,
    host: str = HOST,
    **configuration: Any,
) -> InstanceCreate:
    """An instance body on the ecs host ``host``; ``configuration`` adds sections (lifecycle, probes)."""
    body = InstanceCreate(
        name=unique("inst"),
        environment_id=target.environment_id,
        flavor_id="MICRO-5G:0.5C:1G",
        replica=replica,
        artifacts={target.component_name: package_artifact(url, sha256)},
        version=version,
        refer_resources=[ReferResourceCreate(id=host, type="ecs", parameters={"hosts": hosts or [host]})],
    )
    conf: dict[str, Any] = dict(configuration)
    if env:
        conf["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if conf:
        body.configuration = conf
    return body


def create_instance(target: Target, body: InstanceCreate) -> tuple[str, str]:
    """(instance id, job id)"""
    created = target.client.create_instance(CreateInstanceRequest(body=body, **target.ids()))
    return created.instance_id, created.job_id


def act(target: Target, instance_id: str, action: str, **params: Any) -> str:
    body = InstanceAction(action=action, parameters=InstanceActionParameters(**params) if params else None)
    return target.client.update_instance_action(UpdateInstanceActionRequest(instance_id=instance_id, body=body, **target.ids())).job_id


def delete_instance(target: Target, instance_id: str) -> str:
    return target.client.delete_instance(DeleteInstanceRequest(instance_id=instance_id, **target.ids())).job_id


def wait_job(client: ServiceStageClient, job_id: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = client.show_job_detail(ShowJobDetailRequest(job_id=job_id))
        if last.job.execution_status in TERMINAL:
            return last
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end in {timeout}s: {describe_job(last)}")


def describe_job(job: Any) -> str:
    if job is None:
        return "no job"
    tasks = "; ".join(f"{t.task_name} {t.task_status}: {t.messages}" for t in job.tasks or [])
    return f"{job.job.execution_status} [{tasks}]"


def succeeded(client: ServiceStageClient, job_id: str, timeout: float = 60.0) -> Any:
    job = wait_job(client, job_id, timeout)
    assert job.job.execution_status == "SUCCEEDED", describe_job(job)
    return job


def failed_messages(job: Any) -> str:
    """The messages of the job's failed tasks (what a user reads as the cause)."""
    assert job.job.execution_status == "FAILED", describe_job(job)
    return " | ".join(t.messages or "" for t in job.tasks if t.task_status == "FAILED")


def show(target: Target, instance_id: str) -> Any:
    return target.client.show_instance_detail(ShowInstanceDetailRequest(instance_id=instance_id, **target.ids()))


def wait_status(target: Target, instance_id: str, statuses: set[str], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    inst = None
    while time.monotonic() < deadline:
        inst = show(target, instance_id)
        if inst.status_detail.status in statuses:
            return inst
        time.sleep(0.2)
    raise AssertionError(f"instance {instance_id} not in {statuses} after {timeout}s: {inst and inst.status_detail}")


# --- the replicas as processes -------------------------------------------------------------------
def _env_of(p: psutil.Process) -> dict[str, str]:
    try:
        if p.status() == psutil.STATUS_ZOMBIE:
            return {}
        return p.environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return {}


def replica_processes(instance_id: str) -> list[psutil.Process]:
    """The live processes started for the instance's replicas: those whose environment carries
    CAS_INSTANCE_ID=<instance id>, one per replica (a child of such a process, e.g. under a shell
    wrapper, is not counted again)."""
    found = {p.pid: p for p in psutil.process_iter() if _env_of(p).get("CAS_INSTANCE_ID") == instance_id}
    out = []
    for p in found.values():
        try:
            if p.ppid() not in found:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def replica_envs(instance_id: str) -> list[dict[str, str]]:
    return [e for e in (_env_of(p) for p in replica_processes(instance_id)) if e]


def replica_ports(instance_id: str) -> list[int]:
    return sorted(int(e["PORT"]) for e in replica_envs(instance_id) if e.get("PORT", "").isdigit())


def all_instance_processes(instance_id: str) -> list[psutil.Process]:
    """Every live process (replicas and anything they started) of the instance."""
    return [p for p in psutil.process_iter() if _env_of(p).get("CAS_INSTANCE_ID") == instance_id]


def kill_instance_processes(instance_ids: list[str]) -> None:
    """Test clean-up: whatever a failing test left running."""
    wanted = set(instance_ids)
    for p in psutil.process_iter():
        if _env_of(p).get("CAS_INSTANCE_ID") in wanted:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not true after {timeout}s (last: {last!r})")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def get(port: int, path: str = "/", timeout: float = 2.0) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=timeout)


def answers(port: int, path: str = "/") -> bool:
    try:
        return get(port, path).status_code == 200
    except httpx.HTTPError:
        return False


def working_dirs(data_dir: Path, instance_id: str) -> list[Path]:
    """Directories under the data directory named after the instance (its replicas' working
    directories and logs, wherever the agent keeps them)."""
    return [p for p in data_dir.rglob(f"*{instance_id}*") if p.is_dir()]


# --- the registry --------------------------------------------------------------------------------
def registry_instances(client: SignedClient, project: str, service_name: str) -> list[dict[str, Any]]:
    """Every instance registered for micro-services named ``service_name`` in the project's registry."""
    services = client.get(f"/v4/{project}/registry/microservices").json().get("services") or []
    out: list[dict[str, Any]] = []
    for s in services:
        if s.get("serviceName") != service_name:
            continue
        got = client.get(f"/v4/{project}/registry/microservices/{s['serviceId']}/instances")
        if got.status_code == 200:
            out.extend(got.json().get("instances") or [])
    return out


def up_instances(client: SignedClient, project: str, service_name: str) -> list[dict[str, Any]]:
    return [i for i in registry_instances(client, project, service_name) if i.get("status") == "UP"]


# --- instance events -----------------------------------------------------------------------------
class InstanceEvents:
    """The project's instance CloudEvents as they happen (a core NATS subscription with the
    credential `openstage up` generated: user AK, password SK), collected in a background thread."""

    def __init__(self, up: UpForCli, project: str) -> None:
        self.up = up
        self.subject = f"openstage.evt.{project}.lifecycle.instance.>"
        self.events: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> InstanceEvents:
        self._thread.start()
        assert self._ready.wait(10), "no subscription to instance events"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _run(self) -> None:
        cred = self.up.credential()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nc = await nats.connect(self.up.nats_url, user=cred["ak"], password=cred["sk"])
        try:

            async def on_msg(msg: Any) -> None:
                self.events.append(json.loads(msg.data))

            await nc.subscribe(self.subject, cb=on_msg)
            await nc.flush()
            self._ready.set()
            await self._stop.wait()
        finally:
            await nc.close()

    def statuses(self, instance_id: str) -> list[tuple[str, str]]:
        """(status, fail_detail) of each event of the instance, in order, repeats collapsed."""
        out: list[tuple[str, str]] = []
        for e in list(self.events):
            data = e.get("data") or {}
            if data.get("id") != instance_id:
                continue
            detail = data.get("status_detail") or {}
            item = (detail.get("status") or "", detail.get("fail_detail") or "")
            if not out or out[-1][0] != item[0]:
                out.append(item)
        return out


def find_agent(data_dir: Path) -> psutil.Process | None:
    """The live `openstage agent` process of an `openstage up` on ``data_dir`` (its command line
    says `agent`; it names the data directory in its arguments or its OPENSTAGE_DATA_DIR)."""
    for p in psutil.process_iter():
        try:
            cmd = p.cmdline()
            if "agent" not in cmd or p.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(a == str(data_dir) or a.startswith(f"{data_dir}/") for a in cmd) or _env_of(p).get("OPENSTAGE_DATA_DIR") == str(
                data_dir
            ):
                return p
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None
