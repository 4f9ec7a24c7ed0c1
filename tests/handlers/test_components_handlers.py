"""Component and metadata handlers in-process: replies, events, the application's component count
kept in the same transaction, paging, overviews with instances, the typed errors and the delete
guards."""

from __future__ import annotations

import pytest

from services.contracts import errors
from services.contracts.subjects import Lifecycle
from services.domain.lifecycle import catalogue
from tests.handlers.lifecycle_support import START_MS, lifecycle_worker

EVT = "io.openstage.lifecycle.component."
SOURCE = {
    "kind": "artifact",
    "spec": {"storage": "obs", "type": "package", "url": "https://obs.example.com/b/d.jar", "webUrl": "https://console.example.com/d.jar"},
}
BUILD = {"parameters": {"cluster_id": "cluster-1", "node_label_selector": {"kubernetes.io/arch": "amd64"}}}


@pytest.fixture
async def worker(base_deps):
    async with lifecycle_worker(base_deps) as running:
        yield running


def body(name: str = "cart", **kw) -> dict:
    return {"name": name, "runtime": "Java8", "category": "MicroService", **kw}


async def new_app(worker, name: str = "Shop") -> str:
    return (await worker(Lifecycle.APPLICATION_CREATE, {"name": name})).result["id"]


async def component_count(worker, app_id: str) -> int:
    return (await worker(Lifecycle.APPLICATION_GET, {"application_id": app_id})).result["component_count"]


async def test_create_get_update_and_delete(worker):
    app_id = await new_app(worker)
    created = await worker(
        Lifecycle.COMPONENT_CREATE, {"application_id": app_id, "creator": "AK1", "body": body(source=SOURCE, build=BUILD, sub_category="")}
    )
    c = created.result
    assert created.status == 200 and (c["name"], c["application_id"], c["creator"]) == ("cart", app_id, "AK1")
    assert c["create_time"] == START_MS + 2000 and "sub_category" not in c
    assert c["source"]["spec"]["webUrl"] == "https://console.example.com/d.jar" and c["source"]["spec"]["auth"] == "iam"
    params = c["build"]["parameters"]
    assert params["node_label_selector"] == {"kubernetes.io/arch": "amd64"} and params["dockerfile_path"] == "./"
    path = f"/v2/p1/cas/applications/{app_id}/components/{c['id']}"
    assert worker.events()[-1] == (EVT + "created", path)
    assert worker.deps.js.published[-1].data["source"]["spec"]["webUrl"] == "https://console.example.com/d.jar"
    assert await component_count(worker, app_id) == 1

    ref = {"application_id": app_id, "component_id": c["id"]}
    assert (await worker(Lifecycle.COMPONENT_GET, ref)).result == c
    rebuilt = await worker(
        Lifecycle.COMPONENT_UPDATE, {**ref, "body": {"description": "new", "build": {"parameters": {"cluster_id": "cluster-2"}}}}
    )
    assert rebuilt.result["build"]["id"] == c["build"]["id"]  # the build keeps its id
    assert rebuilt.result["build"]["parameters"]["cluster_id"] == "cluster-2"
    assert rebuilt.result["description"] == "new" and rebuilt.result["update_time"] == START_MS + 3000

    deleted = await worker(Lifecycle.COMPONENT_DELETE, {**ref, "force": True})
    assert deleted.status == 204 and deleted.result is None
    assert [t for t, _ in worker.events()][-3:] == [EVT + v for v in ("created", "updated", "deleted")]
    assert await component_count(worker, app_id) == 0
    for action in (Lifecycle.COMPONENT_GET, Lifecycle.COMPONENT_DELETE):
        gone = await worker(action, ref)
        assert (gone.status, gone.error.error_code) == (404, errors.COMPONENT_NOT_FOUND)
    assert await component_count(worker, app_id) == 0


async def test_names_per_application_and_unknown_parents(worker):
    shop, other = await new_app(worker), await new_app(worker, "Other")
    await worker(Lifecycle.COMPONENT_CREATE, {"application_id": shop, "body": body()})
    events = worker.events()
    taken = await worker(Lifecycle.COMPONENT_CREATE, {"application_id": shop, "body": body("CART")})
    assert (taken.status, taken.error.error_code) == (400, errors.COMPONENT_NAME_EXISTS)
    assert taken.error.error_msg == "component name 'CART' already exists in this application"
    assert await component_count(worker, shop) == 1 and worker.events() == events  # the count rolled back too

    no_app = await worker(Lifecycle.COMPONENT_CREATE, {"application_id": "nope", "body": body()})
    assert (no_app.status, no_app.error.error_code) == (404, errors.APPLICATION_NOT_FOUND)
    listed = await worker(Lifecycle.COMPONENT_LIST, {"application_id": "nope"})
    assert (listed.status, listed.error.error_code) == (404, errors.APPLICATION_NOT_FOUND)
    assert worker.events() == events

    in_other = await worker(Lifecycle.COMPONENT_CREATE, {"application_id": other, "body": body("Cart")})
    assert in_other.status == 200
    wrong_app = await worker(Lifecycle.COMPONENT_GET, {"application_id": shop, "component_id": in_other.result["id"]})
    assert (wrong_app.status, wrong_app.error.error_code) == (404, errors.COMPONENT_NOT_FOUND)
    nothing = await worker(Lifecycle.COMPONENT_UPDATE, {"application_id": other, "component_id": in_other.result["id"], "body": {}})
    assert nothing.status == 400 and nothing.error.error_msg == "nothing to change: give name, description, source or build"


async def test_lists_and_overviews_page_in_order(worker):
    app_id = await new_app(worker)
    ids = {}
    for name in ("alpha", "Beta", "gamma"):
        ids[name] = (await worker(Lifecycle.COMPONENT_CREATE, {"application_id": app_id, "body": body(name)})).result["id"]
    await worker.deps.db["instances"].insert_one(
        {
            "_id": "i1",
            "id": "i1",
            "name": "cart-dev",
            "project_id": "p1",
            "application_id": app_id,
            "component_id": ids["Beta"],
            "environment_id": "env-1",
            "version": "1.0.0",
            "replica": 2,
        }
    )

    def names(reply) -> list[str]:
        return [c["name"] for c in reply.result["components"]]

    everything = await worker(Lifecycle.COMPONENT_LIST, {"application_id": app_id})
    assert everything.result["count"] == 3 and names(everything) == ["gamma", "Beta", "alpha"]
    page = await worker(Lifecycle.COMPONENT_LIST, {"application_id": app_id, "order_by": "name", "order": "asc", "limit": 2, "offset": 1})
    assert page.result["count"] == 3 and names(page) == ["Beta", "gamma"]

    overviews = await worker(Lifecycle.COMPONENT_OVERVIEWS, {"application_id": app_id, "order_by": "name", "order": "asc"})
    assert names(overviews) == ["alpha", "Beta", "gamma"]
    instances = {c["name"]: c["instances"] for c in overviews.result["components"]}
    assert instances["alpha"] == [] and instances["gamma"] == []
    assert instances["Beta"] == [{"instance_id": "i1", "instance_name": "cart-dev", "environment_id": "env-1", "version": "1.0.0"}]


async def test_the_guards_refuse_a_delete_and_force_cascades_instead(worker):
    app_id = await new_app(worker)
    c = (await worker(Lifecycle.COMPONENT_CREATE, {"application_id": app_id, "body": body()})).result
    seen = []

    async def has_instances(project: str, application_id: str, component_id: str, session) -> None:
        seen.append((project, application_id, component_id))
        raise errors.huawei_error(errors.COMPONENT_DEPLOYED, "has instances")

    worker.deps.delete_guards.component.append(has_instances)
    ref = {"application_id": app_id, "component_id": c["id"]}
    refused = await worker(Lifecycle.COMPONENT_DELETE, ref)
    assert (refused.status, refused.error.error_code) == (400, errors.COMPONENT_DEPLOYED)
    assert seen == [("p1", app_id, c["id"])]
    assert await component_count(worker, app_id) == 1  # the decrement rolled back with the refusal
    assert (await worker(Lifecycle.COMPONENT_GET, ref)).status == 200
    assert [t for t, _ in worker.events()][-1] == EVT + "created"

    # force: the cascade runs instead of the guards; with no instance to wait for, the component goes at once
    forced = await worker(Lifecycle.COMPONENT_DELETE, {**ref, "force": True})
    assert forced.status == 204 and seen == [("p1", app_id, c["id"])]
    assert await component_count(worker, app_id) == 0
    assert (await worker(Lifecycle.COMPONENT_GET, ref)).error.error_code == errors.COMPONENT_NOT_FOUND
    assert [t for t, _ in worker.events()][-1] == EVT + "deleted"


async def test_metadata_is_the_catalogue(worker):
    runtimes = await worker(Lifecycle.METADATA_RUNTIMES)
    assert runtimes.status == 200 and [r["type_name"] for r in runtimes.result["runtimes"]] == [
        "Java8",
        "Tomcat8",
        "Php7",
        "Nodejs8",
        "Python3",
        "Docker",
        "Custom",
    ]
    flavors = (await worker(Lifecycle.METADATA_FLAVORS, project="p2")).result["flavors"]
    assert flavors[0] == {
        "flavor_id": "MICRO-5G:0.5C:1G",
        "storage_size": "5G",
        "num_cpu": "0.5",
        "num_cpu_init": "0.5",
        "memory_size": "1G",
        "memory_size_init": "1G",
        "label": "micro",
        "custom": False,
    }
    assert [f["flavor_id"] for f in flavors] == [f.flavor_id for f in catalogue.FLAVORS] and flavors[-1]["custom"]
    templates = (await worker(Lifecycle.METADATA_TEMPLATES)).result["templates"]
    assert [t["template_name"] for t in templates] == ["wordpress", "magento", "mbaas"]
    assert worker.events() == []
