"""`openstage jobs watch`: follows a job live (over the bus or signed HTTP) and exits 0/1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from huaweicloudsdkservicestage.v2.model import CreateInstanceRequest

from tests.support.deploy import Target, instance_body
from tests.support.system import ADMIN

PROJECT = "cliproj"


def _watch(job_id: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTAGE_")}
    return subprocess.run(
        [sys.executable, "-m", "openstage.cli", "jobs", "watch", job_id, "-p", PROJECT, "--interval", "0.1", "--timeout", "60", *args],
        env={**base, "COLUMNS": "120", **env},
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_watch_over_the_bus_and_over_http(sdk_factory, running):
    client = sdk_factory(PROJECT)
    target = Target(client)
    ok = client.create_instance(CreateInstanceRequest(body=instance_body(target), **target.ids()))
    bad = client.create_instance(
        CreateInstanceRequest(body=instance_body(target, url="https://repo.example.invalid/web.jar"), **target.ids())
    )

    done = _watch(ok.job_id, {"OPENSTAGE_NATS_URL": running.nats_url}, "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["job"]["EXECUTION_STATUS"] == "SUCCEEDED" and job["task_count"] == len(job["tasks"]) >= 3
    assert "Pull artifacts" in done.stderr  # the live table went to stderr

    failed = _watch(bad.job_id, {"OPENSTAGE_ENDPOINT": running.base_url, "OPENSTAGE_AK": ADMIN.ak, "OPENSTAGE_SK": ADMIN.sk})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "cannot be resolved" in failed.stdout and "FAILED" in failed.stdout

    unknown = _watch("JOB-unknown", {"OPENSTAGE_ENDPOINT": running.base_url, "OPENSTAGE_AK": ADMIN.ak, "OPENSTAGE_SK": ADMIN.sk})
    assert unknown.returncode == 2 and "404" in unknown.stderr
