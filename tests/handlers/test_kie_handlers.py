"""Kie v1 handlers of the config worker in-process: create/list/get/update/delete/batch delete,
labels (exact and ``match``), the revision (history) call and long polling."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.contracts.kie import CreateKV, DeleteKV, DeleteKVs, GetKV, KVCreateBody, KVHistory, KVUpdateBody, ListKVs, UpdateKV
from services.contracts.subjects import CONFIG, Config
from tests.handlers.conftest import call, handler_broker
from workers.config.app import ROUTERS, compose


@pytest.fixture
async def kie(base_deps):
    deps = await compose(await base_deps(CONFIG))
    async with handler_broker(ROUTERS, deps) as broker:
        yield broker, deps


async def _create(broker, key, labels=None, value="v", project="p1", **extra):
    reply = await call(broker, project, CONFIG, Config.KV_CREATE, CreateKV(kv=KVCreateBody(key=key, value=value, labels=labels, **extra)))
    assert reply.status == 200, reply
    return reply.result


async def _list(broker, project="p1", **query):
    return await call(broker, project, CONFIG, Config.KV_LIST, ListKVs(**query))


async def test_create_get_update_delete_and_events(kie):
    broker, deps = kie
    kv = await _create(broker, "timeout", {"app": "shop", "service": "cart"}, value="3")
    assert set(kv) == {
        "id",
        "key",
        "value",
        "value_type",
        "labels",
        "status",
        "create_revision",
        "update_revision",
        "create_time",
        "update_time",
    }
    assert kv["status"] == "disabled" and kv["value_type"] == "text"  # Kie's defaults
    assert kv["create_revision"] == kv["update_revision"] == 1 and len(kv["id"]) == 64
    assert deps.js.types() == ["io.openstage.config.kv.created"]
    assert deps.js.published[0].openstagesubject == "openstage.evt.p1.config.kv.created"

    again = await call(
        broker, "p1", CONFIG, Config.KV_CREATE, CreateKV(kv=KVCreateBody(key="timeout", labels={"service": "cart", "app": "shop"}))
    )
    assert again.status == 409 and again.error.error_code == "409001"

    got = await call(broker, "p1", CONFIG, Config.KV_GET, GetKV(id=kv["id"]))
    assert got.status == 200 and got.result == kv
    assert (await call(broker, "p2", CONFIG, Config.KV_GET, GetKV(id=kv["id"]))).status == 404  # other project

    upd = await call(broker, "p1", CONFIG, Config.KV_UPDATE, UpdateKV(id=kv["id"], kv=KVUpdateBody(value="5", status="enabled")))
    assert upd.status == 200 and upd.result["value"] == "5" and upd.result["status"] == "enabled"
    assert upd.result["update_revision"] == 2 and upd.result["create_revision"] == 1
    same = await call(broker, "p1", CONFIG, Config.KV_UPDATE, UpdateKV(id=kv["id"], kv=KVUpdateBody(value="5")))
    assert same.result["update_revision"] == 2 and len(deps.js.published) == 2  # nothing changed, nothing emitted

    history = await call(broker, "p1", CONFIG, Config.KV_HISTORY, KVHistory(id=kv["id"]))
    assert history.result["total"] == 2 and [d["value"] for d in history.result["data"]] == ["5", "3"]

    gone = await call(broker, "p1", CONFIG, Config.KV_DELETE, DeleteKV(id=kv["id"]))
    assert gone.status == 204 and gone.result is None
    assert deps.js.types()[-1] == "io.openstage.config.kv.deleted"
    missing = await call(broker, "p1", CONFIG, Config.KV_DELETE, DeleteKV(id=kv["id"]))
    assert missing.status == 404 and missing.error.error_code == "404001" and missing.error.error_msg == "record does not exist"
    assert (await call(broker, "p1", CONFIG, Config.KV_UPDATE, UpdateKV(id=kv["id"], kv=KVUpdateBody(value="x")))).status == 404
    assert (await call(broker, "p1", CONFIG, Config.KV_HISTORY, KVHistory(id=kv["id"]))).status == 404


async def test_batch_delete(kie):
    broker, deps = kie
    a = await _create(broker, "a")
    b = await _create(broker, "b")
    c = await _create(broker, "c")
    reply = await call(broker, "p1", CONFIG, Config.KV_DELETE_MANY, DeleteKVs(ids=[a["id"], b["id"], "nope"]))
    assert reply.status == 204
    listed = await _list(broker)
    assert [kv["key"] for kv in listed.result["data"]] == ["c"] and listed.result["total"] == 1
    assert deps.js.types().count("io.openstage.config.kv.deleted") == 2
    # nothing to delete: still 204, nothing emitted
    assert (await call(broker, "p1", CONFIG, Config.KV_DELETE_MANY, DeleteKVs(ids=["nope"]))).status == 204
    assert deps.js.types().count("io.openstage.config.kv.deleted") == 2
    assert c["id"] not in (a["id"], b["id"])


async def test_list_labels_partial_and_exact_key_status_paging(kie):
    broker, _deps = kie
    await _create(broker, "k1", {"app": "shop"})
    await _create(broker, "k2", {"app": "shop", "service": "cart"}, status="enabled")
    await _create(broker, "servicecomb.k3", {"app": "shop", "service": "cart", "version": "1.0"})
    await _create(broker, "k4", {"app": "other"})
    await _create(broker, "k5")

    def keys(reply):
        return sorted(kv["key"] for kv in reply.result["data"])

    everything = await _list(broker)
    assert everything.result["total"] == 5 and everything.headers == {"X-Kie-Revision": "5"}
    assert everything.result["data"][0]["key"] == "k5"  # newest update first
    assert keys(await _list(broker, labels={"app": "shop"})) == ["k1", "k2", "servicecomb.k3"]
    assert keys(await _list(broker, labels={"app": "shop", "service": "cart"})) == ["k2", "servicecomb.k3"]
    assert keys(await _list(broker, labels={"app": "shop", "service": "cart"}, match="exact")) == ["k2"]
    assert keys(await _list(broker, labels={"app": "shop"}, match="exact")) == ["k1"]
    assert keys(await _list(broker, match="exact")) == ["k5"]  # exact and no labels: the KVs without labels
    assert keys(await _list(broker, key="beginWith(ServiceComb.)")) == ["servicecomb.k3"]
    assert keys(await _list(broker, key="wildcard(k*)")) == ["k1", "k2", "k4", "k5"]
    assert keys(await _list(broker, key="k4")) == ["k4"]
    assert keys(await _list(broker, status="enabled")) == ["k2"]
    page = await _list(broker, limit=2, offset=1)
    assert page.result["total"] == 5 and len(page.result["data"]) == 2
    assert (await _list(broker, project="p2")).result == {"total": 0, "data": []}


async def test_revision_answers_at_once_or_304(kie):
    broker, _deps = kie
    await _create(broker, "a")
    current = int((await _list(broker)).headers["X-Kie-Revision"])
    assert (await _list(broker, revision=current)).status == 304
    older = await _list(broker, revision=current - 1)
    assert older.status == 200 and older.result["total"] == 1


async def test_long_poll_answered_within_a_second_of_a_change(kie):
    broker, deps = kie
    await _create(broker, "a", {"app": "shop"})
    revision = int((await _list(broker)).headers["X-Kie-Revision"])

    started = time.monotonic()
    waiting = asyncio.create_task(_list(broker, labels={"app": "shop"}, revision=revision, wait_seconds=20))
    await asyncio.sleep(0.3)
    assert not waiting.done() and len(deps.kie_waiters) == 1
    await _create(broker, "elsewhere", {"app": "other"})  # another label: the wait goes on
    await asyncio.sleep(0.2)
    assert not waiting.done()
    changed_at = time.monotonic()
    await _create(broker, "b", {"app": "shop", "service": "cart"})
    reply = await asyncio.wait_for(waiting, 5)
    answered_in = time.monotonic() - changed_at
    assert reply.status == 200 and answered_in < 1.0, answered_in
    assert sorted(kv["key"] for kv in reply.result["data"]) == ["a", "b"]
    assert int(reply.headers["X-Kie-Revision"]) == revision + 2
    assert time.monotonic() - started < 5 and len(deps.kie_waiters) == 0


async def test_long_poll_times_out_with_304_and_shutdown_wakes_waits(kie):
    broker, deps = kie
    reply = await _list(broker, wait_seconds=0.3)
    assert reply.status == 304 and reply.result is None

    waiting = asyncio.create_task(_list(broker, wait_seconds=30))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await deps.kie_waiters.stop()
    assert (await asyncio.wait_for(waiting, 5)).status == 304 and time.monotonic() - started < 1


async def test_event_from_another_process_wakes_a_wait(kie):
    """A change made by another config worker arrives as its CloudEvent on the events subscription."""
    broker, deps = kie
    waiting = asyncio.create_task(_list(broker, labels={"app": "shop"}, match="exact", wait_seconds=20))
    await asyncio.sleep(0.2)

    class Msg:
        subject = "openstage.evt.p1.config.kv.updated"
        data = b'{"data": {"kv": {"labels": {"app": "shop"}}}}'

    await deps.kie_waiters._on_event(Msg())  # type: ignore[arg-type]
    assert (await asyncio.wait_for(waiting, 2)).status == 200


async def test_bad_input_is_kie_400001(kie):
    broker, _deps = kie
    reply = await call(broker, "p1", CONFIG, Config.KV_LIST, ListKVs(key="a", wait_seconds=1))
    assert reply.status == 400 and reply.error.error_code == "400001"
    assert reply.error.detail == "can not accept key params, when using wait"
    reply = await call(broker, "p1", CONFIG, Config.KV_CREATE, {"kv": {"key": "bad key!"}})
    assert reply.status == 400
    reply = await call(broker, "p1", CONFIG, Config.KV_LIST, {"labels": {"$gt": ""}})
    assert reply.status == 400
