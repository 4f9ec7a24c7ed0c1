"""`openstage up` run as a user runs it (a real process, its output read line by line), and the
processes on a data directory found as a user would find them (psutil: a command line naming the
directory, or OPENSTAGE_DATA_DIR set to it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from openstage.processes import free_port

READY_LINE = "Press Ctrl-C to stop."


def up_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTAGE_")}
    return {**env, **(extra or {})}


def up_args(data_dir: Path, port: int, python: str = sys.executable) -> list[str]:
    return [
        python,
        "-m",
        "openstage.cli",
        "up",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--nats-port",
        str(free_port()),
        "--store-port",
        str(free_port()),
    ]


def start_up(data_dir: Path, port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(up_args(data_dir, port), env=up_env(extra_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_up(
    data_dir: Path, port: int, extra_env: dict[str, str] | None = None, python: str = sys.executable, timeout: float = 60
) -> subprocess.CompletedProcess:
    """`openstage up` expected to give up: its exit code and everything it printed."""
    return subprocess.run(
        up_args(data_dir, port, python), env=up_env(extra_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )


def wait_ready(proc: subprocess.Popen, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if READY_LINE in line:
            return lines
    proc.kill()
    pytest.fail("openstage up did not become ready:\n" + "".join(lines))


def stop_up(proc: subprocess.Popen) -> list[int]:
    """SIGTERM, as a service manager stops it; the pids of what it had started."""
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return children


def uses(process: psutil.Process, data_dir: Path) -> bool:
    d = str(data_dir)
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if any(arg == d or arg.startswith(d + "/") for arg in process.cmdline()):
            return True
        return process.environ().get("OPENSTAGE_DATA_DIR") == d
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def processes_on(data_dir: Path) -> list[psutil.Process]:
    """Live processes using the data directory (this test process and its ancestors aside)."""
    me = {psutil.Process().pid, *(p.pid for p in psutil.Process().parents())}
    return [p for p in psutil.process_iter() if p.pid not in me and uses(p, data_dir)]


def wait_none_on(data_dir: Path, timeout: float) -> list[psutil.Process]:
    """Wait until no process uses the data directory; those still there after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = processes_on(data_dir)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def kill_all_on(data_dir: Path) -> None:
    for p in processes_on(data_dir):
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


class UpRuns:
    """What a test started, all killed at teardown whatever the test's outcome."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.data_dirs: list[Path] = []

    def start(self, data_dir: Path, port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        self.data_dirs.append(data_dir)
        proc = start_up(data_dir, port, extra_env)
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for data_dir in self.data_dirs:
            kill_all_on(data_dir)
