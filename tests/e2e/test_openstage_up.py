"""`openstage up` as a user runs it: one command, ready quickly, stops cleanly, keeps data."""

from __future__ import annotations

import json
import time

import httpx
import psutil
import pytest

from openstage.processes import free_port
from tests.support.signing import SignedClient
from tests.support.up_command import UpRuns, stop_up, wait_ready


@pytest.fixture
def up_runs():
    runs = UpRuns()
    yield runs
    runs.cleanup()


def test_up_serves_stops_cleanly_and_keeps_data(tmp_path, up_runs):
    data_dir = tmp_path / "data"
    port = free_port()
    started = time.monotonic()
    proc = up_runs.start(data_dir, port)
    output = "".join(wait_ready(proc))
    assert time.monotonic() - started < 30
    assert f"http://127.0.0.1:{port}/docs" in output and str(data_dir) in output

    secret = data_dir / "credentials.json"
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    cred = json.loads(secret.read_text())[0]
    assert f"AK={cred['ak']}" in output and cred["projects"] == ["*"]

    client = SignedClient(f"http://127.0.0.1:{port}", cred["ak"], cred["sk"])
    body = {"name": "survivor", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "cce-1", "type": "cce"}]}
    env_id = client.post("/v2/upproj/cas/environments", json=body).json()["id"]

    children = stop_up(proc)
    assert proc.returncode == 0
    assert children and not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)

    proc = up_runs.start(data_dir, port)
    wait_ready(proc)
    shown = client.get(f"/v2/upproj/cas/environments/{env_id}")
    assert shown.status_code == 200 and shown.json()["name"] == "survivor"
    stop_up(proc)
    assert proc.returncode == 0
