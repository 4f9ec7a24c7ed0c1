"""Events: one CloudEvent per environment change, and none lost or duplicated across a worker
crash (outbox + JetStream Nats-Msg-Id dedupe). Runs its own system: it kills workers."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime

import httpx
import nats
from pymongo import AsyncMongoClient

from services.contracts.events import CloudEvent
from tests.support.events import read_events
from tests.support.signing import SignedClient
from tests.support.system import ADMIN

ENV = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}


def test_one_cloudevent_per_environment_change(lifecycle_system):
    client = SignedClient(lifecycle_system.base_url, ADMIN.ak, ADMIN.sk)
    created = client.post("/v2/evproj/cas/environments", json={"name": "ev-one", **ENV}).json()
    env_id = created["id"]
    assert client.put(f"/v2/evproj/cas/environments/{env_id}", json={"alias": "A"}).status_code == 200
    assert (
        client.patch(
            f"/v2/evproj/cas/environments/{env_id}/resources", json={"add_optional_resources": [{"id": "elb-9", "type": "elb"}]}
        ).status_code
        == 200
    )
    assert client.delete(f"/v2/evproj/cas/environments/{env_id}").status_code == 204
    # a refused change emits nothing
    assert client.put(f"/v2/evproj/cas/environments/{env_id}", json={"alias": "B"}).status_code == 404

    got = asyncio.run(read_events(lifecycle_system.nats_url, "openstage.evt.evproj.lifecycle.environment.>"))
    types = [g["event"]["type"] for g in got]
    assert types == [
        "io.openstage.lifecycle.environment.created",
        "io.openstage.lifecycle.environment.updated",
        "io.openstage.lifecycle.environment.resources_changed",
        "io.openstage.lifecycle.environment.deleted",
    ]
    for g in got:
        evt = CloudEvent.model_validate(g["event"])  # a well-formed CloudEvent 1.0
        assert evt.specversion == "1.0" and evt.source == "/openstage/lifecycle"
        assert evt.subject == f"/v2/evproj/cas/environments/{env_id}"
        assert evt.data["id"] == env_id and evt.openstageproject == "evproj"
        assert g["headers"].get("Nats-Msg-Id") == evt.id
        assert g["subject"] == evt.openstagesubject
    assert got[1]["event"]["data"]["alias"] == "A"
    assert [r["id"] for r in got[2]["event"]["data"]["optional_resources"]] == ["elb-9"]
    assert len({g["event"]["id"] for g in got}) == 4


def test_no_loss_or_duplicate_across_worker_crash(lifecycle_system):
    """Simulate both crash windows of the outbox: (1) committed but never published,
    (2) published but not yet removed from the outbox. After the worker is SIGKILLed and
    restarted, every event is on the stream exactly once."""
    client = SignedClient(lifecycle_system.base_url, ADMIN.ak, ADMIN.sk)
    before = client.post("/v2/crashproj/cas/environments", json={"name": "before-crash", **ENV})
    assert before.status_code == 200

    worker = lifecycle_system.system.children["worker-lifecycle"]
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(5)

    def pending(name: str) -> CloudEvent:
        return CloudEvent.new(
            "crashproj", "lifecycle", "environment", "created", resource_path=f"/v2/crashproj/cas/environments/{name}", data={"id": name}
        )

    never_published, published_not_cleared = pending("lost-1"), pending("dup-1")

    async def leave_crash_state() -> None:
        async with AsyncMongoClient(lifecycle_system.mongodb_url, tz_aware=True) as mc:
            now = datetime.now(UTC)
            for e in (never_published, published_not_cleared):
                await mc.openstage_lifecycle.outbox.insert_one(
                    {"_id": e.id, "subject": e.openstagesubject, "payload": e.model_dump_json().encode(), "created": now}
                )
        nc = await nats.connect(lifecycle_system.nats_url)
        await nc.jetstream().publish(
            published_not_cleared.openstagesubject,
            published_not_cleared.model_dump_json().encode(),
            headers={"Nats-Msg-Id": published_not_cleared.id},
        )
        await nc.close()

    asyncio.run(leave_crash_state())
    lifecycle_system.restart_worker("lifecycle")
    after = client.post("/v2/crashproj/cas/environments", json={"name": "after-crash", **ENV})
    assert after.status_code == 200

    async def outbox_size() -> int:
        async with AsyncMongoClient(lifecycle_system.mongodb_url) as mc:
            return await mc.openstage_lifecycle.outbox.count_documents({})

    deadline = time.monotonic() + 15
    while asyncio.run(outbox_size()) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert asyncio.run(outbox_size()) == 0

    got = asyncio.run(read_events(lifecycle_system.nats_url, "openstage.evt.crashproj.>"))
    ids = [g["event"]["id"] for g in got]
    assert len(ids) == len(set(ids)) == 4
    assert never_published.id in ids and published_not_cleared.id in ids
    names = [g["event"]["data"].get("name") for g in got]
    assert "before-crash" in names and "after-crash" in names


def test_worker_down_gives_503_quickly_then_recovers(lifecycle_system):
    client = SignedClient(lifecycle_system.base_url, ADMIN.ak, ADMIN.sk)
    worker = lifecycle_system.system.children["worker-lifecycle"]
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(10)
    started = time.monotonic()
    r = client.get("/v2/downproj/cas/environments")
    elapsed = time.monotonic() - started
    assert r.status_code == 503 and r.json()["error_code"] == "SVCSTG.00100503"
    assert elapsed < 5
    ready = httpx.get(f"{lifecycle_system.base_url}/readyz")
    assert ready.status_code == 503 and "lifecycle" in ready.json()["reason"]

    lifecycle_system.restart_worker("lifecycle")
    assert client.get("/v2/downproj/cas/environments").status_code == 200
    created = client.post("/v2/downproj/cas/environments", json={"name": "back-again", **ENV})
    assert created.status_code == 200
