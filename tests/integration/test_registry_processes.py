"""Two registry worker processes share the queue group: heartbeats, cached discovery and expiry
stay correct across them (caches follow the registry events; exactly one process expires a lease)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import nats
import pytest

from tests.support.system import another_worker, until

PROJECT = "regprocs"
B = f"/v4/{PROJECT}/registry"


@pytest.fixture
def second_registry(running):
    with another_worker(running, "registry") as child:
        yield child


def test_two_processes_stay_consistent(signed, running, second_registry):
    name = f"multi-{uuid.uuid4().hex[:8]}"
    sid = signed.post(f"{B}/microservices", json={"service": {"serviceName": name, "appId": "shop", "version": "1.0.0"}}).json()[
        "serviceId"
    ]
    hc = {"mode": "push", "interval": 2, "times": 1}
    beating = signed.post(
        f"{B}/microservices/{sid}/instances", json={"instance": {"hostName": "a", "endpoints": ["rest://1.0.0.1:1"], "healthCheck": hc}}
    ).json()["instanceId"]
    silent = signed.post(
        f"{B}/microservices/{sid}/instances", json={"instance": {"hostName": "b", "endpoints": ["rest://1.0.0.2:1"], "healthCheck": hc}}
    ).json()["instanceId"]
    params = {"appId": "shop", "serviceName": name}
    # warm both processes' caches (requests spread over the queue group)
    revs = {signed.get(f"{B}/instances", params=params).headers["X-Resource-Revision"] for _ in range(10)}
    assert len(revs) == 1

    assert signed.put(f"{B}/microservices/{sid}/instances/{beating}/status", params={"value": "DOWN"}).status_code == 200

    def all_see_down():
        statuses = []
        for _ in range(10):
            r = signed.get(f"{B}/instances", params=params)
            statuses.append({i["instanceId"]: i["status"] for i in r.json()["instances"]}[beating])
        return all(s == "DOWN" for s in statuses)

    assert until(all_see_down), "a process kept serving a stale discovery result"

    expired: list[dict] = []

    async def watch_and_beat():
        nc = await nats.connect(running.nats_url)

        async def cb(msg):
            expired.append(json.loads(msg.data))

        await nc.subscribe(f"openstage.evt.{PROJECT}.registry.instance.expired", cb=cb)
        loop = asyncio.get_running_loop()
        end = time.monotonic() + 6.0
        while time.monotonic() < end:
            for _ in range(3):  # several beats: they land on both processes
                r = await loop.run_in_executor(None, lambda: signed.put(f"{B}/microservices/{sid}/instances/{beating}/heartbeat"))
                assert r.status_code == 200, r.text
            await asyncio.sleep(0.8)
        await asyncio.sleep(0.5)
        await nc.close()

    asyncio.run(watch_and_beat())
    assert [e["data"]["instanceId"] for e in expired] == [silent]  # exactly once, by one process
    ids = until(lambda: {i["instanceId"] for i in signed.get(f"{B}/instances", params=params).json()["instances"]} == {beating})
    assert ids
    # both processes answer 400017 for the expired instance
    for _ in range(6):
        r = signed.put(f"{B}/microservices/{sid}/instances/{silent}/heartbeat")
        assert r.status_code == 400 and r.json()["errorCode"] == "400017"
