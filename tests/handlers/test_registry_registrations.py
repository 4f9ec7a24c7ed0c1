"""Registrations: an unchanged re-registration answered from memory (a lease renewal, nothing
written), concurrent registrations written in one batch with the result of running them one at
a time, and the outbox's group commit (one failing write never answers for another)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts import subjects
from services.contracts.registry import MicroServiceInstance
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry.model import endpoints_key
from tests.handlers.conftest import call, handler_broker
from workers.registry.app import ROUTERS, compose
from workers.registry.events import instance_event

SERVICE = {"service": {"appId": "shop", "serviceName": "reg", "version": "1.0.0"}}


def instance(host: str, **extra) -> dict:
    return {"instance": {"hostName": host, "endpoints": [f"rest://{host}:8080"], "healthCheck": {"mode": "push", "interval": 30}, **extra}}


@pytest.fixture
async def registry(base_deps):
    deps = await compose(await base_deps(REGISTRY))
    async with handler_broker(ROUTERS, deps) as broker:
        yield broker, deps


async def service(broker, project: str = "p1") -> str:
    created = await call(broker, project, REGISTRY, Registry.SERVICE_CREATE, {"body": SERVICE})
    assert created.status == 200, created
    return created.result["serviceId"]


async def register(broker, sid: str, body: dict, project: str = "p1") -> str:
    reg = await call(broker, project, REGISTRY, Registry.INSTANCE_REGISTER, {"service_id": sid, "body": body})
    assert reg.status == 200, reg
    return reg.result["instanceId"]


async def test_unchanged_reregistration_is_a_lease_renewal_from_memory(registry):
    broker, deps = registry
    sid = await service(broker)
    iid = await register(broker, sid, instance("a"))
    written = len(deps.js.types())
    stored = await store.get_instance(deps.db, "p1", sid, iid)

    assert await register(broker, sid, instance("a")) == iid  # same endpoints, same content
    assert len(deps.js.types()) == written  # no event: nothing was written
    assert await store.get_instance(deps.db, "p1", sid, iid) == stored
    assert ("p1", sid, iid) in {lease[:3] for lease in deps.leases.renewed.values()}  # the lease is renewed

    # a change of content is written (and emits), and the next unchanged one is from memory again
    assert await register(broker, sid, instance("a", properties={"k": "v"})) == iid
    assert deps.js.types()[-1] == "io.openstage.registry.instance.updated"
    assert (await store.get_instance(deps.db, "p1", sid, iid))["properties"] == {"k": "v"}
    written = len(deps.js.types())
    assert await register(broker, sid, instance("a", properties={"k": "v"})) == iid
    assert len(deps.js.types()) == written


async def test_another_processs_change_makes_the_next_reregistration_write(registry):
    broker, deps = registry
    sid = await service(broker)
    iid = await register(broker, sid, instance("b"))
    doc = await store.get_instance(deps.db, "p1", sid, iid)
    # another process changed the instance (its event arrives over the bus)
    changed = {**doc, "status": "DOWN"}
    event = instance_event("p1", "status_changed", {"serviceId": sid, "instanceId": iid, "instance": changed, "service": {}})
    deps.caches.apply_event("p1", "instance", "status_changed", event.data)
    await store.replace_instance_json(deps.db, "p1", changed, None)

    written = len(deps.js.types())
    assert await register(broker, sid, instance("b")) == iid
    assert len(deps.js.types()) == written + 1  # written again, not answered from memory
    assert (await store.get_instance(deps.db, "p1", sid, iid))["status"] == "UP"


async def test_a_registration_racing_another_change_is_not_remembered(registry):
    broker, deps = registry
    sid = await service(broker)
    generation = deps.caches.instance_generation
    deps.caches.apply_event("p1", "instance", "deregistered", {"serviceId": sid, "instanceId": "other", "service": {}})
    doc = {"serviceId": sid, "instanceId": "x", "endpoints": ["rest://x:1"]}
    deps.caches.remember_registration("p1", doc, endpoints_key(doc["endpoints"]), generation)
    assert deps.caches.instance_docs == {}


async def test_concurrent_registrations_are_one_batch_with_serial_results(registry):
    broker, deps = registry
    sid = await service(broker)
    before = await register(broker, sid, instance("existing"))
    bodies = [instance(f"h{i}") for i in range(20)] + [instance("existing"), instance("h3"), instance("x", instanceId="custom-1")]
    ids = await asyncio.gather(*(register(broker, sid, body) for body in bodies))
    assert len(set(ids[:20])) == 20
    assert ids[20] == before  # same endpoints: the existing instance, overwritten
    assert ids[21] == ids[3]  # same endpoints as an earlier registration of the same batch
    assert ids[22] == "custom-1"
    stored = {d["instanceId"] for d in await store.instances_of(deps.db, "p1", [sid])}
    assert stored == {before, *ids}
    for iid in stored:
        assert await store.lease_ttl(deps.db, "p1", sid, iid) is not None


async def test_a_refused_registration_in_a_batch_answers_only_for_itself(registry):
    broker, deps = registry
    sid = await service(broker)
    batcher = deps.registrations
    svc = await store.get_service(deps.db, "p1", sid)

    async def refuse_custom(project, inst, service, ep_key):
        if inst.instance_id == "bad":
            raise rerr.instance_not_exists()
        return await original(project, inst, service, ep_key)

    original = batcher.alone
    batcher.alone = refuse_custom
    good = MicroServiceInstance.model_validate({**instance("g")["instance"], "serviceId": sid})
    bad = MicroServiceInstance.model_validate({**instance("bad")["instance"], "serviceId": sid, "instanceId": "bad"})
    real_put = store.put_instances

    async def failing_put(db, items, session):  # the batch's transaction fails once
        store.put_instances = real_put
        raise rerr.invalid_params("batch refused")

    store.put_instances = failing_put
    try:
        results = await asyncio.gather(
            batcher.register("p1", good, svc, endpoints_key(good.endpoints)),
            batcher.register("p1", bad, svc, endpoints_key(bad.endpoints)),
            return_exceptions=True,
        )
    finally:
        store.put_instances = real_put
    assert isinstance(results[0], str) and await store.get_instance(deps.db, "p1", sid, results[0]) is not None
    assert isinstance(results[1], rerr.RegistryError)


async def test_outbox_group_commit_isolates_a_failing_write(registry):
    _, deps = registry
    outbox = deps.outbox
    db = deps.db

    def writer(key: str, fail: bool = False):
        async def write(session):
            await db["group_commit_probe"].insert_one({"_id": key}, session=session)
            if fail:
                raise ValueError(key)
            return key, []

        return write

    results = await asyncio.gather(
        outbox.transaction(writer("g1")),
        outbox.transaction(writer("g2", fail=True)),
        outbox.transaction(writer("g3")),
        return_exceptions=True,
    )
    assert results[0] == "g1" and results[2] == "g3" and isinstance(results[1], ValueError)
    assert {d["_id"] async for d in db["group_commit_probe"].find({})} == {"g1", "g3"}


async def test_fast_path_answers_an_unchanged_reregistration_from_memory_and_runs_the_rest(registry):
    from tests.handlers.test_registry_handlers import FakeMsg
    from workers.registry.fast_path import SUBJECTS

    broker, deps = registry
    sid = await service(broker)
    on_register = deps.fast_path.on_message(next(s for s in SUBJECTS if s.action == Registry.INSTANCE_REGISTER))
    subject = subjects.command("p1", REGISTRY, Registry.INSTANCE_REGISTER)

    first = FakeMsg(subject, orjson.dumps({"service_id": sid, "body": instance("fp")}))
    await on_register(first)  # a new instance: the handler runs in a task
    await asyncio.gather(*deps.fast_path.tasks)
    iid = first.answers[0].result["instanceId"]

    again = FakeMsg(subject, first.data)
    await on_register(again)  # unchanged: answered before the callback returns, no task
    assert again.answers[0].result == {"instanceId": iid} and not deps.fast_path.tasks

    for body, code in (
        ({"service_id": sid, "body": {"instance": {"hostName": ""}}}, "400001"),
        ({"service_id": "nope", "body": instance("x")}, "400012"),
    ):
        bad = FakeMsg(subject, orjson.dumps(body))
        await on_register(bad)  # the handler answers errors as it always did
        await asyncio.gather(*deps.fast_path.tasks)
        assert bad.answers[0].error.error_code == code, body


async def test_the_same_bytes_again_are_answered_from_memory_only_while_the_comparison_holds(registry):
    """An unchanged re-registration is remembered by its command's bytes; the same bytes again
    skip validation, but only while the service, the instance as committed and (without an
    instance id) its endpoints are what it was compared with."""
    from tests.handlers.test_registry_handlers import FakeMsg
    from workers.registry.fast_path import SUBJECTS

    broker, deps = registry
    sid = await service(broker)
    on_register = deps.fast_path.on_message(next(s for s in SUBJECTS if s.action == Registry.INSTANCE_REGISTER))
    subject = subjects.command("p1", REGISTRY, Registry.INSTANCE_REGISTER)
    payload = orjson.dumps({"service_id": sid, "body": instance("memo")})

    async def send(data: bytes) -> tuple[dict | None, bool]:
        msg = FakeMsg(subject, data)
        await on_register(msg)
        from_memory = not deps.fast_path.tasks
        await asyncio.gather(*deps.fast_path.tasks)
        return msg.answers[0].result, from_memory

    iid = (await send(payload))[0]["instanceId"]
    assert await send(payload) == ({"instanceId": iid}, True)  # compared, then remembered by its bytes
    assert ("p1", payload) in deps.caches.reregistrations
    deps.leases.renewed.clear()
    assert await send(payload) == ({"instanceId": iid}, True)  # the same bytes: no validation
    assert ("p1", sid, iid) in {lease[:3] for lease in deps.leases.renewed.values()}  # still a renewal

    # another process changed the instance: the remembered bytes no longer hold, the handler writes
    deps.caches.apply_event("p1", "instance", "updated", {"serviceId": sid, "instanceId": iid, "instance": {"other": 1}})
    assert await send(payload) == ({"instanceId": iid}, False)
    assert await send(payload) == ({"instanceId": iid}, True)

    # the service changed (reloaded): compared again, from memory once it is cached again
    deps.caches.apply_event("p1", "service", "updated", {"serviceId": sid, "service": {"serviceId": sid}})
    assert (await send(payload))[0] == {"instanceId": iid}
    assert await send(payload) == ({"instanceId": iid}, True)

    # unregistered: the same bytes register it again, under a new id
    gone = await call(broker, "p1", REGISTRY, Registry.INSTANCE_DELETE, {"service_id": sid, "instance_id": iid})
    assert gone.status == 200, gone
    again, from_memory = await send(payload)
    assert again["instanceId"] != iid and not from_memory
