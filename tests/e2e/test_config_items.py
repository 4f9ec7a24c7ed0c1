"""The config center, /v3/{project}/configuration/items, through the running system
(signed raw HTTP, as a CSE client sends it)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.contracts.events import CloudEvent
from tests.support.events import read_events
from tests.support.signing import SignedClient
from tests.support.system import TENANT_A, TENANT_B

PATH = "/v3/{project}/configuration/items"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def items_path(project: str) -> str:
    return PATH.format(project=project)


def query(client: SignedClient, project: str, dims: str, **params):
    headers = {}
    if "environment" in params:
        headers["X-Environment"] = params.pop("environment")
    return client.get(items_path(project), params={"dimensionsInfo": dims, **params}, headers=headers)


def push(client: SignedClient, project: str, dims: str, items: dict, environment: str | None = None):
    headers = {"X-Environment": environment} if environment else None
    return client.post(items_path(project), json={"dimensionsInfo": dims, "items": items}, headers=headers)


def remove(client: SignedClient, project: str, dims: str, keys: list[str]):
    return client.delete(items_path(project), json={"dimensionsInfo": dims, "keys": keys})


def assert_sc_error(r, status: int, code: str, fragment: str = ""):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"errorCode", "errorMessage", "detail"}, body
    assert body["errorCode"] == code, body
    assert fragment.lower() in (body["detail"] + body["errorMessage"]).lower(), body


def item_events(running, project: str) -> list[dict]:
    return asyncio.run(read_events(running.nats_url, f"openstage.evt.{project}.config.item.>"))


def test_query_key_filter_revision_304_and_events(signed, running):
    project = unique("cc")
    r = push(signed, project, "order@shop#1.0.0", {"log.level": "debug", "timeout": 30, "feature.x": True})
    assert r.status_code == 200 and r.json() == {"Result": "Success"}
    assert push(signed, project, "order@shop", {"log.level": "info", "retries": 3}).status_code == 200
    assert push(signed, project, "application", {"region": "eu"}).status_code == 200
    assert push(signed, project, "darklaunch@shop", {"gray": "10%"}).status_code == 200
    assert push(signed, project, "other@shop", {"never": "shown"}).status_code == 200

    r = query(signed, project, "order@shop#1.0.0")
    assert r.status_code == 200, r.text
    body = r.json()
    revision = body.pop("revision")["version"]
    assert body == {
        "application": {"region": "eu"},
        "order@shop": {"log.level": "info", "retries": 3},
        "darklaunch@shop": {"gray": "10%"},
        "order@shop#1.0.0": {"feature.x": True, "log.level": "debug", "timeout": 30},
    }
    assert revision

    # without a version: no versioned dimension
    r = query(signed, project, "order@shop")
    assert r.status_code == 200 and "order@shop#1.0.0" not in r.json() and r.json()["order@shop"]["retries"] == 3

    # keyFilter is a regular expression searched in each key
    r = query(signed, project, "order@shop#1.0.0", keyFilter="^log\\.")
    assert r.status_code == 200
    filtered = r.json()
    filtered_rev = filtered.pop("revision")["version"]
    assert filtered == {"order@shop": {"log.level": "info"}, "order@shop#1.0.0": {"log.level": "debug"}}

    # the current revision -> 304, no body; a stale one -> 200 with everything
    r = query(signed, project, "order@shop#1.0.0", keyFilter="^log\\.", revision=filtered_rev)
    assert r.status_code == 304 and r.content == b""
    r = query(signed, project, "order@shop#1.0.0", revision=revision)
    assert r.status_code == 304 and r.content == b""
    r = query(signed, project, "order@shop#1.0.0", revision="stale")
    assert r.status_code == 200 and r.json()["revision"]["version"] == revision

    # a write changes the revision: the old one now gets the new items
    assert push(signed, project, "order@shop#1.0.0", {"log.level": "warn"}).status_code == 200
    r = query(signed, project, "order@shop#1.0.0", revision=revision)
    assert r.status_code == 200
    new_revision = r.json()["revision"]["version"]
    assert new_revision != revision and r.json()["order@shop#1.0.0"]["log.level"] == "warn"
    r = query(signed, project, "order@shop#1.0.0", keyFilter="^log\\.", revision=filtered_rev)
    assert r.status_code == 200 and r.json()["order@shop#1.0.0"] == {"log.level": "warn"}

    # writing the same value again changes nothing (same revision, no event)
    assert push(signed, project, "order@shop#1.0.0", {"log.level": "warn"}).status_code == 200
    assert query(signed, project, "order@shop#1.0.0", revision=new_revision).status_code == 304

    # delete: gone from the answer, revision changes; unknown keys are ignored
    r = remove(signed, project, "order@shop#1.0.0", ["log.level", "nope"])
    assert r.status_code == 200 and r.json() == {"Result": "Success"}
    r = query(signed, project, "order@shop#1.0.0", revision=new_revision)
    assert r.status_code == 200 and r.json()["order@shop#1.0.0"] == {"feature.x": True, "timeout": 30}
    assert remove(signed, project, "order@shop#1.0.0", ["nope"]).status_code == 200
    # deleting every key of a dimension drops the dimension from the answer
    assert remove(signed, project, "darklaunch@shop", ["gray"]).status_code == 200
    assert "darklaunch@shop" not in query(signed, project, "order@shop").json()

    got = item_events(running, project)
    kinds = [(g["event"]["type"], g["event"]["data"]["dimensionsInfo"]) for g in got]
    assert kinds == [
        ("io.openstage.config.item.changed", "order@shop#1.0.0"),
        ("io.openstage.config.item.changed", "order@shop"),
        ("io.openstage.config.item.changed", "application"),
        ("io.openstage.config.item.changed", "darklaunch@shop"),
        ("io.openstage.config.item.changed", "other@shop"),
        ("io.openstage.config.item.changed", "order@shop#1.0.0"),
        ("io.openstage.config.item.deleted", "order@shop#1.0.0"),
        ("io.openstage.config.item.deleted", "darklaunch@shop"),
    ]
    for g in got:
        evt = CloudEvent.model_validate(g["event"])
        assert g["subject"] == evt.openstagesubject and g["headers"].get("Nats-Msg-Id") == evt.id
        assert evt.openstageproject == project and evt.source == "/openstage/config"
        assert evt.subject.startswith(f"/v3/{project}/configuration/items?dimensionsInfo=")
    assert got[5]["event"]["data"] == {"dimensionsInfo": "order@shop#1.0.0", "environment": "", "items": {"log.level": "warn"}}
    assert got[6]["event"]["data"] == {"dimensionsInfo": "order@shop#1.0.0", "environment": "", "keys": ["log.level"]}


def test_environments_are_separate(signed):
    project = unique("ccenv")
    assert push(signed, project, "svc@app", {"k": "none"}).status_code == 200
    assert push(signed, project, "svc@app", {"k": "prod"}, environment="production").status_code == 200
    assert query(signed, project, "svc@app").json()["svc@app"] == {"k": "none"}
    assert query(signed, project, "svc@app", environment="production").json()["svc@app"] == {"k": "prod"}
    assert "svc@app" not in query(signed, project, "svc@app", environment="testing").json()
    # any other value counts as no environment (CSE)
    assert query(signed, project, "svc@app", environment="staging").json()["svc@app"] == {"k": "none"}


BAD_QUERIES = [
    ({}, "dimensionsInfo is required"),
    ({"dimensionsInfo": "order"}, "expected serviceName@appId"),
    ({"dimensionsInfo": "order@"}, "expected serviceName@appId"),
    ({"dimensionsInfo": "order@shop#"}, "expected serviceName@appId"),
    ({"dimensionsInfo": "or der@shop"}, "must not contain"),
    ({"dimensionsInfo": "order@shop$x"}, "must not contain"),
    ({"dimensionsInfo": '{"$gt": ""}'}, "must not contain"),
    ({"dimensionsInfo": "o@" + "a" * 600}, "longer than"),
    ({"dimensionsInfo": "order@shop", "keyFilter": "("}, "not a valid regular expression"),
    ({"dimensionsInfo": "order@shop", "keyFilter": "(a+)+$"}, "nests quantifiers"),
    ({"dimensionsInfo": "order@shop", "keyFilter": "(a)\\1"}, "unsupported construct"),
    ({"dimensionsInfo": "order@shop", "keyFilter": "a" * 300}, "longer than"),
    ({"dimensionsInfo": "order@shop", "revision": "r" * 200}, "revision"),
]


@pytest.mark.parametrize("params,fragment", BAD_QUERIES)
def test_bad_queries_are_400001(signed, params, fragment):
    r = signed.get(items_path("ccbad"), params=params)
    assert_sc_error(r, 400, "400001", fragment)


BAD_WRITES = [
    ({"dimensionsInfo": "svc@app"}, "items"),
    ({"dimensionsInfo": "svc@app", "items": {}}, "items"),
    ({"dimensionsInfo": {"$gt": ""}, "items": {"k": "v"}}, "dimensionsInfo"),
    ({"dimensionsInfo": "svc@app", "items": {"k": {"$gt": ""}}}, "items"),
    ({"dimensionsInfo": "svc@app", "items": {"k": ["a"]}}, "items"),
    ({"dimensionsInfo": "svc@app", "items": {"k": None}}, "items"),
    ({"dimensionsInfo": "svc@app", "items": {"k" * 10240: "v"}}, "invalid configuration key"),
    ({"dimensionsInfo": "svc@app", "items": {"": "v"}}, "invalid configuration key"),
    ({"dimensionsInfo": "svc@", "items": {"k": "v"}}, "expected serviceName@appId"),
    ({"dimensionsInfo": "darklaunch@", "items": {"k": "v"}}, "invalid dimensionsInfo"),
    ({"dimensionsInfo": "svc@app", "items": ["k"]}, "items"),
    (["svc@app"], ""),
]


@pytest.mark.parametrize("body,fragment", BAD_WRITES)
def test_bad_writes_are_400001_and_store_nothing(signed, body, fragment):
    r = signed.post(items_path("ccbadw"), json=body)
    assert_sc_error(r, 400, "400001", fragment)
    r = query(signed, "ccbadw", "svc@app")
    assert r.status_code == 200 and set(r.json()) == {"revision"}


def test_bad_deletes_and_non_json(signed):
    for body, fragment in [
        ({"dimensionsInfo": "svc@app"}, "keys is empty"),
        ({"dimensionsInfo": "svc@app", "keys": []}, "keys is empty"),
        ({"dimensionsInfo": "svc@app", "keys": [{"$gt": ""}]}, "keys"),
        ({"dimensionsInfo": "svc@app", "keys": ["k" * 10240]}, "invalid configuration key"),
        ({"dimensionsInfo": "a b@app", "keys": ["k"]}, "must not contain"),
    ]:
        assert_sc_error(remove_raw(signed, body), 400, "400001", fragment)
    for method in ("POST", "DELETE"):
        r = signed.request(method, items_path("ccbadw"), content=b"dimensionsInfo=svc@app&items=1")
        assert_sc_error(r, 400, "400001", "json")


def remove_raw(client: SignedClient, body):
    return client.delete(items_path("ccbadw"), json=body)


def test_cross_project_isolation(running, signed):
    a = SignedClient(running.base_url, TENANT_A.ak, TENANT_A.sk)
    b = SignedClient(running.base_url, TENANT_B.ak, TENANT_B.sk)
    try:
        dims = f"{unique('iso')}@shop"
        assert push(a, "tenanta", dims, {"secret": "a"}).status_code == 200
        assert query(a, "tenanta", dims).json()[dims] == {"secret": "a"}

        # B may not read or write A's project: Service-Center's error shape
        assert_sc_error(query(b, "tenanta", dims), 403, "403001")
        assert_sc_error(push(b, "tenanta", dims, {"secret": "b"}), 403, "403001")
        assert_sc_error(remove(b, "tenanta", dims, ["secret"]), 403, "403001")

        # the same dimension in B's project is another set of items
        assert dims not in query(b, "tenantb", dims).json()
        assert push(b, "tenantb", dims, {"secret": "b"}).status_code == 200
        assert query(a, "tenanta", dims).json()[dims] == {"secret": "a"}
        assert query(b, "tenantb", dims).json()[dims] == {"secret": "b"}
        assert query(signed, "tenantb", dims).json()[dims] == {"secret": "b"}
    finally:
        a.close()
        b.close()


def test_unsigned_requests_are_refused(running):
    import httpx

    r = httpx.get(f"{running.base_url}{items_path('ccauth')}", params={"dimensionsInfo": "svc@app"})
    assert r.status_code == 401 and set(r.json()) == {"errorCode", "errorMessage", "detail"}
