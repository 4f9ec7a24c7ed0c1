"""Leases kept in the instances' documents: a registration restarts its instance's lease in the
same write, heartbeats push the deadline forward, a silent instance expires exactly once, a
re-registration after the expiry scan read the instance keeps it, a store written when leases had
a collection of their own has them moved into the instances at start; and a batch of new
endpoints (inserted without a read) still overwrites the instance some of them already have."""

from __future__ import annotations

import asyncio

import pytest

from services.adapters.clock import Clock
from services.adapters.store import registry as store
from services.contracts.registry import MicroServiceInstance
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry.model import endpoints_key
from tests.handlers.conftest import call, handler_broker
from tests.handlers.test_registry_registrations import instance, register, service
from workers.registry.app import ROUTERS, compose

TTL = 120  # interval 30 s x (3 + 1)
EXPIRED = "io.openstage.registry.instance.expired"
REGISTERED = "io.openstage.registry.instance.registered"
UPDATED = "io.openstage.registry.instance.updated"


class LaterClock(Clock):
    """The real clock, ``ahead`` seconds later."""

    def __init__(self, ahead: float) -> None:
        self.ahead = ahead

    def seconds(self) -> float:
        return super().seconds() + self.ahead


@pytest.fixture
async def registry(base_deps):
    deps = await compose(await base_deps(REGISTRY))
    async with handler_broker(ROUTERS, deps) as broker:
        yield broker, deps


async def test_a_silent_instance_expires_once_and_a_heartbeating_one_lives(registry):
    broker, deps = registry
    sid = await service(broker)
    silent = await register(broker, sid, instance("silent"))
    alive = await register(broker, sid, instance("alive"))
    assert await store.lease_ttl(deps.db, "p1", sid, silent) == TTL

    deps.leases.clock = LaterClock(TTL + 10)  # past both deadlines...
    hb = await call(broker, "p1", REGISTRY, Registry.INSTANCE_HEARTBEAT, {"service_id": sid, "instance_id": alive})
    assert hb.status == 200, hb
    await deps.leases.flush()  # ...but this one's heartbeat pushed its deadline on
    assert await deps.leases.expire_once() == 1
    assert await deps.leases.expire_once() == 0  # exactly once

    assert await store.get_instance(deps.db, "p1", sid, silent) is None
    assert await store.lease_ttl(deps.db, "p1", sid, silent) is None
    assert await store.get_instance(deps.db, "p1", sid, alive) is not None
    assert deps.js.types().count(EXPIRED) == 1
    gone = await call(broker, "p1", REGISTRY, Registry.INSTANCE_HEARTBEAT, {"service_id": sid, "instance_id": silent})
    assert gone.status == 400 and gone.error.error_code == "400017"


async def test_a_registration_after_the_scan_read_the_instance_keeps_it(registry):
    broker, deps = registry
    sid = await service(broker)
    iid = await register(broker, sid, instance("late"))
    deps.leases.clock = LaterClock(TTL + 10)
    [seen] = await store.expired_leases(deps.db, deps.leases.clock.seconds())
    # registered again (changed, so it is written) before the scan deletes it: the lease restarts
    assert await register(broker, sid, instance("late", properties={"k": "v"})) == iid
    assert await deps.leases._expire(seen) is False
    assert (await store.get_instance(deps.db, "p1", sid, iid))["properties"] == {"k": "v"}
    assert EXPIRED not in deps.js.types()


async def test_leases_of_a_store_written_before_they_moved_into_the_instances_are_moved(registry):
    broker, deps = registry
    sid = await service(broker)
    iid = await register(broker, sid, instance("old"))
    key = store.child_key("p1", sid, iid)
    # the layout of before: the instance without its lease, the lease in registry_leases
    await deps.db[store.INSTANCES].update_one({"_id": key}, {"$unset": {"ttl": "", "deadline": ""}})
    deadline = Clock().seconds() + 60
    await deps.db[store.LEASES].insert_one(
        {"_id": key, "project": "p1", "service_id": sid, "instance_id": iid, "ttl": 60, "deadline": deadline}
    )
    assert await store.lease_ttl(deps.db, "p1", sid, iid) is None

    await store.ensure_indexes(deps.db)  # at start
    await store.ensure_indexes(deps.db)  # again (another process starting): nothing left to move

    assert await deps.db[store.LEASES].count_documents({}) == 0
    assert await store.lease_ttl(deps.db, "p1", sid, iid) == 60
    assert await store.expired_leases(deps.db, deadline - 1) == []
    [lease] = await store.expired_leases(deps.db, deadline + 1)
    assert lease["_id"] == key


async def test_a_batch_of_new_endpoints_overwrites_the_ones_already_registered(registry):
    broker, deps = registry
    sid = await service(broker)
    before = await register(broker, sid, instance("known"))
    stored = await store.get_instance(deps.db, "p1", sid, before)
    svc = await store.get_service(deps.db, "p1", sid)
    events = len(deps.js.types())

    bodies = [instance("n1"), instance("known", properties={"k": "v"}), instance("n2"), instance("n3")]
    insts = [MicroServiceInstance.model_validate({**b["instance"], "serviceId": sid}) for b in bodies]
    ids = await asyncio.gather(*(deps.registrations.register("p1", i, svc, endpoints_key(i.endpoints)) for i in insts))

    assert ids[1] == before and len({ids[0], ids[2], ids[3], before}) == 4
    known = await store.get_instance(deps.db, "p1", sid, before)
    assert known["properties"] == {"k": "v"} and known["timestamp"] == stored["timestamp"]  # registered when it first was
    assert deps.js.types()[events:] == [REGISTERED, UPDATED, REGISTERED, REGISTERED]
    for iid in ids:
        assert await store.lease_ttl(deps.db, "p1", sid, iid) == TTL
    assert {d["instanceId"] for d in await store.instances_of(deps.db, "p1", [sid])} == set(ids)
