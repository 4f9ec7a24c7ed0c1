"""Application handlers in-process: replies, events, paging, the typed errors, and the rule that an
application with components is not deleted."""

from __future__ import annotations

import pytest

from services.contracts import errors
from services.contracts.subjects import Lifecycle
from tests.handlers.lifecycle_support import START_MS, lifecycle_worker

EVT = "io.openstage.lifecycle.application."
COMPONENT = {"name": "cart", "runtime": "Java8", "category": "MicroService"}


@pytest.fixture
async def worker(base_deps):
    async with lifecycle_worker(base_deps) as running:
        yield running


async def test_create_get_update_and_delete(worker):
    created = await worker(Lifecycle.APPLICATION_CREATE, {"name": "Shop", "description": "d", "creator": "AK1"})
    app = created.result
    assert created.status == 200 and (app["name"], app["creator"], app["project_id"]) == ("Shop", "AK1", "p1")
    assert app["component_count"] == 0 and app["enterprise_project_id"] == "0"
    assert app["create_time"] == app["update_time"] == START_MS + 1000
    path = f"/v2/p1/cas/applications/{app['id']}"
    assert worker.events() == [(EVT + "created", path)]

    ref = {"application_id": app["id"]}
    assert (await worker(Lifecycle.APPLICATION_GET, ref)).result == app
    updated = await worker(Lifecycle.APPLICATION_UPDATE, {**ref, "body": {"name": "Store"}})
    assert updated.result == {**app, "name": "Store", "update_time": START_MS + 2000}
    nothing = await worker(Lifecycle.APPLICATION_UPDATE, {**ref, "body": {}})
    assert nothing.status == 400 and nothing.error.error_msg == "nothing to change: give name or description"

    deleted = await worker(Lifecycle.APPLICATION_DELETE, ref)
    assert deleted.status == 204 and deleted.result is None
    assert worker.events() == [(EVT + v, path) for v in ("created", "updated", "deleted")]
    assert worker.deps.js.published[-1].data["name"] == "Store"
    for action in (Lifecycle.APPLICATION_GET, Lifecycle.APPLICATION_DELETE):
        gone = await worker(action, ref)
        assert (gone.status, gone.error.error_code) == (404, errors.APPLICATION_NOT_FOUND)


async def test_list_is_unpaged_without_a_limit_and_pages_with_one(worker):
    for name in ("a-app", "B-app", "c-app"):
        await worker(Lifecycle.APPLICATION_CREATE, {"name": name})

    async def names(**query) -> tuple[int, list[str]]:
        reply = await worker(Lifecycle.APPLICATION_LIST, query)
        return reply.result["count"], [a["name"] for a in reply.result["applications"]]

    assert await names() == (3, ["c-app", "B-app", "a-app"])
    assert await names(order_by="name", order="asc") == (3, ["a-app", "B-app", "c-app"])  # ignoring case
    assert await names(order_by="name", order="desc", limit=2) == (3, ["c-app", "B-app"])
    assert await names(order_by="create_time", order="asc", limit=2, offset=2) == (3, ["c-app"])
    too_many = await worker(Lifecycle.APPLICATION_LIST, {"limit": 101})
    assert too_many.status == 400
    assert (await worker(Lifecycle.APPLICATION_LIST, {}, project="p2")).result == {"count": 0, "applications": []}


async def test_name_taken_and_an_application_with_components(worker):
    app = (await worker(Lifecycle.APPLICATION_CREATE, {"name": "Shop"})).result
    other = (await worker(Lifecycle.APPLICATION_CREATE, {"name": "Other"})).result
    taken = await worker(Lifecycle.APPLICATION_CREATE, {"name": "shop"})
    assert (taken.status, taken.error.error_code) == (400, errors.APPLICATION_NAME_EXISTS)
    renamed = await worker(Lifecycle.APPLICATION_UPDATE, {"application_id": other["id"], "body": {"name": "SHOP"}})
    assert (renamed.status, renamed.error.error_code) == (400, errors.APPLICATION_NAME_EXISTS)
    assert (await worker(Lifecycle.APPLICATION_CREATE, {"name": "Shop"}, project="p2")).status == 200

    component = (await worker(Lifecycle.COMPONENT_CREATE, {"application_id": app["id"], "body": COMPONENT})).result
    refused = await worker(Lifecycle.APPLICATION_DELETE, {"application_id": app["id"]})
    assert (refused.status, refused.error.error_code) == (409, errors.APPLICATION_HAS_COMPONENTS)
    # a rename keeps the count the component handlers keep
    renamed = await worker(Lifecycle.APPLICATION_UPDATE, {"application_id": app["id"], "body": {"name": "Shop2"}})
    assert renamed.result["component_count"] == 1

    await worker(Lifecycle.COMPONENT_DELETE, {"application_id": app["id"], "component_id": component["id"]})
    assert (await worker(Lifecycle.APPLICATION_DELETE, {"application_id": app["id"]})).status == 204
    assert [t for t, _ in worker.events()][-1] == EVT + "deleted"
