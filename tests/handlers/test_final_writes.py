"""A transaction's last upserts sent with its outbox insert (services/adapters/store/final_writes.py),
on a real nx-27017: a batch of new registrations is one client-level ``bulkWrite`` and the commit;
a registration whose endpoints already had an instance (one this process does not remember) is
settled in the same transaction, its instance overwritten under its id and its event "updated",
and the guessed "registered" event is neither published nor left in the outbox; the same without
the ``bulkWrite`` command (MongoDB before 8.0); and a write that fails after deferring leaves
nothing behind."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient, monitoring

from services.adapters.store import final_writes, mongo
from services.adapters.store import registry as store
from services.adapters.store.outbox import DELETE_EVERY_SECONDS, OUTBOX, Outbox
from services.contracts.events import CloudEvent
from services.contracts.registry import MicroServiceInstance
from services.contracts.subjects import REGISTRY
from services.domain.registry.identity import unix_timestamp
from services.domain.registry.model import endpoints_key, new_instance_json, ttl_of
from tests.handlers.conftest import RecordingJetStream
from workers.registry.app import compose

SERVICE = {"serviceId": "svc-1", "appId": "shop", "serviceName": "final", "version": "1.0.0", "environment": ""}


def an_instance(host: str) -> MicroServiceInstance:
    return MicroServiceInstance.model_validate(
        {
            "serviceId": SERVICE["serviceId"],
            "hostName": host,
            "endpoints": [f"rest://{host}:8080"],
            "healthCheck": {"mode": "push", "interval": 30},
        }
    )


class Commands(monitoring.CommandListener):
    """The commands a client sent, by name."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def registry(base_deps):
    return await compose(await base_deps(REGISTRY))


@pytest.fixture(params=["bulkWrite", "without bulkWrite"])
def client_bulk(request, registry):
    """Both ways: the server's ``bulkWrite`` command (nx-27017, MongoDB 8.0+), and the separate
    writes of a server without it."""
    if request.param == "without bulkWrite":
        final_writes._client_bulk[registry.db.client] = False
        yield False
        final_writes._client_bulk.pop(registry.db.client, None)
    else:
        yield True


async def existing_instance(deps, host: str) -> dict:
    """An instance written straight to the store: the registry process does not remember it."""
    now = deps.clock.seconds()
    doc = new_instance_json(an_instance(host), SERVICE, "already-there", unix_timestamp(now - 60))
    ttl = ttl_of(doc)

    async def write(session):
        await store.put_instances(deps.db, [("p1", doc, endpoints_key(doc["endpoints"]), ttl, now + ttl)], session)
        return None, []

    await deps.outbox.transaction(write)
    return doc


async def test_a_batch_of_new_and_known_endpoints_settles_in_its_transaction(registry, client_bulk):
    deps = registry
    known = await existing_instance(deps, "known")
    hosts = ["n1", "known", "n2", "n3"]
    instances = [an_instance(h) for h in hosts]
    alone = []  # a batch whose transaction fails runs each registration on its own: not this one
    real_alone = deps.registrations.alone

    async def recorded_alone(*args):
        alone.append(args)
        return await real_alone(*args)

    deps.registrations.alone = recorded_alone
    ids = await asyncio.gather(*(deps.registrations.register("p1", i, SERVICE, endpoints_key(i.endpoints)) for i in instances))
    assert alone == []

    assert ids[1] == "already-there"  # the endpoints' instance, overwritten under its id
    assert len({ids[0], ids[2], ids[3], "already-there"}) == 4
    stored = {d["instanceId"]: d for d in await store.instances_of(deps.db, "p1", [SERVICE["serviceId"]])}
    assert set(stored) == set(ids)
    assert stored["already-there"]["timestamp"] == known["timestamp"]  # registered then, rewritten now
    assert stored["already-there"]["modTimestamp"] != known["modTimestamp"]

    events = {
        e.data["instanceId"]: e for e in deps.js.published if e.type.endswith("instance.registered") or e.type.endswith("instance.updated")
    }
    assert {iid: e.type.rsplit(".", 1)[1] for iid, e in events.items()} == {
        ids[0]: "registered",
        "already-there": "updated",
        ids[2]: "registered",
        ids[3]: "registered",
    }
    # the guessed "registered" of the known endpoints was never published, nor left in the outbox
    # (published events leave it within DELETE_EVERY_SECONDS; one never published would stay)
    assert len([e for e in deps.js.published if e.data.get("instanceId") in ids]) == 4
    await asyncio.sleep(DELETE_EVERY_SECONDS + 0.5)
    assert [d["_id"] async for d in deps.db[OUTBOX].find({})] == []


async def test_new_registrations_are_one_bulk_write_and_the_commit(registry, store_url):
    listener = Commands()
    db = mongo.GuardedDatabase(AsyncMongoClient(store_url, tz_aware=True, event_listeners=[listener])[registry.db.name])
    js = RecordingJetStream()
    outbox = Outbox(db, js, registry.clock)
    now = registry.clock.seconds()
    docs = [new_instance_json(an_instance(f"c{i}"), SERVICE, f"id-{i}", unix_timestamp(now)) for i in range(5)]
    items = [("p1", d, endpoints_key(d["endpoints"]), ttl_of(d), now + ttl_of(d)) for d in docs]
    settled: list[list[bool]] = []

    async def write(session):
        async def settle(inserted):
            settled.append(inserted)
            return {}

        assert final_writes.defer(store.INSTANCES, store.new_instance_upserts(items), settle)
        return None, []

    await outbox.transaction(write)
    await outbox.transaction(write)  # the same endpoints again: found, not inserted
    assert settled == [[True] * 5, [False] * 5]
    assert [n for n in listener.names if n not in ("hello", "isMaster", "ping", "endSessions")] == ["bulkWrite", "commitTransaction"] * 2
    assert len(await store.instances_of(db, "p1", [SERVICE["serviceId"]])) == 5


async def test_a_write_failing_after_it_deferred_leaves_nothing(registry, client_bulk):
    deps = registry
    now = deps.clock.seconds()
    doc = new_instance_json(an_instance("gone"), SERVICE, "never", unix_timestamp(now))
    item = ("p1", doc, endpoints_key(doc["endpoints"]), ttl_of(doc), now + ttl_of(doc))

    async def write(session):
        async def settle(inserted):
            raise RuntimeError("refused after the upserts ran")

        if not final_writes.defer(store.INSTANCES, store.new_instance_upserts([item]), settle):
            raise AssertionError("a write of an outbox transaction defers")
        return None, [CloudEvent.new("p1", REGISTRY, "instance", "registered", "/never", {})]

    with pytest.raises(RuntimeError, match="refused after"):
        await deps.outbox.transaction(write)
    assert await store.instances_of(deps.db, "p1", [SERVICE["serviceId"]]) == []
    assert [d async for d in deps.db[OUTBOX].find({})] == []
    assert deps.js.published == []


async def test_outside_an_outbox_transaction_nothing_is_deferred():
    assert final_writes.defer(store.INSTANCES, [], lambda inserted: None) is False  # type: ignore[arg-type,return-value]
