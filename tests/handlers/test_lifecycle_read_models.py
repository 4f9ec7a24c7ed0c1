"""Read models of environments, applications and components (workers/lifecycle/read_models.py): show and list
answered from memory, exactly as the store answers them; this process's writes seen at once;
another process's change (its event heard on the bus) drops the project, so the next read is the
store's."""

from __future__ import annotations

import pytest

from services.adapters.store.environments import ENVIRONMENTS
from services.adapters.store.outbox import encode_event
from services.contracts import errors
from services.contracts.environments import Environment, ListEnvironments
from services.contracts.subjects import Lifecycle
from tests.handlers.lifecycle_support import lifecycle_worker
from tests.support.bodies import COMPONENT_BODY, ENVIRONMENT_BODY
from workers.lifecycle.crud import EntityWrites


def env_body(name: str) -> dict:
    return {**ENVIRONMENT_BODY, "name": name}


@pytest.fixture
async def worker(base_deps):
    async with lifecycle_worker(base_deps) as running:  # its composition root builds the read models
        yield running


async def store_page(worker, **query) -> tuple[int, list]:
    return await ENVIRONMENTS.page(worker.deps.db, ListEnvironments(**query), "p1")


async def test_lists_and_shows_from_memory_as_the_store_answers_them(worker):
    names = ["bb", "AA", "cc", "B2", "a1", "zz", "mm"]
    ids = [(await worker(Lifecycle.ENVIRONMENT_CREATE, env_body(n))).result["id"] for n in names]
    model = worker.deps.read_models.by_entity["environment"]
    for query in (
        {},
        {"limit": 3},
        {"limit": 3, "offset": 2},
        {"order_by": "name", "order": "asc"},
        {"order_by": "name", "order": "desc", "limit": 4, "offset": 1},
        {"order_by": "update_time", "order": "asc", "limit": 5},
        {"offset": 50},
    ):
        listed = await worker(Lifecycle.ENVIRONMENT_LIST, query)
        total, docs = await store_page(worker, **query)
        assert listed.result["count"] == total == len(names)
        assert [e["id"] for e in listed.result["environments"]] == [d.id for d in docs], query
    assert ("p1",) in model.projects  # the list loaded the project

    shown = await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": ids[0]})
    assert Environment.model_validate(shown.result) == await ENVIRONMENTS.get(worker.deps.db, "p1", ids[0])

    # this process's own changes are seen by the next read, without a reload
    await worker(Lifecycle.ENVIRONMENT_UPDATE, {"environment_id": ids[0], "body": {"description": "changed"}})
    assert (await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": ids[0]})).result["description"] == "changed"
    await worker(Lifecycle.ENVIRONMENT_DELETE, {"environment_id": ids[1]})
    assert (await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": ids[1]})).status == 404
    listed = await worker(Lifecycle.ENVIRONMENT_LIST, {"order_by": "name", "order": "asc"})
    assert ids[1] not in [e["id"] for e in listed.result["environments"]] and listed.result["count"] == len(names) - 1
    created = (await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("new"))).result["id"]
    assert (await worker(Lifecycle.ENVIRONMENT_LIST, {"limit": 1})).result["environments"][0]["id"] == created
    assert ("p1",) in model.projects  # still the same, kept true by the commits


async def test_another_processs_change_drops_the_project_and_the_store_answers(worker):
    env_id = (await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("shared"))).result["id"]
    await worker(Lifecycle.ENVIRONMENT_LIST, {})
    models = worker.deps.read_models
    assert ("p1",) in models.by_entity["environment"].projects

    # the echo of this process's own event changes nothing
    own = worker.deps.js.published[-1]
    models.on_message(own.openstagesubject, encode_event(own))
    assert ("p1",) in models.by_entity["environment"].projects

    # another process renamed it in the store and published its event
    stored = await ENVIRONMENTS.get(worker.deps.db, "p1", env_id)
    renamed = stored.model_copy(update={"description": "from elsewhere"})
    event = EntityWrites("environment", ENVIRONMENTS, lambda e: f"/v2/p1/cas/environments/{e.id}").event(renamed, "updated")
    await worker.deps.db["environments"].update_one({"_id": env_id}, {"$set": {"description": "from elsewhere"}})
    models.on_message(event.openstagesubject, encode_event(event))
    assert ("p1",) not in models.by_entity["environment"].projects
    assert (await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": env_id})).result["description"] == "from elsewhere"
    listed = await worker(Lifecycle.ENVIRONMENT_LIST, {})
    assert listed.result["environments"][0]["description"] == "from elsewhere"


async def test_a_load_racing_a_change_is_not_kept(worker):
    await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("xx"))
    model = worker.deps.read_models.by_entity["environment"]
    original = model.db

    class ChangingWhileLoading:  # a change of the project is heard while the load reads
        def __getitem__(self, name):
            model.drop_project("p1")  # (what another process's event of p1 does)
            return original[name]

    model.db = ChangingWhileLoading()
    try:
        total, _ = await model.page(ListEnvironments(), "p1")
    finally:
        model.db = original
    assert total == 1 and ("p1",) not in model.projects


async def test_an_environment_created_elsewhere_is_shown_from_the_store(worker):
    await worker(Lifecycle.ENVIRONMENT_LIST, {})  # loaded, empty
    other = (await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("elsewhere"), project="p2")).result
    doc = await ENVIRONMENTS.get(worker.deps.db, "p2", other["id"])
    await worker.deps.db["environments"].replace_one(
        {"_id": other["id"]}, {**(await worker.deps.db["environments"].find_one({"_id": other["id"]})), "project_id": "p1"}
    )
    shown = await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": doc.id})  # not in p1's memory: the store has it
    assert shown.status == 200 and shown.result["id"] == doc.id


# --- applications and components ------------------------------------------------------------------


async def test_an_applications_component_count_follows_its_components(worker):
    app_id = (await worker(Lifecycle.APPLICATION_CREATE, {"name": "app"})).result["id"]
    assert (await worker(Lifecycle.APPLICATION_LIST, {})).result["applications"][0]["component_count"] == 0
    models = worker.deps.read_models
    assert ("p1",) in models.applications.projects  # the list loaded them

    comp = await worker(Lifecycle.COMPONENT_CREATE, {"application_id": app_id, "body": {**COMPONENT_BODY, "name": "c1"}, "creator": "me"})
    assert comp.status == 200, comp
    # the component's transaction changed the application without an application event: dropped
    assert ("p1",) not in models.applications.projects
    shown = await worker(Lifecycle.APPLICATION_GET, {"application_id": app_id})
    assert shown.result["component_count"] == 1
    listed = await worker(Lifecycle.APPLICATION_LIST, {})
    assert listed.result["applications"][0]["component_count"] == 1

    comps = await worker(Lifecycle.COMPONENT_LIST, {"application_id": app_id})
    assert [c["name"] for c in comps.result["components"]] == ["c1"]
    assert ("p1", app_id) in models.components.projects
    await worker(Lifecycle.COMPONENT_DELETE, {"application_id": app_id, "component_id": comp.result["id"]})
    assert (await worker(Lifecycle.COMPONENT_LIST, {"application_id": app_id})).result == {"count": 0, "components": []}
    assert (await worker(Lifecycle.APPLICATION_GET, {"application_id": app_id})).result["component_count"] == 0


async def test_another_processs_component_change_drops_the_components_and_the_applications(worker):
    app_id = (await worker(Lifecycle.APPLICATION_CREATE, {"name": "app"})).result["id"]
    await worker(Lifecycle.COMPONENT_CREATE, {"application_id": app_id, "body": COMPONENT_BODY, "creator": "me"})
    await worker(Lifecycle.COMPONENT_LIST, {"application_id": app_id})
    await worker(Lifecycle.APPLICATION_LIST, {})
    models = worker.deps.read_models
    assert ("p1",) in models.applications.projects and ("p1", app_id) in models.components.projects

    event = worker.deps.js.published[-1]  # the component's created event, as another process would send it
    foreign = event.model_copy(update={"id": "another-process-event"})
    models.on_message(foreign.openstagesubject, encode_event(foreign))
    assert ("p1",) not in models.applications.projects and ("p1", app_id) not in models.components.projects
    # another project's memory is kept
    await worker(Lifecycle.APPLICATION_LIST, {}, project="p2")
    models.on_message(foreign.openstagesubject, encode_event(foreign))
    assert ("p2",) in models.applications.projects


async def test_components_of_an_unknown_application_are_a_404(worker):
    listed = await worker(Lifecycle.COMPONENT_LIST, {"application_id": "0" * 32})
    assert listed.status == 404 and listed.error.error_code == errors.APPLICATION_NOT_FOUND, listed
