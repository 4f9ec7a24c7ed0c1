"""The registry watch through the running system: a consumer watches
/v4/{project}/registry/microservices/{consumerId}/watcher (WebSocket, signed upgrade) and sees
its provider's instance being registered, changing status and being deregistered, in order, as
Service-Center's WatchInstanceResponse messages."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.integration.test_registry_watch_edge import signed_headers
from tests.support.system import ADMIN

REG = "/v4/{project}/registry"


def create_service(signed, project: str, name: str, version: str = "1.0.0", app: str = "shop") -> str:
    r = signed.post(
        f"{REG.format(project=project)}/microservices", json={"service": {"serviceName": name, "appId": app, "version": version}}
    )
    assert r.status_code == 200, r.text
    return r.json()["serviceId"]


def depend(signed, project: str, consumer: tuple[str, str], provider: str, rule: str = "1.0.0+") -> None:
    name, version = consumer
    r = signed.put(
        f"{REG.format(project=project)}/dependencies",
        json={
            "dependencies": [
                {
                    "consumer": {"appId": "shop", "serviceName": name, "version": version},
                    "providers": [{"appId": "shop", "serviceName": provider, "version": rule}],
                }
            ]
        },
    )
    assert r.status_code == 200, r.text


def wait_providers(signed, project: str, consumer_id: str, expected: set[str], timeout: float = 10.0) -> None:
    """Dependencies may be recorded asynchronously (as Service-Center does): wait for them."""
    deadline = time.monotonic() + timeout
    got: set[str] = set()
    while time.monotonic() < deadline:
        r = signed.get(f"{REG.format(project=project)}/microservices/{consumer_id}/providers")
        assert r.status_code == 200, r.text
        got = {p["serviceId"] for p in r.json().get("providers", [])}
        if got == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"providers {got} != {expected}")


def register(signed, project: str, service_id: str, host: str) -> str:
    r = signed.post(
        f"{REG.format(project=project)}/microservices/{service_id}/instances",
        json={"instance": {"hostName": host, "endpoints": [f"rest://10.0.0.1:{8000 + len(host)}"], "properties": {"zone": "a"}}},
    )
    assert r.status_code == 200, r.text
    return r.json()["instanceId"]


def watch(base_url: str, project: str, service_id: str):
    path = f"{REG.format(project=project)}/microservices/{service_id}/watcher"
    return websockets.connect(
        "ws" + base_url[len("http") :] + path, additional_headers=signed_headers(base_url, ADMIN, path), open_timeout=10
    )


async def recv_json(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing_more(ws, timeout: float = 1.0) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return True
    return False


def test_watcher_sees_register_status_change_and_deregister_in_order(running, signed):
    project = f"watch{uuid.uuid4().hex[:8]}"
    consumer = create_service(signed, project, "web")
    provider = create_service(signed, project, "order")
    other = create_service(signed, project, "billing")
    depend(signed, project, ("web", "1.0.0"), "order")
    wait_providers(signed, project, consumer, {provider})
    base = REG.format(project=project)

    async def scenario():
        async with watch(running.base_url, project, consumer) as ws:
            await asyncio.to_thread(register, signed, project, other, "not-a-provider")
            await asyncio.to_thread(register, signed, project, consumer, "self")
            iid = await asyncio.to_thread(register, signed, project, provider, "h1")
            r = await asyncio.to_thread(signed.put, f"{base}/microservices/{provider}/instances/{iid}/status", params={"value": "DOWN"})
            assert r.status_code == 200, r.text
            r = await asyncio.to_thread(signed.delete, f"{base}/microservices/{provider}/instances/{iid}")
            assert r.status_code == 200, r.text

            got = [await recv_json(ws) for _ in range(3)]
            assert [m["action"] for m in got] == ["CREATE", "UPDATE", "DELETE"], got
            for m in got:
                assert list(m) == ["action", "key", "instance"]
                assert m["key"] == {"tenant": f"default/{project}", "appId": "shop", "serviceName": "order", "version": "1.0.0"}
                assert m["instance"]["instanceId"] == iid and m["instance"]["serviceId"] == provider
                assert m["instance"]["hostName"] == "h1" and m["instance"]["properties"] == {"zone": "a"}
            assert got[0]["instance"]["status"] == "UP"
            assert got[1]["instance"]["status"] == "DOWN" and got[2]["instance"]["status"] == "DOWN"
            # the other service's and the watcher's own instances are not the watcher's business
            assert await nothing_more(ws)

    asyncio.run(scenario())


def test_new_provider_version_is_watched_after_it_is_created(running, signed):
    """A ``1.0.0+`` dependency: a provider version created while watching is picked up."""
    project = f"watch{uuid.uuid4().hex[:8]}"
    consumer = create_service(signed, project, "web")
    provider = create_service(signed, project, "order")
    depend(signed, project, ("web", "1.0.0"), "order")
    wait_providers(signed, project, consumer, {provider})

    async def scenario():
        async with watch(running.base_url, project, consumer) as ws:
            v2 = await asyncio.to_thread(create_service, signed, project, "order", "2.0.0")
            iid = await asyncio.to_thread(register, signed, project, v2, "h2")
            msg = await recv_json(ws)
            assert msg["action"] == "CREATE" and msg["instance"]["instanceId"] == iid
            assert msg["key"]["version"] == "2.0.0"

    asyncio.run(scenario())


def test_watch_of_an_unknown_service(running):
    async def scenario():
        for service_id in ("0" * 40, "x" * 100):
            async with watch(running.base_url, f"watch{uuid.uuid4().hex[:8]}", service_id) as ws:
                assert await asyncio.wait_for(ws.recv(), 10) == "service does not exist"
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)

    asyncio.run(scenario())
