"""`openstage up` as a user runs it: one command, ready quickly, stops cleanly, keeps data."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from openstage.processes import free_port
from tests.support.signing import SignedClient


def start_up(data_dir, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTAGE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "openstage.cli", "up", "--port", str(port), "--data-dir", str(data_dir),
         "--nats-port", str(free_port()), "--store-port", str(free_port())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_ready(proc: subprocess.Popen, timeout: float = 30) -> list[str]:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C to stop." in line:
            return lines
    proc.kill()
    pytest.fail("openstage up did not become ready:\n" + "".join(lines))


def stop(proc: subprocess.Popen) -> list[int]:
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return children


def test_up_serves_stops_cleanly_and_keeps_data(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    started = time.monotonic()
    proc = start_up(data_dir, port)
    output = "".join(wait_ready(proc))
    assert time.monotonic() - started < 30
    assert f"http://127.0.0.1:{port}/docs" in output and str(data_dir) in output

    secret = data_dir / "credentials.json"
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    cred = json.loads(secret.read_text())[0]
    assert f"AK={cred['ak']}" in output and cred["projects"] == ["*"]

    client = SignedClient(f"http://127.0.0.1:{port}", cred["ak"], cred["sk"])
    body = {"name": "survivor", "deploy_mode": "container", "vpc_id": "v",
            "base_resources": [{"id": "cce-1", "type": "cce"}]}
    env_id = client.post("/v2/upproj/cas/environments", json=body).json()["id"]

    children = stop(proc)
    assert proc.returncode == 0
    assert children and not [pid for pid in children if psutil.pid_exists(pid)
                              and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)

    proc = start_up(data_dir, port)
    try:
        wait_ready(proc)
        shown = client.get(f"/v2/upproj/cas/environments/{env_id}")
        assert shown.status_code == 200 and shown.json()["name"] == "survivor"
    finally:
        stop(proc)
