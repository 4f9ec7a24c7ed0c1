"""The lifecycle fast path (workers/lifecycle/fast_path.py): show and list of environments,
applications and components answered from memory with the bytes the handlers' own subscribers
answer (same JSON, same key order: the edge passes ``result`` on as it is), refusals answered
as the command subscribers refuse them, and instance creates run by the handler in a task."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import orjson
import pytest

from services.contracts import errors, subjects
from services.contracts.subjects import LIFECYCLE, ComponentInstances, Lifecycle
from tests.handlers.conftest import call
from tests.handlers.lifecycle_support import environment_application_component, lifecycle_with_jobs, lifecycle_worker
from tests.support.bodies import COMPONENT_BODY, ENVIRONMENT_BODY, INSTANCE_BODY
from workers.fast_path import failure_reply
from workers.lifecycle.fast_path import answers
from workers.lifecycle.job_runner import RunOutcome


def answer_from_memory(action: str, deps, project: str, payload: bytes):
    """What the fast path does at once with a message: (the reply's bytes, or None; what answers later, or None)."""
    return answers(deps)[action](project, payload)


@pytest.fixture
async def worker(base_deps):
    async with lifecycle_worker(base_deps) as running:
        yield running


async def subscriber_answer(worker, action: str, body: dict) -> bytes:
    """What the handler's FastStream subscriber answers (the bytes on the bus)."""
    msg = await worker.broker.request(body, subjects.command("p1", LIFECYCLE, action), timeout=5)
    return msg.body


def items(value):
    """JSON with its objects' key order made visible."""
    if isinstance(value, dict):
        return [(k, items(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [items(v) for v in value]
    return value


async def test_memory_answers_as_the_handlers_do(worker):
    env_ids = [(await worker(Lifecycle.ENVIRONMENT_CREATE, {**ENVIRONMENT_BODY, "name": f"e{n}"})).result["id"] for n in range(5)]
    app_id = (await worker(Lifecycle.APPLICATION_CREATE, {"name": "app", "description": "d"})).result["id"]
    comp_ids = [
        (
            await worker(
                Lifecycle.COMPONENT_CREATE, {"application_id": app_id, "body": {**COMPONENT_BODY, "name": f"c{n}"}, "creator": "me"}
            )
        ).result["id"]
        for n in range(3)
    ]
    cases = [
        (Lifecycle.ENVIRONMENT_LIST, {}),
        (Lifecycle.ENVIRONMENT_LIST, {"limit": 2, "offset": 1, "order_by": "name", "order": "asc"}),
        (Lifecycle.ENVIRONMENT_GET, {"environment_id": env_ids[2]}),
        (Lifecycle.APPLICATION_LIST, {}),
        (Lifecycle.APPLICATION_GET, {"application_id": app_id}),
        (Lifecycle.COMPONENT_LIST, {"application_id": app_id, "limit": 2}),
        (Lifecycle.COMPONENT_GET, {"application_id": app_id, "component_id": comp_ids[1]}),
    ]
    for action, body in cases:  # the subscribers' answers load the read models
        await subscriber_answer(worker, action, body)
    for action, body in cases:
        expected = orjson.loads(await subscriber_answer(worker, action, body))
        out, _ = answer_from_memory(action, worker.deps, "p1", orjson.dumps(body))
        assert out is not None, (action, body)  # answered from memory
        answered = orjson.loads(out)
        assert answered["status"] == expected["status"] == 200
        assert items(answered["result"]) == items(expected["result"]), (action, body)


async def test_what_memory_does_not_hold_goes_to_the_handler(worker):
    app_id = (await worker(Lifecycle.APPLICATION_CREATE, {"name": "app"})).result["id"]
    # nothing loaded yet: the handler answers (and the project starts loading)
    out, later = answer_from_memory(Lifecycle.APPLICATION_GET, worker.deps, "p1", orjson.dumps({"application_id": app_id}))
    assert out is None and later is not None
    assert orjson.loads(await later())["result"]["id"] == app_id  # the handler's answer
    await worker(Lifecycle.APPLICATION_LIST, {})
    # loaded, but an id it does not hold: the handler asks the store (404 there, or created elsewhere)
    missing = {"application_id": "f" * 32}
    assert answer_from_memory(Lifecycle.APPLICATION_GET, worker.deps, "p1", orjson.dumps(missing))[0] is None
    # the components of an application memory does not hold: the handler answers (404)
    components = {"application_id": "f" * 32}
    assert answer_from_memory(Lifecycle.COMPONENT_LIST, worker.deps, "p1", orjson.dumps(components))[0] is None


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        (Lifecycle.ENVIRONMENT_GET, b'{"environment_id": "../x"}'),
        (Lifecycle.ENVIRONMENT_LIST, b'{"limit": 5000}'),
        (Lifecycle.APPLICATION_LIST, b'{"order": "sideways"}'),
        (Lifecycle.COMPONENT_GET, b'{"application_id": "a"}'),
    ],
)
async def test_a_refused_command_is_answered_as_the_subscribers_answer_it(worker, action, payload):
    expected = orjson.loads(await subscriber_answer(worker, action, orjson.loads(payload)))
    out, later = answer_from_memory(action, worker.deps, "p1", payload)
    assert later is None and out is not None
    assert orjson.loads(out) == expected and expected["status"] == 400


# --- instances: read from memory between jobs; any instance, job or task event drops them ---------
@pytest.fixture
async def lifecycle(base_deps):
    async with lifecycle_with_jobs(base_deps) as running:
        yield running


async def test_instances_answer_from_memory_between_jobs_and_follow_their_jobs(lifecycle):
    broker, deps = lifecycle
    worker = SimpleNamespace(broker=broker)

    async def ok(action, body) -> dict:
        reply = await call(broker, "p1", LIFECYCLE, action, body)
        assert reply.status == 200, reply
        return reply.result

    env, app, comp = await environment_application_component(broker, {**COMPONENT_BODY, "name": "web"})
    scope = {"application_id": app["id"], "component_id": comp["id"]}
    ids = []
    for n in range(3):
        body = {
            "name": f"web-{n}",
            "environment_id": env["id"],
            "flavor_id": "MICRO-5G:0.5C:1G",
            "replica": 1,
            "version": "1.0.0",
            "artifacts": {"web": {"storage": "swr", "type": "image", "url": "swr.example.com/a/b:1"}},
            "refer_resources": [{"id": "cce-1", "type": "cce", "parameters": {"namespace": "default"}}],
        }
        accepted = await ok(ComponentInstances.CREATE, {**scope, "creator": "me", "body": body})
        assert await deps.job_runner.run(accepted["job_id"]) is RunOutcome.DONE
        ids.append(accepted["instance_id"])
    cases = [
        (ComponentInstances.LIST, {**scope}),
        (ComponentInstances.LIST, {**scope, "limit": 2, "offset": 1, "order_by": "name", "order": "asc"}),
        (ComponentInstances.GET, {**scope, "instance_id": ids[1]}),
    ]
    for action, body in cases:  # the subscribers' answers load the read models
        await subscriber_answer(worker, action, body)
    for action, body in cases:
        expected = orjson.loads(await subscriber_answer(worker, action, body))
        out, _ = answer_from_memory(action, deps, "p1", orjson.dumps(body))
        assert out is not None, (action, body)
        assert items(orjson.loads(out)["result"]) == items(expected["result"]), (action, body)
        assert expected["result"] and expected["status"] == 200

    # a stop: its submission drops the instances, and what is read next is the store's
    stop = await ok(ComponentInstances.ACTION, {**scope, "instance_id": ids[1], "creator": "me", "body": {"action": "stop"}})
    assert answer_from_memory(ComponentInstances.GET, deps, "p1", orjson.dumps(cases[2][1]))[0] is None
    assert await deps.job_runner.run(stop["job_id"]) is RunOutcome.DONE
    shown = await call(broker, "p1", LIFECYCLE, ComponentInstances.GET, cases[2][1])
    assert shown.result["status_detail"]["status"] == "STOPPED"
    await asyncio.sleep(0.05)  # (the project loads in the background)
    out, _ = answer_from_memory(ComponentInstances.GET, deps, "p1", orjson.dumps(cases[2][1]))
    assert out is not None and orjson.loads(out)["result"]["status_detail"]["status"] == "STOPPED"


# --- instance create: always the handler, in a task (concurrent creates share group commits) -----
async def answered_later(later) -> dict:
    """What the fast path answers for a message its handler answers (workers/fast_path.py ``_respond_later``)."""
    try:
        return orjson.loads(await later())
    except Exception as exc:  # every failure is a typed reply
        return orjson.loads(failure_reply(exc))


async def test_an_instance_create_on_the_fast_path_answers_as_its_subscriber(lifecycle):
    broker, deps = lifecycle
    worker = SimpleNamespace(broker=broker)
    env, app, comp = await environment_application_component(broker)
    scope = {"application_id": app["id"], "component_id": comp["id"], "creator": "me"}

    def create(name: str = "web-1", **changes) -> dict:
        return {**scope, "body": {**INSTANCE_BODY, "environment_id": env["id"], "name": name, **changes}}

    async def fast(body: dict) -> dict:
        out, later = answer_from_memory(ComponentInstances.CREATE, deps, "p1", orjson.dumps(body))
        assert out is None and later is not None  # a create is always the handler's
        return await answered_later(later)

    async def subscriber(body: dict) -> dict:
        return orjson.loads(await subscriber_answer(worker, ComponentInstances.CREATE, body))

    # accepted alike: the same reply's shape, the same instance and events
    made = []
    for name, answer in (("by-subscriber", subscriber), ("by-fast-path", fast)):
        before = len(deps.js.published)
        reply = await answer(create(name))
        assert reply["status"] == 200 and sorted(reply["result"]) == ["instance_id", "job_id"], reply
        shown = await call(broker, "p1", LIFECYCLE, ComponentInstances.GET, {**scope, "instance_id": reply["result"]["instance_id"]})
        assert shown.result["status_detail"]["last_job_id"] == reply["result"]["job_id"]
        made.append((shown.result, [e.type for e in deps.js.published[before:]]))
    (by_subscriber, subscriber_events), (by_fast_path, fast_path_events) = made
    varying = {"id", "name", "create_time", "update_time", "status_detail"}
    assert {k: v for k, v in by_subscriber.items() if k not in varying} == {k: v for k, v in by_fast_path.items() if k not in varying}
    assert subscriber_events == fast_path_events and "lifecycle.instance.created" in " ".join(subscriber_events)

    # refused alike, byte for byte
    refusals = [
        create("by-subscriber"),  # the name is taken
        create("new", replica=0),  # the command's model refuses it (answered at once)
        {**create("new"), "component_id": "f" * 32},
        {**create("new"), "application_id": "f" * 32},
        create("new", environment_id="f" * 32),
    ]
    for body in refusals:
        expected = await subscriber(body)
        assert expected["status"] in (400, 404), expected
        out, later = answer_from_memory(ComponentInstances.CREATE, deps, "p1", orjson.dumps(body))
        answered = orjson.loads(out) if out is not None else await answered_later(later)
        assert answered == expected, body


async def test_concurrent_instance_creates_on_the_fast_path_each_get_their_answer(lifecycle):
    """Creates in tasks share group commits; a name taken by one of them is refused to the other only."""
    broker, deps = lifecycle
    env, app, comp = await environment_application_component(broker)
    scope = {"application_id": app["id"], "component_id": comp["id"]}
    names = [f"web-{n}" for n in range(12)] + ["web-3"]
    laters = []
    for name in names:
        body = {**scope, "body": {**INSTANCE_BODY, "environment_id": env["id"], "name": name}}
        out, later = answer_from_memory(ComponentInstances.CREATE, deps, "p1", orjson.dumps(body))
        assert out is None and later is not None
        laters.append(answered_later(later))
    replies = await asyncio.gather(*laters)
    assert [r["status"] for r in replies].count(200) == 12
    assert sorted(r["error"]["error_code"] for r in replies if r["status"] != 200) == [errors.INSTANCE_NAME_EXISTS]
    listed = await call(broker, "p1", LIFECYCLE, ComponentInstances.LIST, scope)
    assert sorted(i["name"] for i in listed.result["instances"]) == sorted(set(names))
    assert len({r["result"]["job_id"] for r in replies if r["status"] == 200}) == 12
