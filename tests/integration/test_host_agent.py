"""`openstage agent` as a user of the bus sees it: a real nats-server with the agent's own NATS
user, the agent as a process, replicas as processes answering HTTP on their ports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import nats
import pytest

from openstage.processes import Child, System, free_port, port_open, spawn, start_nats, stop, write_nats_config
from services.adapters import nats_auth
from services.contracts import subjects
from services.contracts.agent import (
    AgentReply,
    ApplyReplicas,
    ArtifactSpec,
    FetchArtifact,
    FetchedArtifact,
    HostAnnouncement,
    InstanceReplicas,
    LifecycleHook,
    LogChunk,
    Probe,
    ReadLogs,
    RemoveInstance,
    ReplicaChange,
    ReplicaPhase,
    ReplicaSpec,
    RestartReplica,
    StopReplicas,
)
from tests.support.system import TENANT_A

HOST = "t1"
OTHER_HOST = "t2"
AGENT_PASSWORD = "agent-secret-password-0123456789"
OTHER_PASSWORD = "other-agent-password-0123456789"
INTERNAL_PASSWORD = "internal-password-0123456789"
PROJECT = "p1"

SERVER = """
import http.server, json, os, signal, sys
port = int(os.environ["PORT"])
print(f"hello from the replica on port {port}", flush=True)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


class Bus:
    """The internal user's connection, recording every ReplicaChange and announcement."""

    def __init__(self, nc) -> None:
        self.nc = nc
        self.changes: list[ReplicaChange] = []
        self.announcements: list[HostAnnouncement] = []

    async def command(self, verb: str, body, host: str = HOST, timeout: float = 20) -> AgentReply:
        msg = await self.nc.request(subjects.agent_command(host, verb), body.model_dump_json().encode(), timeout=timeout)
        return AgentReply.model_validate_json(msg.data)

    async def apply(self, body: ApplyReplicas, host: str = HOST) -> InstanceReplicas:
        reply = await self.command("apply", body, host)
        assert reply.ok, reply.error
        return InstanceReplicas.model_validate(reply.result)

    def changes_of(self, instance_id: str) -> list[ReplicaChange]:
        return [c for c in self.changes if c.instance_id == instance_id]

    async def until(self, condition: Callable[[], object], timeout: float = 15, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            await asyncio.sleep(0.05)

    async def until_ready(self, instance_id: str, indexes: list[int], generation: str, host: str = HOST) -> list:
        def ready() -> bool:
            changes = [c for c in self.changes_of(instance_id) if c.host_id == host]
            if not changes:
                return False
            states = {r.index: r for r in changes[-1].replicas}
            return all(i in states and states[i].phase == ReplicaPhase.READY and states[i].generation == generation for i in indexes)

        await self.until(ready, what=f"{instance_id} replicas {indexes} READY at {generation}")
        return sorted(self.changes_of(instance_id)[-1].replicas, key=lambda r: r.index)


async def read_until(proc: asyncio.subprocess.Process, text: str, timeout: float = 20) -> str:
    """What the process prints until a line holding ``text``."""
    assert proc.stdout is not None
    seen = ""
    async with asyncio.timeout(timeout):
        while text not in seen:
            line = await proc.stdout.readline()
            assert line, f"ended before printing {text!r}: {seen!r}"
            seen += line.decode()
    return seen


def get_json(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
        return json.loads(r.read())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("package")
    (d / "server.py").write_text(SERVER)
    return d


def spec(instance_id: str, package: Path, ports: list[int], generation: str = "g1", **extra) -> ApplyReplicas:
    return ApplyReplicas(
        project_id=PROJECT,
        instance_id=instance_id,
        generation=generation,
        command=[sys.executable, str(package / "server.py")],
        env={"GREETING": "hi"},
        replicas=[ReplicaSpec(index=i, port=p) for i, p in enumerate(ports)],
        readiness_probe=Probe(type="http", parameters={"path": "/"}),
        grace_seconds=3,
        **extra,
    )


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("agent-nats")
    creds = json.dumps([{"ak": TENANT_A.ak, "sk": TENANT_A.sk, "projects": list(TENANT_A.projects)}])
    agents = [nats_auth.AgentUser(HOST, AGENT_PASSWORD), nats_auth.AgentUser(OTHER_HOST, OTHER_PASSWORD)]
    config = write_nats_config(d, INTERNAL_PASSWORD, creds, agents)
    port = free_port()
    child = start_nats(d, port, log_dir=d / "logs", config_file=config)
    yield port
    stop(child)


def start_agent(nats_port: int, agent_dir: Path, host: str, password: str, artifact_dirs: Path | None = None) -> Child:
    env = {
        "OPENSTAGE_ARTIFACT_DIRS": str(artifact_dirs or agent_dir / "artifacts"),
        "OPENSTAGE_NATS_URL": nats_auth.agent_url("127.0.0.1", nats_port, nats_auth.AgentUser(host, password)),
        "OPENSTAGE_AGENT_ANNOUNCE_SECONDS": "0.5",
        "OPENSTAGE_AGENT_LIVENESS_PERIOD_SECONDS": "0.2",
        "OPENSTAGE_SK": "a-secret-the-replicas-must-not-see",
    }
    args = [sys.executable, "-m", "openstage.cli", "agent", "--host-id", host, "--data-dir", str(agent_dir), "--projects", "*"]
    return spawn(f"agent-{host}", args, env=env, log_dir=agent_dir.parent / "logs")


@pytest.fixture(scope="module")
def agent_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("agent-t1") / "agent"


@pytest.fixture(scope="module")
def agent(nats_server, agent_dir, package):
    child = start_agent(nats_server, agent_dir, HOST, AGENT_PASSWORD, package.parent / "artifacts")
    yield child
    stop(child, timeout=30)


def internal_url(port: int) -> str:
    return nats_auth.internal_url("127.0.0.1", port, INTERNAL_PASSWORD)


@pytest.fixture(scope="module")
async def bus(nats_server, agent):
    nc = await nats.connect(internal_url(nats_server))
    b = Bus(nc)

    async def on_change(msg):
        b.changes.append(ReplicaChange.model_validate_json(msg.data))

    async def on_announce(msg):
        b.announcements.append(HostAnnouncement.model_validate_json(msg.data))

    await nc.subscribe(subjects.agent_replica("*"), cb=on_change)
    await nc.subscribe(subjects.agent_announce("*"), cb=on_announce)
    await b.until(lambda: any(a.host_id == HOST for a in b.announcements), timeout=20, what="the agent's announcement")
    yield b
    await nc.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_the_agent_announces_itself_and_its_capacity(bus):
    a = next(a for a in bus.announcements if a.host_id == HOST)
    assert a.projects == ["*"] and a.cpus >= 1 and a.memory_mb > 0 and a.announce_seconds == 0.5 and a.address


async def test_two_replicas_answer_on_their_ports_with_an_environment_of_their_own(bus, package, agent_dir):
    instance = unique("web")
    ports = [free_port(), free_port()]
    await bus.apply(spec(instance, package, ports))
    states = await bus.until_ready(instance, [0, 1], "g1")
    for state, port in zip(states, ports, strict=True):
        answer = await asyncio.to_thread(get_json, port)
        env = answer["env"]
        assert answer["pid"] == state.pid and env["PORT"] == str(port) and env["GREETING"] == "hi"
        workdir = agent_dir / "work" / PROJECT / instance / str(state.index)
        assert answer["cwd"] == str(workdir) and env["HOME"] == str(workdir) and env["TMPDIR"].startswith(str(workdir))
        assert not [k for k in env if k.startswith(("OPENSTAGE_", "NATS"))]
        assert not [k for k, v in env.items() if AGENT_PASSWORD in v or "a-secret-the-replicas-must-not-see" in v]
    await bus.command("remove", RemoveInstance(project_id=PROJECT, instance_id=instance, grace_seconds=3))


async def test_a_fetched_package_is_copied_into_each_replicas_directory(bus, package, agent_dir):
    archive = package.parent / "artifacts" / "app.tar.gz"  # OPENSTAGE_ARTIFACT_DIRS of the agent
    archive.parent.mkdir(exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(package / "server.py", arcname="app/server.py")
    instance = unique("pkg")
    fetch = FetchArtifact(project_id=PROJECT, instance_id=instance, artifact=ArtifactSpec(url=archive.as_uri(), name="app"))
    reply = await bus.command("fetch", fetch)
    assert reply.ok, reply.error
    fetched = FetchedArtifact.model_validate(reply.result)
    ports = [free_port(), free_port()]
    body = spec(instance, package, ports).model_copy(
        update={"artifact_digest": fetched.digest, "command": [sys.executable, "app/server.py"]}
    )
    await bus.apply(body)
    await bus.until_ready(instance, [0, 1], "g1")
    for index, port in enumerate(ports):
        assert (await asyncio.to_thread(get_json, port))["cwd"] == str(agent_dir / "work" / PROJECT / instance / str(index))
        assert (agent_dir / "work" / PROJECT / instance / str(index) / "app" / "server.py").read_text() == SERVER

    outside = FetchArtifact(project_id=PROJECT, instance_id=instance, artifact=ArtifactSpec(url=(package / "server.py").as_uri()))
    refused = await bus.command("fetch", outside)
    assert not refused.ok and refused.error
    missing = await bus.command("apply", body.model_copy(update={"artifact_digest": "0" * 64}))
    assert not missing.ok and "fetch it first" in (missing.error or "")
    await bus.command("remove", RemoveInstance(project_id=PROJECT, instance_id=instance, grace_seconds=3))


async def test_a_killed_replica_is_restarted_with_backoff_and_counted(bus, package):
    instance = unique("crash")
    port = free_port()
    await bus.apply(spec(instance, package, [port]))
    (before,) = await bus.until_ready(instance, [0], "g1")
    os.kill(before.pid, signal.SIGKILL)
    await bus.until(lambda: any(c.changed.phase == ReplicaPhase.BACKOFF for c in bus.changes_of(instance)), what="BACKOFF")
    backoff = next(c.changed for c in bus.changes_of(instance) if c.changed.phase == ReplicaPhase.BACKOFF)
    assert backoff.restarts == 1 and "SIGKILL" in backoff.message
    await bus.until(lambda: bus.changes_of(instance)[-1].changed.phase == ReplicaPhase.READY, what="READY again")
    after = bus.changes_of(instance)[-1].changed
    assert after.restarts == 1 and after.pid != before.pid
    assert (await asyncio.to_thread(get_json, port))["pid"] == after.pid
    await bus.command("remove", RemoveInstance(project_id=PROJECT, instance_id=instance, grace_seconds=3))


def touch(name: str) -> LifecycleHook:
    return LifecycleHook(type="command", parameters={"command": [sys.executable, "-c", f"open({name!r}, 'w').write('ran')"]})


async def test_a_replica_failing_its_liveness_probe_is_killed_and_started_again(bus, package, agent_dir):
    instance = unique("live")
    port = free_port()
    healthy = [sys.executable, "-c", "import os, sys; sys.exit(0 if os.path.exists('healthy') else 1)"]
    body = spec(
        instance, package, [port], post_start=touch("healthy"), liveness_probe=Probe(type="command", parameters={"command": healthy})
    )
    await bus.apply(body)
    (before,) = await bus.until_ready(instance, [0], "g1")
    (agent_dir / "work" / PROJECT / instance / "0" / "healthy").unlink()
    await bus.until(lambda: any(c.changed.phase == ReplicaPhase.BACKOFF for c in bus.changes_of(instance)), what="BACKOFF")
    backoff = next(c.changed for c in bus.changes_of(instance) if c.changed.phase == ReplicaPhase.BACKOFF)
    assert backoff.message.startswith("liveness probe failed: ") and "exited with code 1" in backoff.message
    assert not alive(before.pid)
    await bus.until(
        lambda: bus.changes_of(instance)[-1].changed.phase == ReplicaPhase.READY, what="READY again"
    )  # post_start made it healthy
    await bus.command("remove", RemoveInstance(project_id=PROJECT, instance_id=instance, grace_seconds=3))


async def test_stop_leaves_no_process_and_remove_leaves_no_directory(bus, package, agent_dir):
    instance = unique("stop")
    ports = [free_port(), free_port()]
    await bus.apply(spec(instance, package, ports, post_start=touch("post_start_ran"), pre_stop=touch("pre_stop_ran")))
    states = await bus.until_ready(instance, [0, 1], "g1")
    workdir = agent_dir / "work" / PROJECT / instance / "0"
    assert (workdir / "post_start_ran").exists() and not (workdir / "pre_stop_ran").exists()
    reply = await bus.command("stop", StopReplicas(project_id=PROJECT, instance_id=instance, grace_seconds=3))
    stopped = InstanceReplicas.model_validate(reply.result)
    assert [r.phase for r in stopped.replicas] == [ReplicaPhase.STOPPED, ReplicaPhase.STOPPED]
    assert not [s.pid for s in states if alive(s.pid)]
    assert not [p for p in ports if port_open("127.0.0.1", p)]
    assert (workdir / "pre_stop_ran").exists()  # the directory is kept for the next start

    await bus.apply(spec(instance, package, ports))  # start again
    await bus.until_ready(instance, [0, 1], "g1")
    reply = await bus.command("remove", RemoveInstance(project_id=PROJECT, instance_id=instance, grace_seconds=3))
    assert reply.ok
    assert not (agent_dir / "work" / PROJECT / instance).exists() and not (agent_dir / "logs" / PROJECT / instance).exists()
    assert not (agent_dir / "state" / PROJECT / f"{instance}.json").exists()
    assert not [p for p in ports if port_open("127.0.0.1", p)]
    status = InstanceReplicas.model_validate((await bus.command("status", StopReplicas(project_id=PROJECT, instance_id=instance))).result)
    assert status.replicas == []


async def test_a_rolling_update_replaces_one_replica_at_a_time_each_ready_before_the_next(bus, package, agent_dir):
    instance = unique("roll")
    ports = [0, 0]  # the agent picks them, and keeps them for the replica indexes
    picked = await bus.apply(spec(instance, package, ports))
    old = await bus.until_ready(instance, [0, 1], "g1")
    assert [r.port for r in old] == [r.port for r in picked.replicas] and 0 not in [r.port for r in old]
    for r in old:
        assert (await asyncio.to_thread(get_json, r.port))["env"]["PORT"] == str(r.port)
    (agent_dir / "work" / PROJECT / instance / "0" / "scratch").write_text("left by g1")
    start = len(bus.changes)

    answered = await bus.apply(spec(instance, package, ports, generation="g2", rolling=True))
    assert [r.generation for r in answered.replicas] == ["g1", "g1"]  # answered at once; the update goes on
    new = await bus.until_ready(instance, [0, 1], "g2")
    assert {r.pid for r in new}.isdisjoint({r.pid for r in old}) and [r.port for r in new] == [r.port for r in old]
    steps = [(c.changed.index, c.changed.generation, c.changed.phase) for c in bus.changes[start:] if c.instance_id == instance]
    first_ready = steps.index((0, "g2", ReplicaPhase.READY))
    second_stopped = steps.index((1, "g1", ReplicaPhase.STOPPED))
    assert steps.index((0, "g1", ReplicaPhase.STOPPED)) < first_ready < second_stopped
    assert not (agent_dir / "work" / PROJECT / instance / "0" / "scratch").exists()  # a fresh directory

    again = await bus.apply(spec(instance, package, ports, generation="g2", rolling=True))  # same generation: left alone
    assert [r.pid for r in again.replicas] == [r.pid for r in new]
    await bus.command("remove", RemoveInstance(project_id=PROJECT, instance_id=instance, grace_seconds=3))


async def test_logs_are_read_over_the_bus_and_with_the_cli(bus, package, nats_server):
    instance = unique("logs")
    port, port1 = free_port(), free_port()
    await bus.apply(spec(instance, package, [port, port1]))
    await bus.until_ready(instance, [0, 1], "g1")

    msg = await bus.nc.request(subjects.AGENTS_LOGS, ReadLogs(instance_id=instance, replica=0).model_dump_json().encode(), timeout=5)
    chunk = LogChunk.model_validate_json(msg.data)
    assert chunk.host_id == HOST and f"hello from the replica on port {port}" in chunk.data and chunk.next_offset == len(chunk.data)
    with pytest.raises(nats.errors.TimeoutError):  # another project's instance: no agent answers
        await bus.nc.request(subjects.AGENTS_LOGS, ReadLogs(project_id="other", instance_id=instance).model_dump_json().encode(), timeout=1)

    cli = [sys.executable, "-m", "openstage.cli", "logs", "--nats-url", internal_url(nats_server)]
    shown = await asyncio.to_thread(subprocess.run, [*cli, instance, "--replica", "0"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and f"hello from the replica on port {port}" in shown.stdout and str(port1) not in shown.stdout
    both = await asyncio.to_thread(subprocess.run, [*cli, instance], capture_output=True, text=True, timeout=30)
    assert both.returncode == 0 and "==> replica 0 on host t1 <==" in both.stdout and "==> replica 1 on host t1 <==" in both.stdout
    assert f"port {port}\n" in both.stdout and f"port {port1}\n" in both.stdout

    # --follow prints what is written next: a restart of the replica writes its start line again
    follow = await asyncio.create_subprocess_exec(*cli, instance, "--replica", "1", "--follow", stdout=subprocess.PIPE)
    try:
        seen = await read_until(follow, f"port {port1}")
        assert seen.count("starting replica 1") == 1
        reply = await bus.command("restart", RestartReplica(project_id=PROJECT, instance_id=instance, index=1, grace_seconds=3))
        assert reply.ok, reply.error
        await read_until(follow, "starting replica 1")
    finally:
        follow.terminate()
        await follow.wait()
    missing = await asyncio.to_thread(subprocess.run, [*cli, "no-such-instance"], capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "no agent holds instance no-such-instance" in missing.stderr
    await bus.command("remove", RemoveInstance(project_id=PROJECT, instance_id=instance, grace_seconds=3))


async def test_an_agent_killed_or_stopped_and_started_again_brings_back_what_ran_and_not_what_was_stopped(
    bus, package, nats_server, tmp_path
):
    other_dir = tmp_path / "agent"
    child = start_agent(nats_server, other_dir, OTHER_HOST, OTHER_PASSWORD)
    try:
        await bus.until(lambda: any(a.host_id == OTHER_HOST for a in bus.announcements), timeout=20, what="t2 announcing")
        running, stopped = unique("kept"), unique("stopped")
        stopped_port = free_port()
        port = (await bus.apply(spec(running, package, [0]), OTHER_HOST)).replicas[0].port  # picked by the agent: kept
        await bus.apply(spec(stopped, package, [stopped_port]), OTHER_HOST)
        (before,) = await bus.until_ready(running, [0], "g1", OTHER_HOST)
        await bus.until_ready(stopped, [0], "g1", OTHER_HOST)
        await bus.command("stop", StopReplicas(project_id=PROJECT, instance_id=stopped, grace_seconds=3), OTHER_HOST)

        child.proc.kill()
        child.proc.wait()
        await bus.until(lambda: not alive(before.pid), timeout=5, what="the replica dying with its agent")

        child = start_agent(nats_server, other_dir, OTHER_HOST, OTHER_PASSWORD)
        start = len(bus.changes)
        await bus.until(
            lambda: any(c.instance_id == running and c.changed.phase == ReplicaPhase.READY for c in bus.changes[start:]),
            what="the running instance back",
        )
        assert (await asyncio.to_thread(get_json, port))["env"]["PORT"] == str(port)
        reply = await bus.command("status", StopReplicas(project_id=PROJECT, instance_id=stopped), OTHER_HOST)
        assert [r.phase for r in InstanceReplicas.model_validate(reply.result).replicas] == [ReplicaPhase.STOPPED]
        assert not port_open("127.0.0.1", stopped_port)

        stop(child, timeout=30)  # SIGTERM (as `openstage up` stops it): replicas stopped gracefully, desired state kept
        assert not port_open("127.0.0.1", port)
        start = len(bus.changes)
        child = start_agent(nats_server, other_dir, OTHER_HOST, OTHER_PASSWORD)
        await bus.until(
            lambda: any(c.instance_id == running and c.changed.phase == ReplicaPhase.READY for c in bus.changes[start:]),
            what="the running instance back after a clean stop",
        )
        assert (await asyncio.to_thread(get_json, port))["env"]["PORT"] == str(port) and not port_open("127.0.0.1", stopped_port)
    finally:
        stop(child, timeout=30)
    assert not port_open("127.0.0.1", port)


async def test_nats_refuses_what_an_agent_or_a_tenant_may_not_do(nats_server, agent):
    errors: list[str] = []

    async def on_error(exc):
        errors.append(str(exc))

    url = f"nats://127.0.0.1:{nats_server}"
    as_agent = await nats.connect(url, user=nats_auth.agent_user(HOST), password=AGENT_PASSWORD, error_cb=on_error, allow_reconnect=False)
    as_tenant = await nats.connect(
        url,
        user=TENANT_A.ak,
        password=TENANT_A.sk,
        inbox_prefix=nats_auth.tenant_inbox_prefix(TENANT_A.ak).encode(),
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        await as_agent.subscribe(subjects.CMD_PREFIX + ".>")
        await as_agent.subscribe(subjects.agent_command(OTHER_HOST, "apply"))
        await as_agent.publish(subjects.agent_announce(OTHER_HOST), b"{}")
        await as_agent.flush()
        with pytest.raises(nats.errors.TimeoutError):
            await as_tenant.request(subjects.agent_command(HOST, "status"), b"{}", timeout=1)
        await asyncio.sleep(0.2)
    finally:
        await as_agent.close()
        await as_tenant.close()
    text = " ".join(errors).lower()
    assert f'subscription to "{subjects.CMD_PREFIX}.>"' in text
    assert f'subscription to "{subjects.agent_command(OTHER_HOST, "apply")}"' in text
    assert f'publish to "{subjects.agent_announce(OTHER_HOST)}"' in text
    assert f'publish to "{subjects.agent_command(HOST, "status")}"' in text


def test_the_local_agent_of_a_system_joins_with_its_own_nats_user(tmp_path):
    """What `openstage up` wires: the agent's user in nats.conf, the agent started with it, the
    internal NATS URL kept for `openstage logs`."""
    system = System(data_dir=tmp_path, log_dir=tmp_path / "logs", local_agent=True, env={"OPENSTAGE_MONGODB_URL": "mongodb://unused:1"})
    try:
        system.start_infrastructure()
        child = system.start_agent()
        assert child.name == "agent-local" and AGENT_PASSWORD not in system.agent_nats_url
        assert system.agent_nats_url.startswith("nats://agent-local:") and "OPENSTAGE_CREDENTIALS" not in child.env

        async def announced() -> HostAnnouncement:
            nc = await nats.connect(system.nats_url)
            try:
                sub = await nc.subscribe(subjects.agent_announce("local"))
                return HostAnnouncement.model_validate_json((await sub.next_msg(timeout=20)).data)
            finally:
                await nc.close()

        a = asyncio.run(announced())
        assert a.host_id == "local" and a.projects == ["*"] and a.address == "127.0.0.1"
        shown = subprocess.run(
            [sys.executable, "-m", "openstage.cli", "logs", "nothing-here", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "OPENSTAGE_NATS_URL": f"nats://127.0.0.1:{system.nats_port}"},  # no user: the data directory's
        )
        assert shown.returncode == 1 and "no agent holds instance nothing-here" in shown.stderr
        assert (tmp_path / "agent-local").is_dir() and oct((tmp_path / "internal-nats.json").stat().st_mode & 0o777) == "0o600"
    finally:
        system.stop()
    assert not [c.name for c in system.children.values() if c.alive()]


def test_an_agent_that_cannot_reach_nats_keeps_trying_and_stops_on_sigterm(tmp_path):
    port = free_port()  # nothing listens there
    child = spawn(
        "agent-unreachable",
        [sys.executable, "-m", "openstage.cli", "agent", "--host-id", "h9", "--data-dir", str(tmp_path / "agent")],
        env={"OPENSTAGE_NATS_URL": f"nats://127.0.0.1:{port}"},
        log_dir=tmp_path / "logs",
    )
    try:
        deadline = time.monotonic() + 20
        while "Connect call failed" not in (tmp_path / "logs" / "agent-unreachable.log").read_text():
            assert time.monotonic() < deadline and child.alive(), "the agent should keep trying"
            time.sleep(0.1)
        child.proc.send_signal(signal.SIGTERM)
        assert child.proc.wait(timeout=10) == 0
    finally:
        stop(child, timeout=5)
