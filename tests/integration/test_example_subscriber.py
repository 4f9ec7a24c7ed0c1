"""examples/subscriber.py against the running system, as a tenant: it sees a project's changes as
CloudEvents in order, a second durable consumer replays them from a sequence, and a durable
consumer resumes after a restart with what happened while it was away."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.support.signing import SignedClient
from tests.support.system import TENANT_A

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"
PROJECT = "tenanta"
ENV_TYPES = "io.openstage.lifecycle.environment.*"
ENV = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}


class Subscriber:
    """The example as a subprocess; its stdout lines (events) and stderr (log) read in threads."""

    def __init__(self, running, durable: str, *extra: str) -> None:
        port = running.nats_url.rsplit(":", 1)[-1]
        env = {**os.environ, "OPENSTAGE_AK": TENANT_A.ak, "OPENSTAGE_SK": TENANT_A.sk, "PYTHONUNBUFFERED": "1"}
        env.pop("OPENSTAGE_NATS_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--server", f"nats://127.0.0.1:{port}", "--project", PROJECT, "--durable", durable, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        if not self._ready.wait(20):
            self.stop()
            raise AssertionError(f"subscriber never started consuming: {self.log}")

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            if line.startswith("consuming "):
                self._ready.set()

    def events_about(self, resource_path: str, count: int, timeout: float = 20.0) -> list[dict]:
        """The next ``count`` events whose subject is ``resource_path`` (others are skipped)."""
        found, deadline = [], time.monotonic() + timeout
        while len(found) < count:
            try:
                event = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"saw {found}, expected {count} events about {resource_path}; log: {self.log}") from None
            if event["subject"] == resource_path:
                found.append(event)
        return found

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def tenant_http(running):
    client = SignedClient(running.base_url, TENANT_A.ak, TENANT_A.sk)
    yield client
    client.close()


def test_example_subscriber_follows_replays_and_resumes(running, tenant_http):
    durable = f"example-{uuid.uuid4().hex[:8]}"
    live = Subscriber(running, durable, "--type", ENV_TYPES)
    try:
        created = tenant_http.post(f"/v2/{PROJECT}/cas/environments", json={"name": f"ex-{uuid.uuid4().hex[:8]}", **ENV})
        assert created.status_code == 200, created.text
        env_id = created.json()["id"]
        path = f"/v2/{PROJECT}/cas/environments/{env_id}"
        assert tenant_http.put(path, json={"description": "followed"}).status_code == 200
        assert tenant_http.delete(path).status_code == 204

        seen = live.events_about(path, 3)
        assert [e["type"] for e in seen] == [
            "io.openstage.lifecycle.environment.created",
            "io.openstage.lifecycle.environment.updated",
            "io.openstage.lifecycle.environment.deleted",
        ]
        sequences = [e["sequence"] for e in seen]
        assert sequences == sorted(sequences) and len(set(e["id"] for e in seen)) == 3
    finally:
        assert live.stop() == 0, live.log

    # a second durable consumer, created later, replays the same events from the first one's sequence
    replay = Subscriber(running, f"replay-{uuid.uuid4().hex[:8]}", "--type", ENV_TYPES, "--from-seq", str(sequences[0]))
    try:
        assert replay.events_about(path, 3) == seen
    finally:
        replay.stop()

    # the first durable consumer resumes after what it acknowledged: only what happened meanwhile
    other = tenant_http.post(f"/v2/{PROJECT}/cas/environments", json={"name": f"ex-{uuid.uuid4().hex[:8]}", **ENV})
    assert other.status_code == 200, other.text
    other_path = f"/v2/{PROJECT}/cas/environments/{other.json()['id']}"
    resumed = Subscriber(running, durable, "--type", ENV_TYPES)
    try:
        assert any(line.startswith(f"reusing durable consumer {durable}") for line in resumed.log)
        [event] = resumed.events_about(other_path, 1)
        assert event["type"] == "io.openstage.lifecycle.environment.created"
        assert event["sequence"] > sequences[-1]
        assert resumed.lines.empty() or all(e["subject"] != path for e in list(resumed.lines.queue))
    finally:
        resumed.stop()
        tenant_http.delete(other_path)


def test_example_subscriber_cannot_follow_another_project(running):
    port = running.nats_url.rsplit(":", 1)[-1]
    env = {**os.environ, "OPENSTAGE_AK": TENANT_A.ak, "OPENSTAGE_SK": TENANT_A.sk}
    proc = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--server",
            f"nats://127.0.0.1:{port}",
            "--project",
            "tenantb",
            "--durable",
            f"steal-{uuid.uuid4().hex[:8]}",
            "--count",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and not proc.stdout
    assert "NATS refused the consumer" in proc.stderr
