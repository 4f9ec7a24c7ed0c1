"""ServiceComb-Kie v1, /v1/{project}/kie, through the running system (signed raw HTTP): create,
list with labels and match, get, update, delete, batch delete, revisions, long polling and Kie's
error shape."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import nats

from services.adapters.store.outbox import encode_event
from services.contracts.events import CloudEvent
from services.contracts.subjects import CONFIG
from tests.support.events import read_events
from tests.support.signing import SignedClient
from tests.support.system import ADMIN, TENANT_A, TENANT_B


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def kv_path(project: str, kv_id: str = "") -> str:
    return f"/v1/{project}/kie/kv" + (f"/{kv_id}" if kv_id else "")


def assert_kie_error(r, status: int, code: str, fragment: str = ""):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"errorCode", "errorMessage", "detail"}, body
    assert body["errorCode"] == code, body
    assert fragment.lower() in (body["detail"] + body["errorMessage"]).lower(), body


def test_create_list_get_update_delete_and_events(signed, running):
    project = unique("kie")
    r = signed.post(kv_path(project), json={"key": "timeout", "value": "3", "labels": {"app": "shop", "service": "cart"}})
    assert r.status_code == 200, r.text
    kv = r.json()
    assert kv["status"] == "disabled" and kv["value_type"] == "text" and kv["labels"] == {"app": "shop", "service": "cart"}
    r = signed.post(kv_path(project), json={"key": "retries", "value": "1", "labels": {"app": "shop"}, "status": "enabled"})
    other = r.json()
    assert_kie_error(signed.post(kv_path(project), json={"key": "timeout", "labels": {"service": "cart", "app": "shop"}}), 409, "409001")

    listed = signed.get(kv_path(project), params={"label": "app:shop"})
    assert listed.status_code == 200 and listed.json()["total"] == 2 and listed.headers["X-Kie-Revision"] == "2"
    exact = signed.get(kv_path(project), params={"label": "app:shop", "match": "exact"}).json()
    assert [d["key"] for d in exact["data"]] == ["retries"]
    both = signed.get(kv_path(project), params=[("label", "app:shop"), ("label", "service:cart")]).json()
    assert [d["key"] for d in both["data"]] == ["timeout"]
    assert signed.get(kv_path(project), params={"revision": "2"}).status_code == 304

    assert signed.get(kv_path(project, kv["id"])).json() == kv
    r = signed.put(kv_path(project, kv["id"]), json={"value": "5", "status": "enabled"})
    assert r.status_code == 200 and r.json()["value"] == "5" and r.json()["update_revision"] == 3
    history = signed.get(f"/v1/{project}/kie/revision/{kv['id']}").json()
    assert [d["value"] for d in history["data"]] == ["5", "3"]

    r = signed.delete(kv_path(project, kv["id"]))
    assert (r.status_code, r.content) == (204, b"")
    assert_kie_error(signed.get(kv_path(project, kv["id"])), 404, "404001")
    assert_kie_error(signed.delete(kv_path(project, kv["id"])), 404, "404001")
    r = signed.request("DELETE", kv_path(project), json={"ids": [other["id"], "missing"]})
    assert r.status_code == 204
    assert signed.get(kv_path(project)).json() == {"total": 0, "data": []}

    events = asyncio.run(read_events(running.nats_url, f"openstage.evt.{project}.config.kv.>"))
    verbs = [e["subject"].rsplit(".", 1)[1] for e in events]
    assert verbs == ["created", "created", "updated", "deleted", "deleted"], verbs


def test_long_poll_is_answered_within_a_second_of_a_change(signed, running):
    project = unique("kiepoll")
    created = signed.post(kv_path(project), json={"key": "a", "value": "1", "labels": {"app": "shop"}}).json()
    revision = signed.get(kv_path(project)).headers["X-Kie-Revision"]
    poller = SignedClient(running.base_url, ADMIN.ak, ADMIN.sk, timeout=60)
    try:
        with ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            params = {"label": "app:shop", "revision": revision, "wait": "30s"}
            waiting = pool.submit(poller.get, kv_path(project), params=params)
            time.sleep(1.0)
            assert not waiting.done()
            # a waiting list holds up no other list (the worker serves lists concurrently)
            before = time.monotonic()
            assert signed.get(kv_path(project)).status_code == 200 and time.monotonic() - before < 1.0
            changed_at = time.monotonic()
            assert signed.put(kv_path(project, created["id"]), json={"value": "2"}).status_code == 200
            r = waiting.result(timeout=10)
            answered_in = time.monotonic() - changed_at
        assert r.status_code == 200, r.text
        assert answered_in < 1.0, answered_in
        assert r.json()["data"][0]["value"] == "2" and int(r.headers["X-Kie-Revision"]) == int(revision) + 1
        assert time.monotonic() - started < 10

        # nothing changes: 304 after the wait (longer than the edge's usual request timeout)
        started = time.monotonic()
        r = poller.get(kv_path(project), params={"label": "app:shop", "revision": r.headers["X-Kie-Revision"], "wait": "4s"})
        assert (r.status_code, r.content) == (304, b"") and 3.8 < time.monotonic() - started < 8
    finally:
        poller.close()


async def _publish(nats_url: str, project: str, kv: dict) -> None:
    """A config worker's ``config.kv.updated`` event, as its outbox publishes it."""
    event = CloudEvent.new(project, CONFIG, "kv", "updated", resource_path=f"/v1/{project}/kie/kv/{kv['id']}", data={"kv": kv})
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(event.openstagesubject, encode_event(event), headers={"Nats-Msg-Id": event.id})
    finally:
        await nc.close()


def test_a_change_made_by_another_config_worker_answers_the_wait(signed, running):
    """Another config worker's change reaches this one as its event (openstage.evt.<p>.config.kv.*):
    a stand-in publishes one while a list waits."""
    project = unique("kieremote")
    kv = signed.post(kv_path(project), json={"key": "a", "value": "1", "labels": {"app": "shop"}}).json()
    poller = SignedClient(running.base_url, ADMIN.ak, ADMIN.sk, timeout=60)
    try:
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(poller.get, kv_path(project), params={"label": "app:shop", "wait": "30s"})
            time.sleep(1.0)
            asyncio.run(_publish(running.nats_url, project, {**kv, "labels": {"app": "other"}}))
            time.sleep(0.5)
            assert not waiting.done()  # another label: still waiting
            changed_at = time.monotonic()
            asyncio.run(_publish(running.nats_url, project, {**kv, "labels": {"app": "shop", "v": "1"}}))
            r = waiting.result(timeout=10)
            answered_in = time.monotonic() - changed_at
        assert r.status_code == 200 and answered_in < 1.0, (r.status_code, answered_in)
        assert r.json()["total"] == 1
    finally:
        poller.close()


def test_wrong_input_is_answered_in_kies_error_shape(signed):
    project = unique("kiebad")
    assert_kie_error(signed.get(kv_path(project), params={"label": "app"}), 400, "400001", "label")
    assert_kie_error(signed.get(kv_path(project), params={"wait": "10"}), 400, "400001", "wait param")
    assert_kie_error(signed.get(kv_path(project), params={"revision": "x"}), 400, "400001", "revision")
    assert_kie_error(signed.get(kv_path(project), params={"key": "k", "wait": "1s"}), 400, "400001", "key")
    assert_kie_error(signed.post(kv_path(project), json={"key": "bad key"}), 400, "400001")
    assert_kie_error(signed.post(kv_path(project), content=b"{", headers={"Content-Type": "application/json"}), 400, "400001")


def test_a_tenant_sees_only_its_project(running):
    a = SignedClient(running.base_url, TENANT_A.ak, TENANT_A.sk)
    b = SignedClient(running.base_url, TENANT_B.ak, TENANT_B.sk)
    try:
        kv = a.post(kv_path("tenanta"), json={"key": unique("k"), "value": "1"}).json()
        assert a.get(kv_path("tenanta", kv["id"])).status_code == 200
        assert b.get(kv_path("tenanta", kv["id"])).status_code == 403
        assert b.get(kv_path("tenantb", kv["id"])).status_code == 404
    finally:
        a.close()
        b.close()
