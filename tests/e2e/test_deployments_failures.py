"""Real deployments that must fail, and `openstage up` stopped and started with instances on its
host: bad inputs end the job FAILED with a task message naming the cause, and leave no process
and no directory of the instance behind; a restarted `openstage up` brings back every instance
as it was."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import tarfile
import threading
import uuid
from pathlib import Path

import pytest

from openstage.processes import free_port
from tests.support.deployments import (
    Target,
    act,
    all_instance_processes,
    answers,
    create_instance,
    deploy_up,
    describe_job,
    ecs_environment,
    ecs_instance,
    failed_messages,
    kill_instance_processes,
    new_target,
    package,
    replica_ports,
    replica_processes,
    sdk,
    show,
    start_deploy_up,
    succeeded,
    wait_job,
    wait_status,
    wait_until,
)
from tests.support.up_command import UpRuns, stop_up

PROJECT = "deployfail"
FAST = {"OPENSTAGE_SIMULATED_TASK_SECONDS": "0.05", "OPENSTAGE_READY_TIMEOUT_SECONDS": "8", "OPENSTAGE_REGISTRATION_TIMEOUT_SECONDS": "8"}
STARTED: list[str] = []


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    with deploy_up(tmp_path_factory.mktemp("deployfail"), FAST, STARTED) as running:
        yield running


@pytest.fixture(scope="module")
def client(up):
    return sdk(up, PROJECT)


@pytest.fixture(scope="module")
def target(client) -> Target:
    return new_target(client, PROJECT, ecs_environment(client))


@pytest.fixture(scope="module")
def web_package(up):
    return package(up, "hello-web", "1.0.0")


@pytest.fixture(scope="module")
def http_dir(tmp_path_factory):
    """A plain HTTP server on a free port serving an empty directory (every file: 404)."""
    root = tmp_path_factory.mktemp("served")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def escaping_archive(directory: Path, victim: str) -> Path:
    """A .tar.gz with a normal file and an entry ``../<victim>`` that would land outside it."""
    path = directory / f"evil-{uuid.uuid4().hex[:6]}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("app.py", b"print('hi')\n"), (f"../{victim}", b"escaped\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def deploy_expecting_failure(up, client, target: Target, body) -> str:
    """Deploy, expect FAILED; the failed tasks' messages. Checks that nothing of the instance is
    left: no process, no working directory or log directory."""
    iid, job_id = create_instance(target, body)
    STARTED.append(iid)
    job = wait_job(client, job_id, timeout=60)
    messages = failed_messages(job)
    assert show(target, iid).status_detail.status == "FAILED"
    assert not all_instance_processes(iid), "a process of the failed instance is still running"
    left = [p for p in up.data_dir.rglob(f"*{iid}*") if p.is_dir()]
    assert not left, f"directories of the failed instance left: {left}"
    return messages


def test_artifact_url_answering_404(up, client, target, http_dir):
    msg = deploy_expecting_failure(up, client, target, ecs_instance(target, f"{http_dir}/missing/app.tar.gz", replica=1))
    assert "404" in msg, msg


def test_checksum_mismatch(up, client, target, web_package):
    wrong = "0" * 64
    msg = deploy_expecting_failure(up, client, target, ecs_instance(target, web_package.url, replica=1, sha256=wrong))
    assert "sha256" in msg.lower() or "checksum" in msg.lower(), msg
    assert web_package.sha256 in msg or wrong in msg, msg


def test_archive_with_parent_entries(up, client, target):
    victim = f"escaped-{uuid.uuid4().hex[:8]}.txt"
    path = escaping_archive(up.data_dir / "artifacts", victim)
    msg = deploy_expecting_failure(up, client, target, ecs_instance(target, path.as_uri(), replica=1))
    assert f"../{victim}" in msg, msg
    assert not list(up.workdir.rglob(victim)), "the entry was written outside the package"


def test_file_url_outside_the_allowed_directories(up, client, target, web_package, tmp_path):
    outside = tmp_path / "hello-web.tar.gz"
    outside.write_bytes(web_package.path.read_bytes())
    msg = deploy_expecting_failure(up, client, target, ecs_instance(target, outside.as_uri(), replica=1))
    assert "allowed" in msg.lower() or "OPENSTAGE_ARTIFACT_DIRS" in msg, msg


def test_runtime_without_convention_and_no_entrypoint(up, client, web_package):
    php = new_target(client, PROJECT, ecs_environment(client), runtime="Php7")
    msg = deploy_expecting_failure(up, client, php, ecs_instance(php, web_package.url, replica=1))
    assert "entrypoint" in msg.lower(), msg
    assert "Php7" in msg, msg


def test_process_that_exits_at_once(up, client, target, web_package):
    exits = {"entrypoint": {"command": ["python3"], "args": ["-c", "import sys; sys.exit(3)"]}}
    msg = deploy_expecting_failure(up, client, target, ecs_instance(target, web_package.url, replica=1, lifecycle=exits))
    assert "exit" in msg.lower() and "3" in msg, msg


def test_probe_that_never_passes(up, client, target, web_package):
    never = {"readinessProbe": {"type": "command", "delay": 0, "timeout": 1, "parameters": {"command": ["false"]}}}
    msg = deploy_expecting_failure(up, client, target, ecs_instance(target, web_package.url, replica=1, probes=never))
    assert "probe" in msg.lower() or "ready" in msg.lower(), msg


def test_openstage_up_stopped_and_started_brings_instances_back_as_they_were(tmp_path):
    runs = UpRuns()
    ids: list[str] = []
    try:
        workdir, port = tmp_path, free_port()
        up = start_deploy_up(runs, workdir, port, FAST)
        client = sdk(up, "deployrestart")
        target = new_target(client, "deployrestart", ecs_environment(client))
        pkg = package(up, "hello-web", "1.0.0")
        running, job = create_instance(target, ecs_instance(target, pkg.url, replica=2))
        ids.append(running)
        succeeded(client, job)
        stopped, job = create_instance(target, ecs_instance(target, pkg.url, replica=1))
        ids.append(stopped)
        succeeded(client, job)
        succeeded(client, act(target, stopped, "stop"))
        assert not all_instance_processes(stopped)

        stop_up(runs.procs[-1])
        up = start_deploy_up(runs, workdir, port, FAST)
        client = sdk(up, "deployrestart")
        target.client = client

        def running_again():
            ports = replica_ports(running)
            return len(replica_processes(running)) == 2 and len(ports) == 2 and all(answers(p) for p in ports)

        wait_until(running_again, 60, "the running instance's 2 replicas answering after the restart")
        wait_status(target, running, {"RUNNING"})
        inst = show(target, stopped)
        assert inst.status_detail.status == "STOPPED", inst.status_detail
        assert not all_instance_processes(stopped)
        assert len(replica_processes(running)) == 2  # adopted or restarted, never both
    finally:
        for proc in runs.procs:
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    stop_up(proc)
        runs.cleanup()
        kill_instance_processes(ids)


def test_a_good_package_deploys_on_the_same_target(client, target, web_package):
    """The control: the same target and package deploy fine (the failures above are the inputs'),
    and a stopped instance keeps no process."""
    iid, job_id = create_instance(target, ecs_instance(target, web_package.url, replica=1))
    STARTED.append(iid)
    job = succeeded(client, job_id)
    assert "SUCCEEDED" in describe_job(job)
    ports = replica_ports(iid)
    assert len(ports) == 1 and answers(ports[0])
    succeeded(client, act(target, iid, "stop"))
    assert not all_instance_processes(iid)
