"""What the edge answers from memory (api_edge/registry_memory.py: heartbeats of live instances,
finds and unchanged re-registrations a worker answered before) stays what a worker would answer:
a client reads its own writes through the edge at once, a change made on the bus reaches the edge
with its event, and the heartbeats and re-registrations the edge answers still renew the lease."""

from __future__ import annotations

import asyncio
import json
import time

import nats

from services.contracts import subjects
from tests.e2e.test_registry import assert_error, base, create_service, find, register, unique

PROJECT = "regtest"


def _instances(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {i["instanceId"] for i in response.json().get("instances", [])}


def _on_bus(nats_url: str, action: str, payload: dict) -> dict:
    """A registry command sent straight on the bus, as a client of the bus sends it (not through the edge)."""

    async def send() -> dict:
        nc = await nats.connect(nats_url)
        try:
            msg = await nc.request(subjects.command(PROJECT, "registry", action), json.dumps(payload).encode(), timeout=10)
            return json.loads(msg.data)
        finally:
            await nc.close()

    return asyncio.run(send())


def _eventually(check, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not seen in time"
        time.sleep(0.05)


def test_a_heartbeat_after_a_deregistration_through_the_edge_is_refused_at_once(signed):
    sid = create_service(signed, unique())
    iid = register(signed, sid)
    beat = f"{base()}/microservices/{sid}/instances/{iid}/heartbeat"
    for _ in range(3):  # the first is answered by a worker, the next ones by the edge
        assert signed.put(beat).status_code == 200
    assert signed.delete(f"{base()}/microservices/{sid}/instances/{iid}").status_code == 200
    assert_error(signed.put(beat), 400, "400017")


def test_a_find_answered_before_shows_a_registration_through_the_edge_at_once(signed):
    name = unique()
    sid = create_service(signed, name)
    first = register(signed, sid)
    found = find(signed, name)
    assert _instances(found) == {first}
    assert _instances(find(signed, name)) == {first}  # the same find again: from the edge's memory
    rev = found.headers["X-Resource-Revision"]
    assert find(signed, name, rev=rev).status_code == 304
    assert find(signed, name, rev=rev).status_code == 304

    second = register(signed, sid)
    assert _instances(find(signed, name)) == {first, second}
    changed = find(signed, name, rev=rev)
    assert changed.status_code == 200 and _instances(changed) == {first, second}
    assert changed.headers["X-Resource-Revision"] != rev

    assert signed.delete(f"{base()}/microservices/{sid}/instances/{first}").status_code == 200
    assert _instances(find(signed, name)) == {second}


def test_changes_made_on_the_bus_reach_what_the_edge_answers(signed, running):
    name = unique()
    sid = create_service(signed, name)
    iid = register(signed, sid)
    beat = f"{base()}/microservices/{sid}/instances/{iid}/heartbeat"
    for _ in range(3):
        assert signed.put(beat).status_code == 200
        assert _instances(find(signed, name)) == {iid}

    # another instance registered and this one deregistered by a bus client, not through the edge
    other = {"hostName": "h2", "endpoints": ["rest://10.1.2.3:9090"]}
    added = _on_bus(running.nats_url, "instance.register", {"service_id": sid, "body": {"instance": other}})
    assert added["status"] == 200, added
    _eventually(lambda: _instances(find(signed, name)) == {iid, added["result"]["instanceId"]})
    gone = _on_bus(running.nats_url, "instance.delete", {"service_id": sid, "instance_id": iid})
    assert gone["status"] == 200, gone
    _eventually(lambda: signed.put(beat).status_code == 400)
    assert_error(signed.put(beat), 400, "400017")
    assert _instances(find(signed, name)) == {added["result"]["instanceId"]}


def test_reregistrations_the_edge_answers_renew_the_lease(signed):
    """Every second the same registration (Java chassis re-registers this way when its heartbeat
    fails): answered by the edge after the first ones, they keep an instance with a 4 s lease."""
    name = unique()
    sid = create_service(signed, name)
    instance = {"hostName": "h1", "endpoints": ["rest://10.9.8.7:8080"], "healthCheck": {"mode": "push", "interval": 2, "times": 1}}
    path = f"{base()}/microservices/{sid}/instances"
    ids = set()
    deadline = time.monotonic() + 6.5
    while time.monotonic() < deadline:
        r = signed.post(path, json={"instance": instance})
        assert r.status_code == 200, r.text
        ids.add(r.json()["instanceId"])
        time.sleep(1.0)
    assert len(ids) == 1
    assert _instances(find(signed, name)) == ids
    (iid,) = ids
    assert signed.get(f"{base()}/microservices/{sid}/instances/{iid}").status_code == 200


def test_a_changed_registration_is_not_answered_from_memory(signed):
    name = unique()
    sid = create_service(signed, name)
    path = f"{base()}/microservices/{sid}/instances"
    instance = {"hostName": "h1", "endpoints": ["rest://10.9.8.6:8080"], "properties": {"v": "1"}}
    ids = {signed.post(path, json={"instance": instance}).json()["instanceId"] for _ in range(3)}
    (iid,) = ids
    # the same endpoints with other properties: the worker updates the instance
    changed = {**instance, "properties": {"v": "2"}}
    assert signed.post(path, json={"instance": changed}).json()["instanceId"] == iid
    shown = signed.get(f"{base()}/microservices/{sid}/instances/{iid}").json()["instance"]
    assert shown["properties"] == {"v": "2"}
    # deregistered, the same registration again registers it anew (not answered from memory)
    assert signed.delete(f"{base()}/microservices/{sid}/instances/{iid}").status_code == 200
    again = signed.post(path, json={"instance": changed})
    assert again.status_code == 200
    assert signed.get(f"{base()}/microservices/{sid}/instances/{again.json()['instanceId']}").status_code == 200
    assert _instances(find(signed, name)) == {again.json()["instanceId"]}
