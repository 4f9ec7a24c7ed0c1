"""The Service-Center v4 compatible registry against the running system, with requests signed as
the Huawei SDK signs them (docs/registry-behaviour.md is the behaviour checked here)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import nats
import pytest

from services.contracts import subjects
from tests.support.signing import SignedClient
from tests.support.system import TENANT_A, TENANT_B

PROJECT = "regtest"


def unique(prefix: str = "svc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def base(project: str = PROJECT) -> str:
    return f"/v4/{project}/registry"


def create_service(client, name: str, version: str = "1.0.0", app: str = "shop", project: str = PROJECT, **fields) -> str:
    r = client.post(f"{base(project)}/microservices", json={"service": {"serviceName": name, "appId": app, "version": version, **fields}})
    assert r.status_code == 200, r.text
    return r.json()["serviceId"]


def register(client, sid: str, project: str = PROJECT, **fields) -> str:
    instance = {"hostName": "h1", "endpoints": [f"rest://10.0.0.{uuid.uuid4().int % 250}:8080"], **fields}
    r = client.post(f"{base(project)}/microservices/{sid}/instances", json={"instance": instance})
    assert r.status_code == 200, r.text
    return r.json()["instanceId"]


def find(client, name: str, app: str = "shop", project: str = PROJECT, headers=None, **params):
    return client.get(f"{base(project)}/instances", params={"appId": app, "serviceName": name, **params}, headers=headers)


def assert_error(r, status: int, code: str):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["errorCode"] == code, body
    assert "errorMessage" in body and "detail" in body


# ================================================================================================
# micro-services
# ================================================================================================
def test_create_get_list_and_reregister(signed):
    name = unique()
    sid = create_service(signed, name, properties={"k": "v"}, description="d")
    assert len(sid) == 40  # sha1 of the index key, as Service-Center's context uuid plugin
    r = signed.get(f"{base()}/microservices/{sid}")
    assert r.status_code == 200
    svc = r.json()["service"]
    assert svc["serviceId"] == sid and svc["serviceName"] == name and svc["appId"] == "shop"
    assert svc["version"] == "1.0.0" and svc["level"] == "BACK" and svc["status"] == "UP"
    assert svc["properties"] == {"k": "v"} and svc["timestamp"].isdigit() and svc["modTimestamp"].isdigit()

    # re-registering the same key answers the existing id and changes nothing
    assert create_service(signed, name, description="other") == sid
    assert signed.get(f"{base()}/microservices/{sid}").json()["service"]["description"] == "d"
    # ... also with the same id given; another id for the same key is 400010
    assert create_service(signed, name, serviceId=sid) == sid
    r = signed.post(
        f"{base()}/microservices", json={"service": {"serviceName": name, "appId": "shop", "version": "1.0.0", "serviceId": "other-id"}}
    )
    assert_error(r, 400, "400010")

    listed = signed.get(f"{base()}/microservices").json()["services"]
    assert sid in [s["serviceId"] for s in listed]
    filtered = signed.get(f"{base()}/microservices", params={"serviceName": name}).json()["services"]
    assert [s["serviceId"] for s in filtered] == [sid]
    assert signed.get(f"{base()}/microservices", params={"serviceName": unique()}).json() == {}

    # defaults: appId default, version 0.0.1
    sid2 = signed.post(f"{base()}/microservices", json={"service": {"serviceName": unique()}}).json()["serviceId"]
    svc2 = signed.get(f"{base()}/microservices/{sid2}").json()["service"]
    assert svc2["appId"] == "default" and svc2["version"] == "0.0.1"


def test_custom_service_id(signed):
    sid = f"custom-{uuid.uuid4().hex[:8]}"
    assert create_service(signed, unique(), serviceId=sid) == sid
    # the id is taken: another key with the same id is refused
    r = signed.post(
        f"{base()}/microservices", json={"service": {"serviceName": unique(), "appId": "shop", "version": "1.0.0", "serviceId": sid}}
    )
    assert_error(r, 400, "400010")


def test_unknown_service(signed):
    assert_error(signed.get(f"{base()}/microservices/nope-{uuid.uuid4().hex}"), 400, "400012")


def test_properties_replace(signed):
    sid = create_service(signed, unique(), properties={"a": "1", "b": "2"})
    r = signed.put(f"{base()}/microservices/{sid}/properties", json={"properties": {"c": "3"}})
    assert r.status_code == 200 and r.content == b""
    assert signed.get(f"{base()}/microservices/{sid}").json()["service"]["properties"] == {"c": "3"}
    r = signed.put(f"{base()}/microservices/missing-{uuid.uuid4().hex[:6]}/properties", json={"properties": {}})
    assert_error(r, 400, "400012")


def test_delete_refused_with_instances_then_forced(signed):
    name = unique()
    sid = create_service(signed, name)
    iid = register(signed, sid)
    assert_error(signed.delete(f"{base()}/microservices/{sid}"), 400, "400013")
    assert_error(signed.delete(f"{base()}/microservices/{sid}", params={"force": "maybe"}), 400, "400001")
    r = signed.delete(f"{base()}/microservices/{sid}", params={"force": "true"})
    assert r.status_code == 200, r.text
    assert_error(signed.get(f"{base()}/microservices/{sid}"), 400, "400012")
    assert_error(signed.get(f"{base()}/microservices/{sid}/instances/{iid}"), 400, "400012")
    assert_error(signed.put(f"{base()}/microservices/{sid}/instances/{iid}/heartbeat"), 400, "400017")
    # without instances a plain delete works
    sid2 = create_service(signed, unique())
    assert signed.delete(f"{base()}/microservices/{sid2}").status_code == 200


def test_batch_delete(signed):
    a = create_service(signed, unique())
    b = create_service(signed, unique())
    register(signed, b)
    missing = f"missing-{uuid.uuid4().hex[:6]}"
    r = signed.request("DELETE", f"{base()}/microservices", json={"serviceIds": [a, b, missing, a], "force": False})
    assert r.status_code == 200, r.text
    results = {x["serviceId"]: x for x in r.json()["services"]}
    assert list(results) == [a, b, missing]
    assert "errMessage" not in results[a]
    assert "deployed instance" in results[b]["errMessage"]
    assert "does not exist" in results[missing]["errMessage"]
    r = signed.request("DELETE", f"{base()}/microservices", json={"serviceIds": [b], "force": True})
    assert r.status_code == 200 and "errMessage" not in r.json()["services"][0]
    assert_error(signed.get(f"{base()}/microservices/{b}"), 400, "400012")
    assert_error(signed.request("DELETE", f"{base()}/microservices", json={"serviceIds": []}), 400, "400001")


# ================================================================================================
# schemas and existence
# ================================================================================================
def test_schemas(signed):
    sid = create_service(signed, unique())
    r = signed.put(f"{base()}/microservices/{sid}/schemas/hello", json={"schema": "openapi: 3.0", "summary": "abc1"})
    assert r.status_code == 200, r.text
    r = signed.get(f"{base()}/microservices/{sid}/schemas/hello")
    assert r.status_code == 200 and r.json() == {"schema": "openapi: 3.0"}
    assert r.headers["X-Schema-Summary"] == "abc1"
    signed.put(f"{base()}/microservices/{sid}/schemas/bye", json={"schema": "second"})
    listed = signed.get(f"{base()}/microservices/{sid}/schemas").json()["schemas"]
    assert listed == [{"schemaId": "hello", "summary": "abc1"}, {"schemaId": "bye"}]  # the service's order, as Service-Center
    full = signed.get(f"{base()}/microservices/{sid}/schemas", params={"withSchema": "1"}).json()["schemas"]
    assert {s["schemaId"]: s["schema"] for s in full} == {"bye": "second", "hello": "openapi: 3.0"}
    assert signed.get(f"{base()}/microservices/{sid}").json()["service"]["schemas"] == ["hello", "bye"]
    assert_error(signed.get(f"{base()}/microservices/{sid}/schemas", params={"withSchema": "2"}), 400, "400001")
    assert_error(signed.get(f"{base()}/microservices/{sid}/schemas/nope"), 400, "400016")
    assert_error(signed.put(f"{base()}/microservices/{sid}/schemas/x", json={"schema": ""}), 400, "400001")
    assert_error(signed.put(f"{base()}/microservices/{sid}/schemas/x", json={"schema": "s", "summary": "a-b"}), 400, "400001")
    assert_error(signed.get(f"{base()}/microservices/nope-{uuid.uuid4().hex[:6]}/schemas"), 400, "400012")
    assert signed.delete(f"{base()}/microservices/{sid}/schemas/bye").status_code == 200
    assert_error(signed.get(f"{base()}/microservices/{sid}/schemas/bye"), 400, "400016")


def test_existence(signed):
    name = unique()
    sid = create_service(signed, name, version="1.2.0")
    r = signed.get(f"{base()}/existence", params={"type": "microservice", "appId": "shop", "serviceName": name, "version": "1.2.0"})
    assert r.status_code == 200 and r.json() == {"serviceId": sid}
    r = signed.get(f"{base()}/existence", params={"type": "microservice", "appId": "shop", "serviceName": name, "version": "9.9.9"})
    assert_error(r, 400, "400026")
    r = signed.get(f"{base()}/existence", params={"type": "microservice", "appId": "shop", "serviceName": unique(), "version": "1.2.0"})
    assert_error(r, 400, "400012")
    r = signed.get(f"{base()}/existence", params={"type": "microservice", "appId": "shop", "serviceName": name, "version": "1.a"})
    assert_error(r, 400, "400001")

    signed.put(f"{base()}/microservices/{sid}/schemas/s1", json={"schema": "x", "summary": "sum1"})
    r = signed.get(f"{base()}/existence", params={"type": "schema", "serviceId": sid, "schemaId": "s1"})
    assert r.status_code == 200, r.text
    assert r.json()["serviceId"] == sid and r.json()["schemaId"] == "s1" and r.json()["summary"] == "sum1"
    assert r.headers["X-Schema-Summary"] == "sum1"
    assert_error(signed.get(f"{base()}/existence", params={"type": "schema", "serviceId": sid, "schemaId": "s2"}), 400, "400016")
    assert_error(signed.get(f"{base()}/existence", params={"type": "other"}), 400, "400001")


# ================================================================================================
# dependencies
# ================================================================================================
def test_dependencies_and_providers(signed):
    consumer_name, provider_name, later_name = unique("web"), unique("order"), unique("later")
    consumer = create_service(signed, consumer_name)
    p1 = create_service(signed, provider_name, version="1.0.0")
    p2 = create_service(signed, provider_name, version="2.0.0")
    body = {
        "dependencies": [
            {
                "consumer": {"appId": "shop", "serviceName": consumer_name, "version": "1.0.0"},
                "providers": [
                    {"appId": "shop", "serviceName": provider_name, "version": "latest"},
                    {"appId": "shop", "serviceName": later_name, "version": "1.0.0+"},
                ],
            }
        ]
    }
    r = signed.put(f"{base()}/dependencies", json=body)
    assert r.status_code == 200, r.text
    r = signed.get(f"{base()}/microservices/{consumer}/providers")
    assert r.status_code == 200
    assert [p["serviceId"] for p in r.json()["providers"]] == [p2]
    # a provider that did not exist yet shows up once registered
    later = create_service(signed, later_name, version="1.5.0")
    ids = {p["serviceId"] for p in signed.get(f"{base()}/microservices/{consumer}/providers").json()["providers"]}
    assert ids == {p2, later}
    assert p1 not in ids
    consumers = signed.get(f"{base()}/microservices/{p2}/consumers").json()["consumers"]
    assert [c["serviceId"] for c in consumers] == [consumer]
    # a provider other services depend on is not deleted without force
    assert_error(signed.delete(f"{base()}/microservices/{p2}"), 400, "400023")

    # the consumer must exist and have a concrete version; serviceName may not be *
    bad_consumer = {
        "dependencies": [
            {
                "consumer": {"appId": "shop", "serviceName": unique(), "version": "1.0.0"},
                "providers": [{"serviceName": provider_name, "version": "1.0.0"}],
            }
        ]
    }
    assert_error(signed.put(f"{base()}/dependencies", json=bad_consumer), 400, "400012")
    for consumer_key in (
        {"appId": "shop", "serviceName": consumer_name, "version": "1.0.0+"},
        {"appId": "shop", "serviceName": "*", "version": "1.0.0"},
    ):
        r = signed.put(
            f"{base()}/dependencies",
            json={"dependencies": [{"consumer": consumer_key, "providers": [{"serviceName": provider_name, "version": "1.0.0"}]}]},
        )
        assert_error(r, 400, "400001")
    assert_error(signed.get(f"{base()}/microservices/nope-{uuid.uuid4().hex[:6]}/providers"), 400, "400012")

    # PUT replaces the list
    r = signed.put(
        f"{base()}/dependencies",
        json={
            "dependencies": [
                {
                    "consumer": {"appId": "shop", "serviceName": consumer_name, "version": "1.0.0"},
                    "providers": [{"serviceName": provider_name, "version": "1.0.0-2.0.0"}],
                }
            ]
        },
    )
    assert r.status_code == 200
    assert [p["serviceId"] for p in signed.get(f"{base()}/microservices/{consumer}/providers").json()["providers"]] == [p1]


# ================================================================================================
# instances
# ================================================================================================
def test_instance_lifecycle(signed):
    sid = create_service(signed, unique(), version="3.1.0")
    iid = register(signed, sid, properties={"a": "b"}, healthCheck={"mode": "push", "interval": 30, "times": 3})
    assert len(iid) == 32
    r = signed.get(f"{base()}/microservices/{sid}/instances/{iid}")
    assert r.status_code == 200, r.text
    inst = r.json()["instance"]
    assert inst["instanceId"] == iid and inst["serviceId"] == sid and inst["status"] == "UP"
    assert inst["version"] == "3.1.0" and inst["properties"] == {"a": "b"}
    assert inst["healthCheck"] == {"mode": "push", "interval": 30, "times": 3}
    rev = r.headers["X-Resource-Revision"]
    r304 = signed.get(f"{base()}/microservices/{sid}/instances/{iid}", params={"rev": rev})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["X-Resource-Revision"] == rev

    listed = signed.get(f"{base()}/microservices/{sid}/instances")
    assert [i["instanceId"] for i in listed.json()["instances"]] == [iid]
    assert signed.get(f"{base()}/microservices/{sid}/instances", params={"rev": listed.headers["X-Resource-Revision"]}).status_code == 304

    r = signed.put(f"{base()}/microservices/{sid}/instances/{iid}/properties", json={"properties": {"x": "y"}})
    assert r.status_code == 200 and r.content == b""
    assert signed.get(f"{base()}/microservices/{sid}/instances/{iid}").json()["instance"]["properties"] == {"x": "y"}
    r = signed.put(f"{base()}/microservices/{sid}/instances/{iid}/status", params={"value": "OUTOFSERVICE"})
    assert r.status_code == 200
    assert signed.get(f"{base()}/microservices/{sid}/instances/{iid}").json()["instance"]["status"] == "OUTOFSERVICE"
    for value in ("RUNNING", "", "up"):
        assert_error(signed.put(f"{base()}/microservices/{sid}/instances/{iid}/status", params={"value": value}), 400, "400001")
    assert signed.put(f"{base()}/microservices/{sid}/instances/{iid}/heartbeat").status_code == 200

    r = signed.put(
        f"{base()}/heartbeats", json={"instances": [{"serviceId": sid, "instanceId": iid}, {"serviceId": sid, "instanceId": "nope"}]}
    )
    assert r.status_code == 200
    results = r.json()["instances"]
    assert "errMessage" not in results[0] and "Instance does not exist" in results[1]["errMessage"]

    assert signed.delete(f"{base()}/microservices/{sid}/instances/{iid}").status_code == 200
    assert_error(signed.get(f"{base()}/microservices/{sid}/instances/{iid}"), 400, "400017")
    assert_error(signed.put(f"{base()}/microservices/{sid}/instances/{iid}/heartbeat"), 400, "400017")
    assert_error(signed.delete(f"{base()}/microservices/{sid}/instances/{iid}"), 400, "400017")
    assert signed.get(f"{base()}/microservices/{sid}/instances").json() == {}
    assert_error(register_raw(signed, f"missing-{uuid.uuid4().hex[:6]}", {"hostName": "h"}), 400, "400012")


def register_raw(client, sid: str, instance: dict, project: str = PROJECT):
    return client.post(f"{base(project)}/microservices/{sid}/instances", json={"instance": instance})


def test_custom_instance_id_overwrites_and_duplicate_endpoints_reuse_id(signed):
    sid = create_service(signed, unique())
    custom = f"inst-{uuid.uuid4().hex[:8]}"
    r = register_raw(signed, sid, {"instanceId": custom, "hostName": "h1", "endpoints": ["rest://1.1.1.1:1"], "properties": {"v": "1"}})
    assert r.json()["instanceId"] == custom
    r = register_raw(signed, sid, {"instanceId": custom, "hostName": "h2", "endpoints": ["rest://2.2.2.2:2"]})
    assert r.json()["instanceId"] == custom
    inst = signed.get(f"{base()}/microservices/{sid}/instances/{custom}").json()["instance"]
    assert inst["hostName"] == "h2" and inst["endpoints"] == ["rest://2.2.2.2:2"] and "properties" not in inst

    eps = ["rest://10.1.1.1:8080", "highway://10.1.1.1:7070"]
    first = register_raw(signed, sid, {"hostName": "a", "endpoints": eps}).json()["instanceId"]
    again = register_raw(signed, sid, {"hostName": "b", "endpoints": list(reversed(eps))}).json()["instanceId"]
    assert again == first
    assert signed.get(f"{base()}/microservices/{sid}/instances/{first}").json()["instance"]["hostName"] == "b"
    other = register_raw(signed, sid, {"hostName": "c", "endpoints": ["rest://10.9.9.9:1"]}).json()["instanceId"]
    assert other != first
    # the same endpoints under another service are another instance
    sid2 = create_service(signed, unique())
    assert register_raw(signed, sid2, {"hostName": "a", "endpoints": eps}).json()["instanceId"] != first
    assert len(signed.get(f"{base()}/microservices/{sid}/instances").json()["instances"]) == 3


# ================================================================================================
# discovery
# ================================================================================================
def test_find_with_version_rules(signed):
    name = unique("order")
    ids = {v: create_service(signed, name, version=v) for v in ("1.0.0", "1.5.0", "2.0.0")}
    inst = {v: register(signed, sid) for v, sid in ids.items()}

    def versions(**params):
        r = find(signed, name, **params)
        assert r.status_code == 200, r.text
        return sorted(i["version"] for i in r.json().get("instances", []))

    assert versions() == ["1.0.0", "1.5.0", "2.0.0"]
    assert versions(version="latest") == ["2.0.0"]
    assert versions(version="1.5.0+") == ["1.5.0", "2.0.0"]
    assert versions(version="1.0.0-2.0.0") == ["1.0.0", "1.5.0"]
    assert versions(version="1.5.0") == ["1.5.0"]
    assert versions(version="3.0.0+") == []
    assert_error(find(signed, name, version="1.a"), 400, "400001")
    assert_error(find(signed, name, version="9.9.9"), 400, "400012")
    assert_error(find(signed, unique()), 400, "400012")
    r = find(signed, name, version="latest")
    assert [i["instanceId"] for i in r.json()["instances"]] == [inst["2.0.0"]]


def test_rev_round_trip_and_status_change(signed):
    name = unique()
    sid = create_service(signed, name)
    iid = register(signed, sid)
    r = find(signed, name)
    rev = r.headers["X-Resource-Revision"]
    assert r.json()["instances"][0]["status"] == "UP"
    again = find(signed, name, rev=rev)
    assert again.status_code == 304 and again.content == b"" and again.headers["X-Resource-Revision"] == rev
    # heartbeats change nothing
    signed.put(f"{base()}/microservices/{sid}/instances/{iid}/heartbeat")
    assert find(signed, name, rev=rev).status_code == 304

    assert signed.put(f"{base()}/microservices/{sid}/instances/{iid}/status", params={"value": "DOWN"}).status_code == 200
    changed = find(signed, name, rev=rev)
    assert changed.status_code == 200
    assert changed.headers["X-Resource-Revision"] != rev
    assert [i["status"] for i in changed.json()["instances"]] == ["DOWN"]  # still returned, marked DOWN
    # a new instance changes the revision too
    rev2 = changed.headers["X-Resource-Revision"]
    register(signed, sid)
    assert find(signed, name, rev=rev2).status_code == 200


def test_consumer_header_records_dependency_and_checks_access(signed):
    provider_name, other_app_name = unique("prov"), unique("cross")
    consumer = create_service(signed, unique("cons"))
    provider = create_service(signed, provider_name)
    register(signed, provider)
    r = find(signed, provider_name, headers={"X-ConsumerId": consumer})
    assert r.status_code == 200 and len(r.json()["instances"]) == 1
    providers = signed.get(f"{base()}/microservices/{consumer}/providers").json()["providers"]
    assert [p["serviceId"] for p in providers] == [provider]
    assert_error(find(signed, provider_name, headers={"X-ConsumerId": f"nope-{uuid.uuid4().hex[:6]}"}), 400, "400012")

    # another app's provider is visible only with allowCrossApp
    closed = create_service(signed, other_app_name, app="other")
    register(signed, closed)
    r = find(signed, other_app_name, app="other", headers={"X-ConsumerId": consumer})
    assert r.status_code == 200 and r.json() == {}
    signed.put(f"{base()}/microservices/{closed}/properties", json={"properties": {"allowCrossApp": "true"}})
    r = find(signed, other_app_name, app="other", headers={"X-ConsumerId": consumer})
    assert len(r.json()["instances"]) == 1


def test_batch_find(signed):
    name = unique()
    sid = create_service(signed, name)
    iid = register(signed, sid)
    rev = find(signed, name).headers["X-Resource-Revision"]
    body = {
        "services": [
            {"service": {"appId": "shop", "serviceName": name, "version": "latest"}},
            {"service": {"appId": "shop", "serviceName": name}, "rev": rev},
            {"service": {"appId": "shop", "serviceName": unique()}},
        ],
        "instances": [{"instance": {"serviceId": sid, "instanceId": iid}}, {"instance": {"serviceId": sid, "instanceId": "missing"}}],
    }
    r = signed.post(f"{base()}/instances/action", params={"type": "query"}, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    services = out["services"]
    assert services["updated"][0]["index"] == 0 and services["updated"][0]["rev"]
    assert [i["instanceId"] for i in services["updated"][0]["instances"]] == [iid]
    assert services["notModified"] == [1]
    assert services["failed"] == [{"indexes": [2], "error": services["failed"][0]["error"]}]
    assert services["failed"][0]["error"]["errorCode"] == "400012"
    instances = out["instances"]
    assert instances["updated"][0]["instances"][0]["instanceId"] == iid
    assert instances["failed"][0]["indexes"] == [1] and instances["failed"][0]["error"]["errorCode"] == "400017"
    assert_error(signed.post(f"{base()}/instances/action", params={"type": "other"}, json=body), 400, "400001")
    assert_error(signed.post(f"{base()}/instances/action", params={"type": "query"}, json={}), 400, "400001")


# ================================================================================================
# health: leases expire
# ================================================================================================
def test_ttl_expiry_while_a_beating_instance_stays(signed, running):
    name = unique()
    sid = create_service(signed, name)
    hc = {"mode": "push", "interval": 2, "times": 1}
    silent = register(signed, sid, healthCheck=hc)
    beating = register(signed, sid, healthCheck=hc)
    inst = signed.get(f"{base()}/microservices/{sid}/instances/{silent}").json()["instance"]
    assert inst["healthCheck"] == hc  # not raised to Service-Center's minimum

    events = asyncio.run(
        _collect_events(
            running.nats_url,
            subjects.event(PROJECT, "registry", "instance", "expired"),
            lambda: _beat_for(signed, sid, beating, seconds=6.5),
        )
    )
    ids = {i["instanceId"] for i in find(signed, name).json().get("instances", [])}
    assert ids == {beating}
    assert_error(signed.put(f"{base()}/microservices/{sid}/instances/{silent}/heartbeat"), 400, "400017")
    expired = [e for e in events if e["data"]["instanceId"] == silent]
    assert len(expired) == 1
    data = expired[0]["data"]
    assert data["serviceId"] == sid and data["instance"]["instanceId"] == silent
    assert data["service"] == {"appId": "shop", "serviceName": name, "version": "1.0.0", "environment": ""}


def _beat_for(client, sid: str, iid: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert client.put(f"{base()}/microservices/{sid}/instances/{iid}/heartbeat").status_code == 200
        time.sleep(1.0)


async def _collect_events(nats_url: str, subject: str, action) -> list[dict]:
    nc = await nats.connect(nats_url)
    got: list[dict] = []

    async def cb(msg):
        got.append(json.loads(msg.data))

    try:
        await nc.subscribe(subject, cb=cb)
        await nc.flush()
        await asyncio.get_running_loop().run_in_executor(None, action)
        await asyncio.sleep(0.3)
    finally:
        await nc.close()
    return got


def test_events_of_an_instance(signed, running):
    name = unique()
    sid = create_service(signed, name, version="2.0.0", environment="testing")

    def actions():
        iid = register(signed, sid)
        signed.put(f"{base()}/microservices/{sid}/instances/{iid}/status", params={"value": "DOWN"})
        signed.put(f"{base()}/microservices/{sid}/instances/{iid}/properties", json={"properties": {"p": "q"}})
        signed.put(f"{base()}/microservices/{sid}/instances/{iid}/heartbeat")
        signed.delete(f"{base()}/microservices/{sid}/instances/{iid}")

    events = asyncio.run(_collect_events(running.nats_url, f"openstage.evt.{PROJECT}.registry.instance.>", actions))
    mine = [e for e in events if e["data"]["serviceId"] == sid]
    assert [e["type"].rsplit(".", 1)[1] for e in mine] == ["registered", "status_changed", "updated", "deregistered"]
    assert mine[1]["data"]["instance"]["status"] == "DOWN"
    assert mine[2]["data"]["instance"]["properties"] == {"p": "q"}
    for e in mine:
        assert e["data"]["service"] == {"appId": "shop", "serviceName": name, "version": "2.0.0", "environment": "testing"}
        assert e["openstagesubject"].startswith(f"openstage.evt.{PROJECT}.registry.instance.")


# ================================================================================================
# bad input and isolation
# ================================================================================================
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"{}",
        json.dumps({"service": {"serviceName": "a" * 10240, "appId": "shop", "version": "1.0.0"}}).encode(),
        json.dumps({"service": {"serviceName": "ok", "appId": "shop", "version": "1.a"}}).encode(),
        json.dumps({"service": {"serviceName": {"$gt": ""}, "appId": "shop"}}).encode(),
        json.dumps({"service": {"serviceName": "a.b$c", "appId": "shop"}}).encode(),
        json.dumps({"service": {"serviceName": "ok", "appId": {"$ne": None}}}).encode(),
    ],
)
def test_bad_service_bodies(signed, body):
    r = signed.post(f"{base()}/microservices", content=body)
    assert_error(r, 400, "400001")


def test_operator_looking_values_are_literals(signed):
    sid = create_service(signed, unique(), properties={"$gt": "x", "a.b": "$where"})
    assert signed.get(f"{base()}/microservices/{sid}").json()["service"]["properties"] == {"$gt": "x", "a.b": "$where"}
    for value in ('{"$gt": ""}', "$where", "a.b$c", ".*"):
        r = signed.get(f"{base()}/microservices/{value}")
        assert r.status_code == 400 and r.json()["errorCode"] in ("400001", "400012")  # rejected or a literal
        r = signed.put(f"{base()}/microservices/{sid}/instances/{value}/heartbeat")
        assert r.status_code == 400 and r.json()["errorCode"] in ("400001", "400017")
        r = find(signed, value)
        assert r.status_code == 400 and r.json()["errorCode"] in ("400001", "400012")
        r = signed.get(f"{base()}/existence", params={"type": "schema", "serviceId": value, "schemaId": "x"})
        assert r.status_code == 400
    r = signed.get(f"{base()}/instances", params={"appId": '{"$gt": ""}', "serviceName": "x"})
    assert_error(r, 400, "400001")
    r = register_raw(signed, sid, {"hostName": "h", "instanceId": "$gt"})
    assert_error(r, 400, "400001")


def test_bad_instance_bodies(signed):
    sid = create_service(signed, unique())
    for instance in (
        {},
        {"hostName": ""},
        {"hostName": "h", "status": "RUNNING"},
        {"hostName": "h", "healthCheck": {"mode": "push", "interval": 0}},
        {"hostName": "h", "healthCheck": {"mode": "other", "interval": 3}},
    ):
        assert_error(register_raw(signed, sid, instance), 400, "400001")
    r = signed.post(f"{base()}/microservices/{sid}/instances", content=b"nope")
    assert_error(r, 400, "400001")


def test_cross_project_isolation(running, signed):
    a = SignedClient(running.base_url, TENANT_A.ak, TENANT_A.sk)
    b = SignedClient(running.base_url, TENANT_B.ak, TENANT_B.sk)
    try:
        name = unique()
        sid_a = create_service(a, name, project="tenanta")
        iid_a = register(a, sid_a, project="tenanta")
        # tenant B may not touch tenanta at all
        for method, path in (
            ("GET", f"{base('tenanta')}/microservices/{sid_a}"),
            ("GET", f"{base('tenanta')}/microservices"),
            ("PUT", f"{base('tenanta')}/microservices/{sid_a}/instances/{iid_a}/heartbeat"),
            ("GET", f"{base('tenanta')}/instances?appId=shop&serviceName={name}"),
            ("DELETE", f"{base('tenanta')}/microservices/{sid_a}"),
        ):
            path, _, query = path.partition("?")
            params = dict(p.split("=") for p in query.split("&")) if query else None
            r = b.request(method, path, params=params)
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["errorCode"] == "403001" or r.json()["errorCode"]
        # the same key in tenantb is another service, with the same ids kept apart
        sid_b = create_service(b, name, project="tenantb", serviceId=sid_a)
        assert sid_b == sid_a
        assert_error(b.get(f"{base('tenantb')}/microservices/{sid_b}/instances/{iid_a}"), 400, "400017")
        assert b.get(f"{base('tenantb')}/instances", params={"appId": "shop", "serviceName": name}).json() == {}
        assert len(a.get(f"{base('tenanta')}/instances", params={"appId": "shop", "serviceName": name}).json()["instances"]) == 1
        assert b.delete(f"{base('tenantb')}/microservices/{sid_b}").status_code == 200
        assert a.get(f"{base('tenanta')}/microservices/{sid_a}").status_code == 200
    finally:
        a.close()
        b.close()
