"""How `openstage up` runs the four domain workers (--worker-processes, OPENSTAGE_WORKER_PROCESSES).
By default (combined) in one process: it serves every domain, is restarted as a whole when it
dies, and stops with the rest. With `--worker-processes separate`, one process each: the one that
dies is restarted alone, the others keep their pids."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx
import psutil
import pytest

from openstage.processes import free_port
from tests.support.signing import SignedClient
from tests.support.up_command import UpRuns, stop_up, up_args, up_env, wait_ready

COMBINED = {"OPENSTAGE_WORKER_PROCESSES": "combined"}
ENV_BODY = {"deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "cce-1", "type": "cce"}]}


@pytest.fixture
def up_runs():
    runs = UpRuns()
    yield runs
    runs.cleanup()


def worker_processes(up: subprocess.Popen) -> list[psutil.Process]:
    found = []
    for p in psutil.Process(up.pid).children(recursive=True):
        try:
            cmd = p.cmdline()
            if "worker" in cmd and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.NoSuchProcess:
            continue
    return found


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"not within {timeout}s: {what}")


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_combined_workers_by_default_serve_every_domain_restart_together_and_stop(tmp_path, up_runs):
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = up_runs.start(data_dir, port)  # no --worker-processes: combined is the default
    wait_ready(proc)  # /readyz answered: the lifecycle, config, registry and jobs workers all answer their pings

    workers = worker_processes(proc)
    assert [p.cmdline()[-2:] for p in workers] == [["worker", "lifecycle,config,registry,jobs"]]
    assert (data_dir / "logs" / "worker-lifecycle,config,registry,jobs.log").exists()

    cred = json.loads((data_dir / "credentials.json").read_text())[0]
    client = SignedClient(base, cred["ak"], cred["sk"])
    env_id = client.post("/v2/combproj/cas/environments", json={"name": "before-crash", **ENV_BODY}).json()["id"]
    service = {"service": {"appId": "shop", "serviceName": "order", "version": "1.0.0"}}
    created = client.post("/v4/combproj/registry/microservices", json=service)
    assert created.status_code == 200, created.text

    # The one process dies: the supervisor starts it again, with all four domains.
    killed = workers[0]
    killed.send_signal(signal.SIGKILL)
    restarted = wait_for(lambda: [p for p in worker_processes(proc) if p.pid != killed.pid], 30, "the worker process restarted")
    assert restarted[0].cmdline()[-1] == "lifecycle,config,registry,jobs"
    wait_for(lambda: ready(base), 30, "/readyz answers 200 again")
    shown = client.get(f"/v2/combproj/cas/environments/{env_id}")
    assert shown.status_code == 200 and shown.json()["name"] == "before-crash"
    after = client.post("/v2/combproj/cas/environments", json={"name": "after-crash", **ENV_BODY})
    assert after.status_code == 200, after.text
    query = {"type": "microservice", "appId": "shop", "serviceName": "order", "version": "1.0.0"}
    found = client.get("/v4/combproj/registry/existence", params=query)
    assert found.status_code == 200 and found.json()["serviceId"] == created.json()["serviceId"]

    children = stop_up(proc)
    assert proc.returncode == 0
    assert not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def test_separate_worker_processes_one_per_domain_and_only_the_dead_one_restarts(tmp_path, up_runs):
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    up_runs.data_dirs.append(data_dir)
    args = [*up_args(data_dir, port), "--worker-processes", "separate"]
    proc = subprocess.Popen(args, env=up_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    up_runs.procs.append(proc)
    wait_ready(proc)

    workers = {p.cmdline()[-1]: p for p in worker_processes(proc)}
    assert sorted(workers) == ["config", "jobs", "lifecycle", "registry"]
    assert {f"worker-{name}.log" for name in workers} <= {p.name for p in (data_dir / "logs").iterdir()}
    cred = json.loads((data_dir / "credentials.json").read_text())[0]
    client = SignedClient(base, cred["ak"], cred["sk"])
    service = {"service": {"appId": "shop", "serviceName": "order", "version": "1.0.0"}}
    created = client.post("/v4/sepproj/registry/microservices", json=service)
    assert created.status_code == 200, created.text

    # The registry worker dies: the supervisor starts a new registry worker; the other three keep running.
    killed = workers["registry"]
    killed.send_signal(signal.SIGKILL)
    restarted = wait_for(
        lambda: [p for p in worker_processes(proc) if p.cmdline()[-1] == "registry" and p.pid != killed.pid], 30, "registry restarted"
    )
    assert len(restarted) == 1
    assert {p.cmdline()[-1]: p.pid for p in worker_processes(proc) if p.cmdline()[-1] != "registry"} == {
        name: p.pid for name, p in workers.items() if name != "registry"
    }
    wait_for(lambda: ready(base), 30, "/readyz answers 200 again")
    query = {"type": "microservice", "appId": "shop", "serviceName": "order", "version": "1.0.0"}
    found = client.get("/v4/sepproj/registry/existence", params=query)
    assert found.status_code == 200 and found.json()["serviceId"] == created.json()["serviceId"]

    children = stop_up(proc)
    assert proc.returncode == 0
    assert not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def test_an_unknown_worker_processes_value_is_refused(tmp_path):
    result = subprocess.run(
        up_args(tmp_path / "data", free_port()),
        env=up_env({"OPENSTAGE_WORKER_PROCESSES": "one"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--worker-processes must be one of separate, combined, not 'one'" in result.stdout


def test_the_combined_worker_killed_under_load_keeps_every_acknowledged_change(tmp_path, up_runs):
    """SIGKILL of the one worker process while the four domains write (transactions of several
    databases open at once): after its restart the chaos suite's invariants hold."""
    from bench.mixed import LoadThread, MixedLoad
    from tests.chaos import invariants
    from tests.e2e.test_supervisor_crash import HEADERS, PROJECT, SYSTEM_ENV, settled_world, store_and_bus

    data_dir = tmp_path.resolve() / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = up_runs.start(data_dir, port, {**SYSTEM_ENV, **COMBINED})
    banner = "".join(wait_ready(proc))
    load = LoadThread(MixedLoad(base, HEADERS, project=PROJECT, rate=20.0, concurrency=6, timeout=30.0))
    load.start()
    try:
        time.sleep(3)  # the kill hits work in progress
        [worker] = worker_processes(proc)
        worker.send_signal(signal.SIGKILL)
        wait_for(lambda: [p for p in worker_processes(proc) if p.pid != worker.pid], 30, "the worker process restarted")
        wait_for(lambda: ready(base), 30, "/readyz answers 200 again")
        time.sleep(2)  # the load goes on against the restarted workers
        load.pause()
        acknowledged = sum(call.acked for call in load.load.calls)
        found = invariants.problems(load.load, settled_world(*store_and_bus(data_dir, banner)))
        assert not found, f"{len(found)} invariants broken:\n" + "\n".join(found[:40])
        assert acknowledged > 20
    finally:
        load.stop()
    assert not load.error
    stop_up(proc)
    assert proc.returncode == 0
