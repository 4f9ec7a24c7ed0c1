"""Registry worker handlers in-process: micro-services, instances, heartbeats (memory and store
paths), discovery with revisions, batch discovery, deregistration, and the fast path's dispatch."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from services.adapters.store import registry as store
from services.contracts import subjects
from services.contracts.envelope import Reply
from services.contracts.subjects import REGISTRY, Registry
from tests.handlers.conftest import call, handler_broker
from workers.registry.app import ROUTERS, compose
from workers.registry.fast_path import SUBJECTS

SERVICE = {"service": {"appId": "shop", "serviceName": "order", "version": "1.0.0"}}
INSTANCE = {
    "instance": {"hostName": "h1", "endpoints": ["rest://10.0.0.1:8080"], "healthCheck": {"mode": "push", "interval": 30, "times": 3}}
}


@pytest.fixture
async def registry(base_deps):
    deps = await compose(await base_deps(REGISTRY))  # the worker's own composition root (indexes, caches)
    async with handler_broker(ROUTERS, deps) as broker:
        yield broker, deps


async def registered(broker) -> tuple[str, str]:
    created = await call(broker, "p1", REGISTRY, Registry.SERVICE_CREATE, {"body": SERVICE})
    assert created.status == 200, created
    sid = created.result["serviceId"]
    reg = await call(broker, "p1", REGISTRY, Registry.INSTANCE_REGISTER, {"service_id": sid, "body": INSTANCE})
    assert reg.status == 200, reg
    return sid, reg.result["instanceId"]


async def test_register_heartbeat_find_and_deregister(registry):
    broker, deps = registry
    sid, iid = await registered(broker)
    assert deps.js.types() == ["io.openstage.registry.service.created", "io.openstage.registry.instance.registered"]

    # heartbeat from memory: the registering process knows the instance; the lease is only marked renewed
    beat = await call(broker, "p1", REGISTRY, Registry.INSTANCE_HEARTBEAT, {"service_id": sid, "instance_id": iid})
    assert beat == Reply(status=200)
    assert [lease[:3] for lease in deps.leases.renewed.values()] == [("p1", sid, iid)]
    await deps.leases.flush()
    assert deps.leases.renewed == {}

    # heartbeat from the store: a process that never saw the instance reads its TTL once
    deps.caches.clear()
    beat = await call(broker, "p1", REGISTRY, Registry.INSTANCE_HEARTBEAT, {"service_id": sid, "instance_id": iid})
    assert beat.status == 200 and deps.caches.instance_ttls[("p1", sid, iid)] == 120
    gone = await call(broker, "p1", REGISTRY, Registry.INSTANCE_HEARTBEAT, {"service_id": sid, "instance_id": "nope"})
    assert gone.status == 400 and gone.error.error_code == "400017"

    # find: 200 with the revision, then 304 for that revision; the answer is cached as bytes
    query = {"app_id": "shop", "service_name": "order", "version": "latest"}
    found = await call(broker, "p1", REGISTRY, Registry.INSTANCE_FIND, query)
    assert found.status == 200 and [i["instanceId"] for i in found.result["instances"]] == [iid]
    rev = found.headers["X-Resource-Revision"]
    same = await call(broker, "p1", REGISTRY, Registry.INSTANCE_FIND, {**query, "rev": rev})
    assert same == Reply(status=304, headers={"X-Resource-Revision": rev})
    assert len(deps.caches.finds) == 1
    missing = await call(broker, "p1", REGISTRY, Registry.INSTANCE_FIND, {**query, "service_name": "nope"})
    assert missing.status == 400 and missing.error.error_code == "400012"

    # batch find: one updated entry, one not modified, one failed
    batch = {
        "services": [
            {"service": {"appId": "shop", "serviceName": "order", "version": "latest"}},
            {"service": {"appId": "shop", "serviceName": "order", "version": "latest"}, "rev": rev},
            {"service": {"appId": "shop", "serviceName": "nope", "version": "latest"}},
        ]
    }
    many = await call(broker, "p1", REGISTRY, Registry.INSTANCE_FIND_MANY, {"type": "query", "body": batch})
    assert many.status == 200, many
    services = many.result["services"]
    assert [u["index"] for u in services["updated"]] == [0] and services["notModified"] == [1]
    assert services["failed"][0]["indexes"] == [2] and services["failed"][0]["error"]["errorCode"] == "400012"

    # deregistration: the event, the cache dropped, a new revision; another project saw nothing
    assert (await call(broker, "p1", REGISTRY, Registry.INSTANCE_DELETE, {"service_id": sid, "instance_id": iid})).status == 200
    assert deps.js.types()[-1] == "io.openstage.registry.instance.deregistered"
    assert ("p1", sid, iid) not in deps.caches.instance_ttls and deps.caches.finds == {}
    after = await call(broker, "p1", REGISTRY, Registry.INSTANCE_FIND, {**query, "rev": rev})
    assert after.status == 200 and after.result == {} and after.headers["X-Resource-Revision"] != rev
    assert (await call(broker, "p2", REGISTRY, Registry.SERVICE_GET, {"service_id": sid})).error.error_code == "400012"


async def test_bad_input_answers_as_service_center(registry):
    broker, deps = registry
    empty = await call(broker, "p1", REGISTRY, Registry.SERVICE_CREATE, {})
    assert empty.status == 400 and empty.error.error_code == "400001"
    assert empty.error.detail == "Unmarshal error: unexpected end of JSON input"
    listed = await call(broker, "p1", REGISTRY, Registry.INSTANCE_REGISTER, {"service_id": "s", "body": [1]})
    assert listed.error.detail == "Unmarshal error: the request body must be a JSON object"
    action = await call(broker, "p1", REGISTRY, Registry.INSTANCE_FIND_MANY, {"type": "delete", "body": [1]})
    assert action.error.detail == "Invalid action: delete"
    beat = await call(broker, "p1", REGISTRY, Registry.INSTANCE_HEARTBEAT, {"service_id": "s", "instance_id": 1})
    assert beat.error.error_code == "400001" and beat.error.detail == "instance_id must be a string"
    assert deps.js.published == []


class FakeMsg:
    def __init__(self, subject: str, data: bytes) -> None:
        self.subject, self.data, self.reply = subject, data, "_INBOX.x"
        self.answers: list[Reply] = []

    async def respond(self, data: bytes) -> None:
        self.answers.append(Reply.model_validate(orjson.loads(data)))


async def test_fast_path_calls_the_same_handlers(registry):
    broker, deps = registry
    sid, iid = await registered(broker)
    heartbeat, find = (deps.fast_path.on_message(s) for s in SUBJECTS)
    subject = subjects.command("p1", REGISTRY, Registry.INSTANCE_HEARTBEAT)

    known = FakeMsg(subject, orjson.dumps({"service_id": sid, "instance_id": iid}))
    await heartbeat(known)  # answered from memory before the callback returns: no task
    assert known.answers == [Reply(status=200)] and not deps.fast_path.tasks

    unknown = FakeMsg(subject, orjson.dumps({"service_id": sid, "instance_id": "nope"}))
    await heartbeat(unknown)  # the handler runs in a task (one store read)
    await asyncio.gather(*deps.fast_path.tasks)
    assert unknown.answers[0].error.error_code == "400017"

    for data, detail in (
        (b"{not json", "Unmarshal error: "),
        (b"[1]", "the command must be a JSON object"),
        (b'{"service_id": 5}', "service_id must be a string"),
    ):
        bad = FakeMsg(subject, data)
        await heartbeat(bad)
        await asyncio.gather(*deps.fast_path.tasks)
        assert bad.answers[0].status == 400 and bad.answers[0].error.detail.startswith(detail), data

    find_subject = subjects.command("p1", REGISTRY, Registry.INSTANCE_FIND)
    first = FakeMsg(find_subject, orjson.dumps({"app_id": "shop", "service_name": "order"}))
    await find(first)
    await asyncio.gather(*deps.fast_path.tasks)
    cached = FakeMsg(find_subject, first.data)
    await find(cached)
    assert cached.answers == first.answers and first.answers[0].result["instances"][0]["instanceId"] == iid
    assert await store.lease_ttl(deps.db, "p1", sid, iid) == 120


async def test_schemas_one_and_the_whole_set(registry):
    broker, deps = registry
    sid = (await call(broker, "p1", REGISTRY, Registry.SERVICE_CREATE, {"body": SERVICE})).result["serviceId"]
    put = {"service_id": sid, "schema_id": "a", "body": {"schema": "swagger-a", "summary": "s1"}}
    assert (await call(broker, "p1", REGISTRY, Registry.SCHEMA_PUT, put)).status == 200
    await call(broker, "p1", REGISTRY, Registry.SCHEMA_PUT, put)  # again: the list does not change
    assert deps.js.types()[1:] == [
        "io.openstage.registry.schema.changed",
        "io.openstage.registry.service.updated",
        "io.openstage.registry.schema.changed",
    ]
    got = await call(broker, "p1", REGISTRY, Registry.SCHEMA_GET, {"service_id": sid, "schema_id": "a"})
    assert got == Reply(result={"schema": "swagger-a"}, headers={"X-Schema-Summary": "s1"})

    whole = {"service_id": sid, "body": {"schemas": [{"schemaId": "b", "schema": "swagger-b", "summary": "s2"}]}}
    assert (await call(broker, "p1", REGISTRY, Registry.SCHEMA_PUT_MANY, whole)).status == 200
    assert [(e.type.rsplit(".", 2)[-2], e.data.get("action")) for e in deps.js.published[4:]] == [
        ("schema", "delete"),
        ("schema", "put"),
        ("service", None),
    ]
    listed = await call(broker, "p1", REGISTRY, Registry.SCHEMA_LIST, {"service_id": sid, "with_schema": "1"})
    assert listed.result == {"schemas": [{"schemaId": "b", "summary": "s2", "schema": "swagger-b"}]}
    shown = await call(broker, "p1", REGISTRY, Registry.SERVICE_GET, {"service_id": sid})
    assert shown.result["service"]["schemas"] == ["b"]
