"""`openstage up` survives its own crash: killed by SIGKILL under load it leaves no process
behind, the next start on the same data directory is ready and has every acknowledged change (the
chaos suite's invariants, tests/chaos/invariants.py, hold); a second start on a
data directory in use refuses; leftovers of a dead run are stopped only when they are provably
its own."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import httpx
import psutil
import pytest

from bench.mixed import LoadThread, MixedLoad
from openstage import linux_processes
from openstage.processes import free_port
from openstage.run_record import RecordedProcess, RunRecord
from tests.chaos import invariants
from tests.support.up_command import UpRuns, processes_on, run_up, stop_up, wait_none_on, wait_ready

# Seconds everything started by a killed supervisor has to be gone (the lifeline gives what the
# children started 2 s to stop on SIGTERM before SIGKILL).
GONE_WITHIN = 5.0


@pytest.fixture
def up_runs():
    runs = UpRuns()
    yield runs
    runs.cleanup()


def names(processes: list[psutil.Process]) -> list[str]:
    return sorted(" ".join(p.cmdline()[1:5]) if "python" in p.name() else p.name() for p in processes)


PROJECT = "crash"
TOKEN = "crash-token-0123456789abcdef"
HEADERS = {"X-Auth-Token": TOKEN}
SETTLE_BOUND = 60.0  # jobs terminal, tracker caught up, outboxes empty within this once the load pauses
SYSTEM_ENV = {
    "OPENSTAGE_TOKENS": json.dumps([{"token": TOKEN, "projects": [PROJECT]}]),
    "OPENSTAGE_REQUEST_TIMEOUT": "3",
    "OPENSTAGE_SIMULATED_TASK_SECONDS": "0.05",
    "OPENSTAGE_JOB_LEASE_SECONDS": "2",  # a job its killed runner held is resumed 2 s after the restart
    # Two edge processes: the edge then has processes of its own, which must go too.
    "OPENSTAGE_EDGE_WORKERS": "2",
}


def create_environment(base_url: str, name: str) -> str:
    body = {"name": name, "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "cce-1", "type": "cce"}]}
    created = httpx.post(f"{base_url}/v2/{PROJECT}/cas/environments", json=body, headers=HEADERS, timeout=30)
    assert created.status_code in (200, 201), created.text
    return created.json()["id"]


def store_and_bus(data_dir, banner: str) -> tuple[str, str]:
    """The MongoDB URL the banner shows, and a NATS URL as the internal user (from nats.conf)."""
    mongodb_url = re.search(r"MongoDB:\s+(\S+)", banner).group(1)
    nats_port = re.search(r"NATS:\s+nats://[^:]+:(\d+)", banner).group(1)
    config = (data_dir / "nats.conf").read_text()  # "authorization {json}" then other settings
    block, _end = json.JSONDecoder().raw_decode(config, config.index("authorization ") + len("authorization "))
    internal = block["users"][0]
    return mongodb_url, f"nats://{internal['user']}:{internal['password']}@127.0.0.1:{nats_port}"


def settled_world(mongodb_url: str, nats_url: str) -> invariants.World:
    deadline = time.monotonic() + SETTLE_BOUND
    while True:
        world = invariants.world(mongodb_url, nats_url, PROJECT, with_events=False)
        ok, why = world.settled()
        if ok:
            return invariants.world(mongodb_url, nats_url, PROJECT)
        assert time.monotonic() < deadline, f"not settled within {SETTLE_BOUND}s after the restart: {why}"
        time.sleep(0.5)


def test_sigkill_of_the_supervisor_under_load_leaves_no_process_and_a_restart_keeps_the_data(tmp_path, up_runs):
    data_dir = tmp_path.resolve() / "data"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = up_runs.start(data_dir, port, SYSTEM_ENV)
    wait_ready(proc)
    env_id = create_environment(base_url, "survives-a-crash")
    load = LoadThread(MixedLoad(base_url, HEADERS, project=PROJECT, rate=20.0, concurrency=6, timeout=30.0))
    load.start()
    try:
        time.sleep(3)  # the kill hits work in progress: transactions, jobs, events not yet published
        started = processes_on(data_dir)
        started_names = " | ".join(names(started))
        for expected in (
            "nats-server",
            "nx-27017",
            "worker lifecycle,config,registry,jobs",  # the four domain workers in one process (the default)
            "edge",
            "openstage.lifeline",
            "multiprocessing-fork",
        ):
            assert expected in started_names, started_names

        proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(5)
        left = wait_none_on(data_dir, GONE_WITHIN)
        gone_after = time.monotonic() - killed_at
        assert not left, f"still running {gone_after:.1f}s after the supervisor's SIGKILL: {names(left)}"
        assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{base_url}/healthz", timeout=1)

        proc = up_runs.start(data_dir, port, SYSTEM_ENV)
        banner = "".join(wait_ready(proc))
        assert "previous run left" not in banner  # nothing was: the dead run's processes were gone already
        shown = httpx.get(f"{base_url}/v2/{PROJECT}/cas/environments/{env_id}", headers=HEADERS, timeout=30)
        assert shown.status_code == 200 and shown.json()["name"] == "survives-a-crash"
        time.sleep(2)  # the load goes on against the restarted system
        load.pause()
        acknowledged = sum(call.acked for call in load.load.calls)
        mongodb_url, nats_url = store_and_bus(data_dir, banner)
        found = invariants.problems(load.load, settled_world(mongodb_url, nats_url))
        assert not found, f"{len(found)} invariants broken:\n" + "\n".join(found[:40])
        assert acknowledged > 20
        print(f"\nall {len(started)} processes gone {gone_after:.1f}s after the SIGKILL; {acknowledged} acknowledged calls kept")
    finally:
        load.stop()
    assert not load.error

    stop_up(proc)
    assert proc.returncode == 0
    assert not wait_none_on(data_dir, GONE_WITHIN)
    assert not (data_dir / "run.json").exists()


def test_a_second_up_on_the_same_data_directory_refuses(tmp_path, up_runs):
    data_dir = tmp_path.resolve() / "data"
    port = free_port()
    first = up_runs.start(data_dir, port)
    wait_ready(first)
    running = {p.pid for p in processes_on(data_dir)}

    second = run_up(data_dir, free_port(), timeout=30)
    lines = second.stdout.splitlines()
    assert second.returncode == 1
    assert len(lines) == 1, second.stdout
    assert f"data directory {data_dir} is in use by another `openstage up` (pid {first.pid})" in lines[0]
    assert "Traceback" not in second.stdout

    # The first one is untouched: same processes, still serving.
    assert {p.pid for p in processes_on(data_dir)} == running
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    stop_up(first)
    assert first.returncode == 0


def start_own_session(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"nothing listening on {port}")


def nats_server_on(data_dir, monitor_port: int) -> subprocess.Popen:
    from openstage.processes import find_executable

    (data_dir / "nats").mkdir(parents=True, exist_ok=True)
    proc = start_own_session(
        [
            find_executable("nats-server"),
            "-a",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-m",
            str(monitor_port),
            "-js",
            "-sd",
            str(data_dir / "nats"),
        ]
    )
    wait_listening(monitor_port)
    return proc


def test_a_restart_stops_what_the_dead_run_left_and_clears_a_stale_store_pid_file(tmp_path, up_runs):
    """A dead run's nats-server still running (as when a run died before this fix, or its
    children were stuck), recorded in run.json; its store pid file names a pid the system has
    since given to an unrelated process (here: this test)."""
    data_dir = tmp_path.resolve() / "data"
    leftover = nats_server_on(data_dir, free_port())
    identity = linux_processes.identity_of(leftover.pid)
    me = linux_processes.identity_of(psutil.Process().pid)
    RunRecord(
        data_dir=str(data_dir),
        boot_id=linux_processes.boot_id(),
        supervisor=RecordedProcess.of(me),
        children={"nats-server": RecordedProcess.of(identity)},
    ).write(data_dir)
    (data_dir / "store.pid").write_text(f"{psutil.Process().pid}\n")

    try:
        proc = up_runs.start(data_dir, free_port())
        output = "".join(wait_ready(proc))
        assert f"stopped what a previous run left running: nats-server (pid {leftover.pid})" in output
        assert leftover.wait(5) is not None
        stop_up(proc)
        assert proc.returncode == 0
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


def test_up_refuses_a_data_directory_used_by_processes_it_cannot_prove_are_its_own(tmp_path, up_runs):
    data_dir = tmp_path.resolve() / "data"
    stranger = nats_server_on(data_dir, free_port())
    try:
        result = run_up(data_dir, free_port(), timeout=30)
        lines = result.stdout.splitlines()
        assert result.returncode == 1
        assert len(lines) == 1, result.stdout
        assert f"data directory {data_dir} is in use by processes" in lines[0]
        assert f"nats-server (pid {stranger.pid})" in lines[0] and f"kill {stranger.pid}" in lines[0]
        assert stranger.poll() is None  # not ours to stop
        assert [p.pid for p in processes_on(data_dir)] == [stranger.pid]
    finally:
        stranger.kill()
        stranger.wait()
