"""Environment handlers in-process: replies, the events committed with each change, paging, and
the typed errors (name taken, not found, nothing to change, a delete guard refusing)."""

from __future__ import annotations

import pytest

from services.contracts import errors
from services.contracts.environments import Environment
from services.contracts.subjects import Lifecycle
from tests.handlers.lifecycle_support import START_MS, lifecycle_worker

CCE = {"id": "cce-1", "type": "cce"}
EVT = "io.openstage.lifecycle.environment."


@pytest.fixture
async def worker(base_deps):
    async with lifecycle_worker(base_deps) as running:
        yield running


def env_body(name: str, **kw) -> dict:
    return {"name": name, "deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [CCE], **kw}


async def test_create_get_update_change_resources_and_delete(worker):
    created = await worker(
        Lifecycle.ENVIRONMENT_CREATE,
        env_body("Dev", creator="AK1", base_resources=[CCE, CCE], optional_resources=[{"id": "rds-1", "type": "rds"}]),
    )
    answered = created.result
    assert created.status == 200 and len(answered["id"]) == 32
    assert (answered["name"], answered["project_id"], answered["creator"], answered["enterprise_project_id"]) == ("Dev", "p1", "AK1", "0")
    assert answered["create_time"] == answered["update_time"] == START_MS + 1000
    # the create answer returns the resources empty (the reference: "返回为空"); GET and the event have them
    assert answered["base_resources"] == [] and answered["optional_resources"] == []
    env = {**answered, "base_resources": [CCE], "optional_resources": [{"id": "rds-1", "type": "rds"}]}
    path = f"/v2/p1/cas/environments/{env['id']}"
    assert worker.events() == [(EVT + "created", path)]
    assert Environment.model_validate(worker.deps.js.published[0].data) == Environment.model_validate(env)

    ref = {"environment_id": env["id"]}
    assert (await worker(Lifecycle.ENVIRONMENT_GET, ref)).result == env

    updated = await worker(Lifecycle.ENVIRONMENT_UPDATE, {**ref, "body": {"alias": "development"}})
    assert updated.result == {**env, "alias": "development", "update_time": START_MS + 2000}

    changed = await worker(
        Lifecycle.ENVIRONMENT_CHANGE_RESOURCES,
        {**ref, "body": {"add_base_resources": [{"id": "ecs-1", "type": "ecs"}], "remove_resources": [{"id": "rds-1", "type": "rds"}]}},
    )
    assert changed.result["base_resources"] == [CCE, {"id": "ecs-1", "type": "ecs"}]
    assert changed.result["optional_resources"] == [] and changed.result["alias"] == "development"

    deleted = await worker(Lifecycle.ENVIRONMENT_DELETE, ref)
    assert deleted.status == 204 and deleted.result is None
    assert [t for t, _ in worker.events()] == [EVT + v for v in ("created", "updated", "resources_changed", "deleted")]
    # the environment as it was
    assert Environment.model_validate(worker.deps.js.published[-1].data) == Environment.model_validate(changed.result)
    gone = await worker(Lifecycle.ENVIRONMENT_GET, ref)
    assert (gone.status, gone.error.error_code) == (404, errors.ENVIRONMENT_NOT_FOUND)
    again = await worker(Lifecycle.ENVIRONMENT_DELETE, ref)
    assert (again.status, again.error.error_code) == (404, errors.ENVIRONMENT_NOT_FOUND)
    assert len(worker.events()) == 4


async def test_list_pages_in_order_per_project(worker):
    for name in ("alpha", "Beta", "gamma"):
        await worker(Lifecycle.ENVIRONMENT_CREATE, env_body(name))
    await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("other"), project="p2")

    def names(reply) -> list[str]:
        return [e["name"] for e in reply.result["environments"]]

    newest_first = await worker(Lifecycle.ENVIRONMENT_LIST, {})
    assert newest_first.result["count"] == 3 and names(newest_first) == ["gamma", "Beta", "alpha"]
    by_name = await worker(Lifecycle.ENVIRONMENT_LIST, {"order_by": "name", "order": "asc"})
    assert names(by_name) == ["alpha", "Beta", "gamma"]  # ignoring case
    page = await worker(Lifecycle.ENVIRONMENT_LIST, {"order_by": "name", "order": "asc", "offset": 1, "limit": 1})
    assert page.result["count"] == 3 and names(page) == ["Beta"]
    assert names(await worker(Lifecycle.ENVIRONMENT_LIST, {}, project="p2")) == ["other"]
    bad = await worker(Lifecycle.ENVIRONMENT_LIST, {"order_by": "creator"})
    assert bad.status == 400 and bad.error.error_code == errors.INVALID_PARAMETER


async def test_typed_errors_change_nothing(worker):
    first = (await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("Shop"))).result
    second = (await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("Other"))).result
    second = (await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": second["id"]})).result
    events = worker.events()

    taken = await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("SHOP"))
    assert (taken.status, taken.error.error_code) == (400, errors.ENVIRONMENT_NAME_EXISTS)
    assert taken.error.error_msg == "environment name 'SHOP' already exists"
    renamed = await worker(Lifecycle.ENVIRONMENT_UPDATE, {"environment_id": second["id"], "body": {"name": "shop"}})
    assert (renamed.status, renamed.error.error_code) == (400, errors.ENVIRONMENT_NAME_EXISTS)
    nothing = await worker(Lifecycle.ENVIRONMENT_UPDATE, {"environment_id": first["id"], "body": {}})
    assert nothing.status == 400 and nothing.error.error_msg == "nothing to change: give name, alias or description"
    no_base = await worker(Lifecycle.ENVIRONMENT_CHANGE_RESOURCES, {"environment_id": first["id"], "body": {"remove_resources": [CCE]}})
    assert (no_base.status, no_base.error.error_code) == (400, errors.BASE_RESOURCE_EMPTY)
    for empty in ({"base_resources": []}, {"base_resources": None}):
        refused = await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("Empty", **empty))
        assert (refused.status, refused.error.error_code) == (400, errors.BASE_RESOURCE_EMPTY)
    cci = await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("Cci", base_resources=[{"id": "c", "type": "cci"}]))
    assert (cci.status, cci.error.error_code) == (400, errors.INVALID_PARAMETER)  # cci is not a basic resource
    elsewhere = await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": first["id"]}, project="p2")
    assert (elsewhere.status, elsewhere.error.error_code) == (404, errors.ENVIRONMENT_NOT_FOUND)
    missing = await worker(Lifecycle.ENVIRONMENT_UPDATE, {"environment_id": "nope", "body": {"alias": "x"}})
    assert (missing.status, missing.error.error_code) == (404, errors.ENVIRONMENT_NOT_FOUND)

    assert worker.events() == events
    assert (await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": second["id"]})).result == second


async def test_a_delete_guard_refuses_inside_the_transaction(worker):
    env = (await worker(Lifecycle.ENVIRONMENT_CREATE, env_body("Busy"))).result
    env = (await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": env["id"]})).result
    seen = []

    async def in_use(project: str, environment_id: str, session) -> None:
        seen.append((project, environment_id, session is not None))
        raise errors.huawei_error(errors.COMPONENT_DEPLOYED, "in use")

    worker.deps.delete_guards.environment.append(in_use)
    refused = await worker(Lifecycle.ENVIRONMENT_DELETE, {"environment_id": env["id"]})
    assert (refused.status, refused.error.error_code) == (400, errors.COMPONENT_DEPLOYED)
    assert seen == [("p1", env["id"], True)]
    assert (await worker(Lifecycle.ENVIRONMENT_GET, {"environment_id": env["id"]})).result == env
    assert [t for t, _ in worker.events()] == [EVT + "created"]
