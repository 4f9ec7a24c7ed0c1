"""The edge's registry watch (WebSocket) against a stand-in registry: the test answers the
registry's bus queries (service.get, dependency.providers) and publishes the registry's instance
events itself, so the edge's part is checked on its own: authentication of the upgrade, the
existence check, filtering by providers, refresh on dependency changes, order and message shape.
The same behaviour through the real registry worker is tests/e2e/test_registry_watch.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import nats
import orjson
import pytest
import websockets
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from websockets.exceptions import ConnectionClosed, InvalidStatus

from openstage.processes import System, free_port
from services.contracts import subjects
from services.contracts.events import CloudEvent
from tests.support.system import ADMIN, TENANT_A, TENANT_B, Cred, RunningSystem, credentials_json, tokens_json

WATCH = "/v4/{project}/registry/microservices/{service}/watcher"


def signed_headers(base_url: str, cred: Cred, path: str) -> dict[str, str]:
    """The headers the Huawei SDK signer puts on a GET of ``path`` (for the WebSocket upgrade)."""
    req = SdkRequest(
        method="GET",
        schema="http",
        host=urlsplit(base_url).netloc,
        resource_path=path,
        query_params=[],
        header_params={"Content-Type": "application/json;charset=UTF-8"},
        body="",
    )
    Signer(BasicCredentials(cred.ak, cred.sk)).sign(req)
    return {k: v for k, v in req.header_params.items() if k.lower() != "host"}


def ws_connect(base_url: str, project: str, service: str, cred: Cred | None = ADMIN, headers: dict | None = None):
    path = WATCH.format(project=project, service=service)
    extra = dict(signed_headers(base_url, cred, path)) if cred else {}
    extra.update(headers or {})
    return websockets.connect("ws" + base_url[len("http") :] + path, additional_headers=extra, open_timeout=10)


@pytest.fixture(scope="module")
def edge_system(tmp_path_factory):
    """nats-server, the store, the config worker (it creates the events stream) and the edge; the
    registry is the test's stand-in, which also answers the registry's liveness ping."""
    data_dir = tmp_path_factory.mktemp("watch")
    env = {
        "OPENSTAGE_CREDENTIALS": credentials_json(),
        "OPENSTAGE_TOKENS": tokens_json(),
        "OPENSTAGE_REQUEST_TIMEOUT": "3",
        "OPENSTAGE_WORKERS": "config",
    }
    system = System(data_dir=data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
    try:
        system.start(["config"])
        system.wait_ready(timeout=60)
    except Exception:
        system.stop()
        raise
    yield RunningSystem(system, f"http://127.0.0.1:{system.port}")
    system.stop()


class StandInRegistry:
    """Answers service.get and dependency.providers from ``services`` / ``providers``."""

    def __init__(self, nats_url: str, project: str) -> None:
        self.nats_url = nats_url
        self.project = project
        self.services: dict[str, dict] = {}
        self.providers: dict[str, list[str]] = {}
        self.nc = None

    async def __aenter__(self):
        self.nc = await nats.connect(self.nats_url)
        await self.nc.subscribe(subjects.command(self.project, subjects.REGISTRY, "service.get"), cb=self._get)
        await self.nc.subscribe(subjects.command(self.project, subjects.REGISTRY, "dependency.providers"), cb=self._providers)
        self.js = self.nc.jetstream()
        return self

    async def __aexit__(self, *exc):
        await self.nc.close()

    async def _get(self, msg):
        sid = json.loads(msg.data)["service_id"]
        if sid in self.services:
            reply = {"status": 200, "result": {"service": self.services[sid]}}
        else:
            reply = {
                "status": 400,
                "error": {
                    "status": 400,
                    "error_code": "400012",
                    "error_msg": "Micro-service does not exist",
                    "detail": "Service does not exist.",
                },
            }
        await msg.respond(orjson.dumps(reply))

    async def _providers(self, msg):
        sid = json.loads(msg.data)["service_id"]
        found = [self.services[p] for p in self.providers.get(sid, [])]
        await msg.respond(orjson.dumps({"status": 200, "result": {"providers": found} if found else {}}))

    def add_service(self, name: str, version: str = "1.0.0", app: str = "shop", env: str = "") -> str:
        sid = uuid.uuid4().hex
        self.services[sid] = {"serviceId": sid, "appId": app, "serviceName": name, "version": version, "environment": env, "status": "UP"}
        return sid

    async def emit(self, entity: str, verb: str, data: dict) -> None:
        evt = CloudEvent.new(self.project, subjects.REGISTRY, entity, verb, resource_path=f"/v4/{self.project}", data=data)
        await self.js.publish(evt.openstagesubject, evt.model_dump_json().encode(), headers={"Nats-Msg-Id": evt.id})

    async def instance(self, verb: str, service_id: str, instance_id: str, status: str = "UP") -> dict:
        svc = self.services[service_id]
        inst = {
            "instanceId": instance_id,
            "serviceId": service_id,
            "hostName": "h1",
            "status": status,
            "endpoints": ["rest://10.0.0.1:8080"],
            "version": svc["version"],
            "timestamp": "1700000000",
            "modTimestamp": "1700000001",
        }
        await self.emit(
            "instance",
            verb,
            {
                "serviceId": service_id,
                "instanceId": instance_id,
                "instance": inst,
                "service": {k: svc[k] for k in ("appId", "serviceName", "version", "environment")},
            },
        )
        return inst


async def recv_json(ws, timeout: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def nothing_more(ws, timeout: float = 0.7) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        return True
    return False


def test_provider_instances_are_forwarded_in_order(edge_system):
    project = f"w{uuid.uuid4().hex[:8]}"

    async def scenario():
        async with StandInRegistry(edge_system.nats_url, project) as reg:
            consumer = reg.add_service("web")
            provider = reg.add_service("order", env="production")
            stranger = reg.add_service("billing")
            reg.providers[consumer] = [provider]
            async with ws_connect(edge_system.base_url, project, consumer) as ws:
                await reg.instance("registered", stranger, "s1")  # not a provider: not seen
                inst = await reg.instance("registered", provider, "i1")
                await reg.instance("status_changed", provider, "i1", status="DOWN")
                await reg.instance("updated", provider, "i1", status="DOWN")
                await reg.instance("deregistered", provider, "i1", status="DOWN")
                await reg.instance("expired", provider, "i2")
                got = [await recv_json(ws) for _ in range(5)]
                assert [m["action"] for m in got] == ["CREATE", "UPDATE", "UPDATE", "DELETE", "DELETE"]
                assert got[0] == {
                    "action": "CREATE",
                    "key": {
                        "tenant": f"default/{project}",
                        "environment": "production",
                        "appId": "shop",
                        "serviceName": "order",
                        "version": "1.0.0",
                    },
                    "instance": inst,
                }
                assert got[1]["instance"]["status"] == "DOWN" and got[4]["instance"]["instanceId"] == "i2"
                assert await nothing_more(ws)

                # a new dependency: the edge asks again and the new provider's changes come through
                reg.providers[consumer] = [provider, stranger]
                await reg.emit("dependency", "changed", {"consumerId": consumer})
                await reg.instance("registered", stranger, "s2")
                msg = await recv_json(ws)
                assert msg["action"] == "CREATE" and msg["key"]["serviceName"] == "billing"
                assert "environment" not in msg["key"]  # Go omitempty

                # the client's own (small) messages are ignored; a big one ends the watch (1009)
                await ws.send("ping")
                await reg.instance("registered", provider, "i3")
                assert (await recv_json(ws))["instance"]["instanceId"] == "i3"
                await ws.send("x" * 100)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd.code == 1009

    asyncio.run(scenario())


def test_domain_header_sets_the_tenant(edge_system):
    project = f"w{uuid.uuid4().hex[:8]}"

    async def scenario():
        async with StandInRegistry(edge_system.nats_url, project) as reg:
            consumer, provider = reg.add_service("web"), reg.add_service("order")
            reg.providers[consumer] = [provider]
            async with ws_connect(edge_system.base_url, project, consumer, headers={"X-Domain-Name": "acme"}) as ws:
                await reg.instance("registered", provider, "i1")
                assert (await recv_json(ws))["key"]["tenant"] == f"acme/{project}"

    asyncio.run(scenario())


def test_unknown_service_gets_service_center_text_and_close(edge_system):
    project = f"w{uuid.uuid4().hex[:8]}"

    async def scenario():
        async with StandInRegistry(edge_system.nats_url, project):
            async with ws_connect(edge_system.base_url, project, "nope") as ws:
                assert await asyncio.wait_for(ws.recv(), 5) == "service does not exist"
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)

    asyncio.run(scenario())


def test_upgrade_needs_a_signature_and_the_project(edge_system):
    async def status_of(**kw) -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(edge_system.base_url, "tenanta", "svc", **kw):
                pass
        return refused.value.response.status_code

    async def scenario():
        assert await status_of(cred=None) == 403
        assert await status_of(cred=TENANT_B) == 403
        forged = Cred(TENANT_A.ak, "wrong-secret", TENANT_A.projects)
        assert await status_of(cred=forged) == 403

    asyncio.run(scenario())


def test_without_registry_the_watch_ends_with_the_reason(edge_system):
    project = f"w{uuid.uuid4().hex[:8]}"

    async def scenario():
        async with ws_connect(edge_system.base_url, project, "svc") as ws:
            text = await asyncio.wait_for(ws.recv(), 10)
            assert "registry" in text
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 1011

    asyncio.run(scenario())
