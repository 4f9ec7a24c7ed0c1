"""What stock ServiceComb clients call besides registration and discovery, end to end: health and
version, the tags API, large payloads (2 MiB requests, 2.4 MB of schemas back with withSchema=1)
and batches of 1,000 entries (go-chassis' batch find and heartbeat). One system of its own: the
edge's body limit at Service-Center's 2 MiB and a registry address of its own."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid

import httpx
import pytest

from tests.support.signing import SignedClient
from tests.support.system import ADMIN, TOKEN_A, start_system

PROJECT = "clients"
ADVERTISED = "http://registry.example:30100"
TWO_MIB = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    env = {"OPENSTAGE_REGISTRY_ADVERTISE_URL": ADVERTISED}  # the default body limits
    rs = start_system(tmp_path_factory.mktemp("registry-clients"), ["registry"], extra_env=env)
    yield rs
    rs.system.stop()


@pytest.fixture(scope="module")
def client(system):
    c = SignedClient(system.base_url, ADMIN.ak, ADMIN.sk, timeout=30)
    yield c
    c.close()


def base(project: str = PROJECT) -> str:
    return f"/v4/{project}/registry"


def create_service(client, name: str, app: str = "shop") -> str:
    r = client.post(f"{base()}/microservices", json={"service": {"serviceName": name, "appId": app, "version": "1.0.0"}})
    assert r.status_code == 200, r.text
    return r.json()["serviceId"]


def test_health_and_version(system, client):
    for path in (f"{base()}/version", "/v4/default/registry/version"):
        r = client.get(path)
        assert r.status_code == 200, r.text
        assert r.json()["apiVersion"] == "4.0.0" and set(r.json()) == {"version", "buildTag", "goVersion", "os", "arch", "apiVersion"}
    assert httpx.get(f"{system.base_url}/version").json()["apiVersion"] == "4.0.0"
    for r in (client.get(f"{base()}/health"), client.get(f"{base()}/health/readiness"), httpx.get(f"{system.base_url}/health")):
        assert r.status_code == 200, r.text
        [instance] = r.json()["instances"]
        assert instance["endpoints"] == ["rest://registry.example:30100"] and instance["status"] == "UP"


def test_servicecenter_kie_and_config_center_found_from_any_app(client):
    """java-chassis 3 SCAddressManager: GET /instances?appId=default&serviceName=SERVICECENTER&global=true."""
    for name in ("SERVICECENTER", "KIE", "CseConfigCenter"):
        for project in (PROJECT, "default"):
            r = client.get(
                f"{base(project)}/instances", params={"appId": "default", "serviceName": name, "global": "true", "version": "latest"}
            )
            assert r.status_code == 200, r.text
            assert [i["endpoints"] for i in r.json()["instances"]] == [["rest://registry.example:30100"]]
    services = client.get(f"{base()}/microservices").json().get("services", [])
    assert not [s for s in services if s["appId"] == "default"]


def test_tags_api(client):
    sid = create_service(client, f"tagged{uuid.uuid4().hex[:8]}")
    tags = f"{base()}/microservices/{sid}/tags"
    r = client.get(tags)
    assert r.status_code == 200 and r.json() == {}
    r = client.post(tags, json={"tags": {"team": "pay", "tier": "gold"}})
    assert r.status_code == 200 and r.content == b""
    assert client.get(tags).json() == {"tags": {"team": "pay", "tier": "gold"}}
    assert client.put(f"{tags}/team", params={"value": "ops"}).status_code == 200
    r = client.put(f"{tags}/nope", params={"value": "x"})
    assert r.status_code == 400 and r.json()["errorCode"] == "400018"
    r = client.delete(f"{tags}/team,nope")
    assert r.status_code == 400 and r.json()["errorCode"] == "400018"
    assert client.delete(f"{tags}/team,tier").status_code == 200
    assert client.get(tags).json() == {}
    r = client.get(f"{base()}/microservices/{'0' * 40}/tags")
    assert r.status_code == 400 and r.json()["errorCode"] == "400012"


def test_large_schemas_and_the_2_mib_body_limit(client):
    sid = create_service(client, f"big{uuid.uuid4().hex[:8]}")
    schema = "x" * 800_000
    for i in range(3):  # 2.4 MB of schemas, each request under 2 MiB
        r = client.put(f"{base()}/microservices/{sid}/schemas/s{i}", json={"schema": schema + str(i), "summary": f"sum{i}"})
        assert r.status_code == 200, r.text
    r = client.get(f"{base()}/microservices/{sid}/schemas", params={"withSchema": "1"})
    assert r.status_code == 200, r.text[:200]
    assert len(r.content) > 2_400_000 and [s["schema"][-1] for s in r.json()["schemas"]] == ["0", "1", "2"]

    envelope = b'{"schema":"","summary":"s"}'
    exactly = b'{"schema":"' + b"y" * (TWO_MIB - len(envelope)) + b'","summary":"s"}'
    assert len(exactly) == TWO_MIB
    r = client.put(f"{base()}/microservices/{sid}/schemas/full", content=exactly)
    assert r.status_code == 200, r.text[:300]
    too_big = b'{"schema":"' + b"y" * (TWO_MIB - len(envelope) + 1) + b'","summary":"s"}'
    r = client.put(f"{base()}/microservices/{sid}/schemas/over", content=too_big)
    # refused before it reaches the registry, as Service-Center refuses it
    assert r.status_code == 400 and r.json()["errorCode"] == "400001", r.text
    assert r.json()["errorMessage"] == "http: request body too large", r.text


def test_batches_of_1000(client):
    app = f"many{uuid.uuid4().hex[:6]}"
    sids = [create_service(client, f"p{i}", app=app) for i in range(1000)]
    instances = []
    for sid in sids[:150]:
        r = client.post(
            f"{base()}/microservices/{sid}/instances", json={"instance": {"hostName": "h", "endpoints": [f"rest://{sid[:8]}:1"]}}
        )
        assert r.status_code == 200, r.text
        instances.append({"serviceId": sid, "instanceId": r.json()["instanceId"]})
    batch = {"services": [{"service": {"appId": app, "serviceName": f"p{i}", "version": "latest"}} for i in range(1000)]}
    started = time.monotonic()
    r = client.post(f"{base()}/instances/action", params={"type": "query"}, json=batch)
    took = time.monotonic() - started
    assert r.status_code == 200, r.text[:300]
    updated = r.json()["services"]["updated"]
    assert len(updated) == 1000 and sum(len(u.get("instances", [])) for u in updated) == 150
    print(f"\nbatch find of 1000 providers over HTTP: {took:.2f}s")
    beats = (instances * 7)[:1000]
    r = client.put(f"{base()}/heartbeats", json={"Instances": beats})
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["instances"]) == 150 and not any("errMessage" in i for i in r.json()["instances"])


def test_govern_views(client):
    """go-chassis sc-client GetAllResources / GetAllApplications (client.go lines 491-517, 727-755)."""
    sid = create_service(client, f"gov{uuid.uuid4().hex[:8]}", app="governed")
    r = client.get("/v4/clients/govern/microservices", params={"options": "instances,tags", "appId": "governed"})
    assert r.status_code == 200, r.text
    assert [d["microService"]["serviceId"] for d in r.json()["allServicesDetail"]] == [sid]
    r = client.get("/v4/clients/govern/apps")
    assert r.status_code == 200 and "governed" in r.json()["appIds"] and "default" not in r.json()["appIds"]
    r = client.get(f"/v4/clients/govern/microservices/{sid}")
    assert r.status_code == 200 and r.json()["service"]["microService"]["serviceId"] == sid
    for path in ("/v4/clients/govern/relations", "/v4/clients/govern/statistics"):
        assert client.get(path).status_code == 200


def test_unknown_routes_domain_header_and_empty_fields(client):
    for method, path in (("GET", f"{base()}/nothing/here"), ("POST", f"{base()}/microservices/x/nope"), ("GET", "/v4/clients/govern/nope")):
        r = client.request(method, path)
        assert r.status_code == 404 and r.json()["errorCode"] == "404001", (path, r.text)
        assert int(r.json()["errorCode"]) // 1000 == r.status_code
    # X-Domain-Name enters the generated serviceId as Service-Center's sha1 of the index key
    name = f"dom{uuid.uuid4().hex[:8]}"
    r = client.post(
        f"{base()}/microservices",
        json={"service": {"serviceName": name, "appId": "a", "version": "1.0.0"}},
        headers={"X-Domain-Name": "acme"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["serviceId"] == hashlib.sha1(f"/cse-sr/ms/indexes/acme/{PROJECT}//a/{name}/1.0.0".encode()).hexdigest()
    # no environment, empty properties: left out as Go's omitempty does
    sid = r.json()["serviceId"]
    r = client.post(
        f"{base()}/microservices/{sid}/instances", json={"instance": {"hostName": "h", "endpoints": ["rest://1.2.3.4:5"], "properties": {}}}
    )
    iid = r.json()["instanceId"]
    service = client.get(f"{base()}/microservices/{sid}").json()["service"]
    assert "environment" not in service and "properties" not in service
    instance = client.get(f"{base()}/microservices/{sid}/instances/{iid}").json()["instance"]
    assert "properties" not in instance


def test_websocket_heartbeat(system, client):
    """go-chassis sc-client WSHeartbeat (client.go lines 806-866): the lease lives while the socket
    does; a missing instance is closed with 4001 (the client registers again)."""
    import websockets

    project = "tenanta"  # the token's project
    r = client.post(f"{base(project)}/microservices", json={"service": {"serviceName": f"ws{uuid.uuid4().hex[:8]}", "version": "1.0.0"}})
    sid = r.json()["serviceId"]
    instance = {"hostName": "h", "endpoints": ["rest://1.2.3.4:5"], "healthCheck": {"mode": "push", "interval": 1, "times": 1}}
    iid = client.post(f"{base(project)}/microservices/{sid}/instances", json={"instance": instance}).json()["instanceId"]
    url = "ws" + system.base_url[len("http") :] + f"{base(project)}/microservices/{sid}/instances/{iid}/heartbeat"
    one = f"{base(project)}/microservices/{sid}/instances/{iid}"

    async def scenario() -> None:
        async with websockets.connect(url, additional_headers={"X-Auth-Token": TOKEN_A}, open_timeout=10) as ws:
            await ws.send("hello")  # read and dropped
            await asyncio.sleep(4.5)  # the TTL is 2 s: only the socket keeps the instance
            assert (await asyncio.to_thread(client.get, one)).status_code == 200
        await asyncio.sleep(4)
        assert (await asyncio.to_thread(client.get, one)).status_code == 400  # expired once the socket went
        gone = url.replace(iid, "0" * 32)
        async with websockets.connect(gone, additional_headers={"X-Auth-Token": TOKEN_A}, open_timeout=10) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4001 and "does not exist" in closed.value.rcvd.reason

    asyncio.run(scenario())


def test_instances_status_by_properties(client):
    sid = create_service(client, f"st{uuid.uuid4().hex[:8]}")
    body = {"instance": {"hostName": "h", "endpoints": ["rest://5.6.7.8:9"], "properties": {"group": f"g{sid[:6]}"}}}
    iid = client.post(f"{base()}/microservices/{sid}/instances", json=body).json()["instanceId"]
    r = client.put(f"{base()}/instances/status", json={"matches": {"properties": {"group": f"g{sid[:6]}"}}, "status": "OUTOFSERVICE"})
    assert r.status_code == 200 and r.content == b"", r.text
    assert client.get(f"{base()}/microservices/{sid}/instances/{iid}").json()["instance"]["status"] == "OUTOFSERVICE"
