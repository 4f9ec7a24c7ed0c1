"""The lifecycle worker's background queries on a real nx-27017, served by indexes: a silent host
marks UNKNOWN exactly the idle instances placed on it (``HostTable.mark_unknown``); a host heard
again is asked for exactly its instances' replicas (``ReplicaReports.refresh_host``); an
instance's reports are read by ``instance_id``, kept once per host (nx-27017 used to add one per
report) and removed once the instance is gone; the outbox sweeper republishes old events (by
``created_ms``, and those written with ``created`` alone)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.adapters.agent_client import AgentError
from services.adapters.clock import Clock
from services.adapters.store import component_instances as store
from services.adapters.store import mongo
from services.adapters.store.mongo import eq
from services.adapters.store.outbox import OUTBOX, Outbox
from services.contracts.agent import InstanceReplicas, InstanceStatusQuery, ReplicaPhase, ReplicaState
from services.contracts.component_instances import ReferResource
from services.contracts.events import CloudEvent
from services.contracts.subjects import LIFECYCLE
from tests.handlers.conftest import RecordingJetStream
from tests.support.instances import an_instance
from workers.lifecycle.app import compose
from workers.lifecycle.deps import LifecycleDeps
from workers.lifecycle.replica_reports import REPORTS


def ecs(host: str, *more: str) -> list[dict[str, Any]]:
    """Refer resources placing an instance on ``host`` (by the resource's id) or on ``host`` and ``more``."""
    if not more:
        return [{"id": host, "type": "ecs"}]
    return [{"id": "pool", "type": "ecs", "parameters": {"hosts": [host, *more]}}]


# id -> (project, platform, refer resources, replica, held by a job); "written-before-*" are
# stored as before the documents kept their hosts (``host_ids``)
INSTANCES: dict[str, tuple[str, str, list[dict[str, Any]], int, bool]] = {
    "on-h1": ("p1", "vmapp", ecs("h1"), 1, False),
    "on-h1-h2": ("p1", "vmapp", ecs("h1", "h2"), 2, False),
    "on-h2": ("p1", "vmapp", ecs("h2"), 1, False),
    "other-project-on-h1": ("p2", "vmapp", ecs("h1"), 1, False),
    "held-on-h1": ("p1", "vmapp", ecs("h1"), 1, True),
    "on-h10": ("p1", "vmapp", ecs("h10"), 1, False),  # (a host whose id starts with another's)
    "cce-naming-h1": ("p1", "cce", ecs("h1"), 1, False),  # not run by a host agent
    "written-before-on-h1": ("p1", "vmapp", ecs("h1"), 1, False),
    "written-before-on-h2": ("p1", "vmapp", ecs("h2"), 1, False),
}
ON_H1 = ["on-h1", "on-h1-h2", "other-project-on-h1", "written-before-on-h1"]


@pytest.fixture
async def deps(base_deps) -> LifecycleDeps:
    deps = await compose(await base_deps(LIFECYCLE))  # the worker's own composition root: its indexes
    docs = []
    for n, (iid, (project, platform, refer, replica, held)) in enumerate(INSTANCES.items()):
        inst = an_instance(
            "DOWN", replica=replica, available=0, id=iid, name=f"i{n}", project_id=project, platform_type=platform, refer_resources=refer
        )
        doc = store._doc(inst, "JOB-held" if held else None)
        if iid.startswith("written-before"):
            del doc["host_ids"]
        docs.append(doc)
    await deps.db[store.INSTANCES].insert_many(docs)
    return deps


async def statuses(deps: LifecycleDeps) -> dict[str, str]:
    return {d["_id"]: d["status_detail"]["status"] async for d in deps.db[store.INSTANCES].find({})}


def changed(deps: LifecycleDeps) -> list[str]:
    """The instances whose status change was emitted, in order."""
    return [e.subject.rsplit("/", 1)[-1] for e in deps.js.published if e.type.endswith("instance.status_changed")]


class Agents:
    """The agents' side of ``AgentClient.status`` (a port: no agent runs in this tier): every replica
    the placement puts on the host is ready, except for the instances that fail."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.asked: list[tuple[str, str, str]] = []
        self.failing = failing

    async def status(self, host_id: str, request: InstanceStatusQuery, timeout: float | None = None) -> InstanceReplicas:
        self.asked.append((host_id, request.project_id, request.instance_id))
        if request.instance_id in self.failing:
            raise AgentError("no such instance here")
        return InstanceReplicas(host_id=host_id, project_id=request.project_id, instance_id=request.instance_id, replicas=[ready(0)])


def ready(index: int) -> ReplicaState:
    return ReplicaState(index=index, port=8000 + index, generation="g1", phase=ReplicaPhase.READY)


async def uses_index(cursor) -> bool:
    """The query plan reads an index (nx-27017 reports SQLite's plan, MongoDB an IXSCAN stage)."""
    plan = str(await cursor.explain())
    return "USING INDEX" in plan or "IXSCAN" in plan


async def test_a_silent_host_marks_unknown_the_idle_instances_placed_on_it_only(deps):
    for iid in INSTANCES:  # (UNKNOWN replaces a status replicas decide: make them RUNNING first)
        await deps.db[store.INSTANCES].update_one({"_id": iid}, {"$set": {"status_detail.status": "RUNNING"}})

    await deps.hosts.mark_unknown("h1", 30)

    assert sorted(changed(deps)) == ON_H1
    after = await statuses(deps)
    assert sorted(i for i, s in after.items() if s == "UNKNOWN") == ON_H1
    assert after["held-on-h1"] == after["on-h10"] == after["on-h2"] == after["cce-naming-h1"] == after["written-before-on-h2"] == "RUNNING"
    detail = (await deps.db[store.INSTANCES].find_one({"_id": "on-h1-h2"}))["status_detail"]
    assert "host h1 has not been heard from for 30s" in detail["fail_detail"]

    await deps.hosts.mark_unknown("h3", 30)  # no instance there
    assert len(changed(deps)) == len(ON_H1)


async def test_a_host_heard_again_is_asked_for_its_instances_only_and_their_status_follows(deps):
    reports = deps.replica_reports
    reports.agents = Agents(failing=frozenset({"other-project-on-h1"}))  # type: ignore[assignment]

    await reports.refresh_host("h1")

    asked = reports.agents.asked  # type: ignore[attr-defined]
    assert sorted(asked) == [
        ("h1", "p1", "held-on-h1"),
        ("h1", "p1", "on-h1"),
        ("h1", "p1", "on-h1-h2"),
        ("h1", "p1", "written-before-on-h1"),
        ("h1", "p2", "other-project-on-h1"),
    ]
    after = await statuses(deps)
    assert after["on-h1"] == after["written-before-on-h1"] == "RUNNING"
    assert after["on-h1-h2"] == "PARTIALLY_FAILED"  # replica 1 is placed on h2, which has not reported
    detail = (await deps.db[store.INSTANCES].find_one({"_id": "on-h1-h2"}))["status_detail"]
    assert detail["fail_detail"] == "replica 1 on host h2: not reported" and detail["available_replica"] == 1
    assert after["held-on-h1"] == "DOWN"  # a job holds it: left to the job (its report is kept)
    assert after["other-project-on-h1"] == after["on-h10"] == after["on-h2"] == after["cce-naming-h1"] == "DOWN"
    assert sorted(changed(deps)) == ["on-h1", "on-h1-h2", "written-before-on-h1"]
    kept = sorted([d["_id"] async for d in deps.db[REPORTS].find({})])
    assert kept == ["held-on-h1:h1", "on-h1-h2:h1", "on-h1:h1", "written-before-on-h1:h1"]

    await reports.refresh_host("h2")  # the other host of on-h1-h2: all its replicas ready now
    assert sorted(asked[5:]) == [("h2", "p1", "on-h1-h2"), ("h2", "p1", "on-h2"), ("h2", "p1", "written-before-on-h2")]
    after = await statuses(deps)
    assert after["on-h2"] == "RUNNING" and after["on-h1-h2"] == "PARTIALLY_FAILED"  # h2's replica is index 1: reported 0
    await reports.report("h2", "p1", "on-h1-h2", [ready(1)])
    assert (await statuses(deps))["on-h1-h2"] == "RUNNING"
    assert set((await reports.reports_of("on-h1-h2")).keys()) == {"h1", "h2"}


async def test_the_reports_of_an_instance_are_removed_once_it_is_gone(deps):
    reports = deps.replica_reports
    for host, iid in (("h1", "on-h1"), ("h2", "on-h1"), ("h1", "on-h1-h2"), ("h2", "on-h1-h2")):
        await reports.report(host, "p1", iid, [ready(0)])
    assert set((await reports.reports_of("on-h1")).keys()) == {"h1", "h2"}

    await deps.db[store.INSTANCES].delete_one({"_id": "on-h1"})
    await reports.report("h1", "p1", "on-h1", [ready(0)])  # a report of an instance that is gone: that report goes
    assert sorted([d["_id"] async for d in deps.db[REPORTS].find({})]) == ["on-h1-h2:h1", "on-h1-h2:h2", "on-h1:h2"]

    await reports.sweep_once()  # the one left (it raced the delete): gone with its instance
    assert sorted([d["_id"] async for d in deps.db[REPORTS].find({})]) == ["on-h1-h2:h1", "on-h1-h2:h2"]
    assert await reports.reports_of("on-h1") == {}
    assert set((await reports.reports_of("on-h1-h2")).keys()) == {"h1", "h2"}


async def test_one_report_is_kept_per_instance_and_host(deps):
    reports = deps.replica_reports
    for _ in range(3):
        await reports.report("h1", "p1", "on-h1", [ready(0)])
    await reports.report("h1", "p1", "on-h1", [ready(0).model_copy(update={"phase": ReplicaPhase.FAILED})])
    assert [d["_id"] async for d in deps.db[REPORTS].find({})] == ["on-h1:h1"]
    assert (await statuses(deps))["on-h1"] == "DOWN"  # the latest report counts: RUNNING, then DOWN again
    assert changed(deps) == ["on-h1", "on-h1"]

    # what an nx-27017 store kept before (a document under a new ObjectId per report) goes at start
    stale = {"instance_id": "on-h1-h2", "host_id": "h1", "project_id": "p1", "replicas": [ready(0).model_dump(mode="json")]}
    await deps.db[REPORTS].insert_many([dict(stale) for _ in range(3)])
    assert await reports.drop_unkeyed() == 3
    assert [d["_id"] async for d in deps.db[REPORTS].find({})] == ["on-h1:h1"]
    assert await reports.reports_of("on-h1-h2") == {}


async def test_an_instance_moved_to_another_host_is_found_there_only(deps):
    async def placed(host: str) -> list[str]:
        return sorted(p.instance_id for p in await store.placed_on(deps.db, host))

    assert await placed("h1") == sorted(["held-on-h1", *ON_H1])
    held = await store.by_id(deps.db, "held-on-h1")
    assert held is not None
    moved = held.instance.model_copy(update={"refer_resources": [ReferResource.model_validate(r) for r in ecs("h2", "h3")]})

    async def save(session):  # as its job leaves it (job_execution.py)
        return await store.save(deps.db, moved, "JOB-held", None, session), []

    assert await deps.outbox.transaction(save)
    assert await placed("h1") == ON_H1
    assert await placed("h2") == ["held-on-h1", "on-h1-h2", "on-h2", "written-before-on-h2"]
    assert await placed("h3") == ["held-on-h1"]
    assert await placed("h") == []


async def test_the_background_queries_are_served_by_indexes(deps):
    db = deps.db
    assert await uses_index(db[REPORTS].find({"instance_id": eq("on-h1")}))
    assert await uses_index(db[store.INSTANCES].find({"platform_type": eq("vmapp"), "host_ids": "h1"}, {"_id": 1}))
    await deps.outbox.ensure_indexes()
    assert await uses_index(db[OUTBOX].find({"created_ms": {"$lte": 0}}).sort([("created_ms", 1)]).limit(500))


# --- the outbox sweeper ---------------------------------------------------------------------------
class DownJetStream:
    """JetStream unreachable: nothing is published, the events stay in the outbox."""

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
        raise ConnectionError("JetStream unreachable")


UNSTAMPED = {"created_ms": {"$exists": False}}  # the documents written before created_ms


def event(n: int) -> CloudEvent:
    return CloudEvent.new("p1", LIFECYCLE, "environment", "created", f"/environments/e{n}", {"n": n})


@pytest.fixture
async def outbox_db(base_deps):
    deps = await base_deps(LIFECYCLE)
    await deps.outbox.ensure_indexes()  # (as connect_deps does; this also creates the database)
    return deps.db


async def test_the_sweeper_republishes_the_old_events_a_failed_publish_left(outbox_db):
    crashed = Outbox(outbox_db, DownJetStream(), Clock())  # type: ignore[arg-type]
    events = [event(n) for n in range(3)]

    async def write(session):
        return None, events

    await crashed.transaction(write)
    kept = [d async for d in outbox_db[OUTBOX].find({})]
    assert [[e["id"] for e in d["events"]] for d in kept] == [[e.id for e in events]]  # one document per commit
    assert not await mongo.exists(outbox_db[OUTBOX], UNSTAMPED)  # (so a sweeper goes by created_ms after its first sweep)

    js = RecordingJetStream()
    restarted = Outbox(outbox_db, js, Clock())  # type: ignore[arg-type]
    assert await restarted.sweep_once(grace_seconds=60) == 0  # (first sweep: also by ``created``)
    assert await restarted.sweep_once(grace_seconds=60) == 0  # younger than the grace: the writer's own to publish
    assert js.published == []
    assert await restarted.sweep_once(grace_seconds=0) == 3
    assert [e.id for e in js.published] == [e.id for e in events]  # in commit order
    assert [d async for d in outbox_db[OUTBOX].find({})] == []
    assert await restarted.sweep_once(grace_seconds=0) == 0


async def test_the_sweeper_republishes_events_written_before_created_ms(outbox_db):
    clock = Clock()
    old, young = event(1), event(2)
    for e, age in ((old, 30), (young, 0)):  # (as a crash just before an upgrade left them)
        doc = {
            "_id": e.id,
            "subject": e.openstagesubject,
            "payload": e.model_dump_json().encode(),
            "created": clock.now() - timedelta(seconds=age),
        }
        await outbox_db[OUTBOX].insert_one(doc)

    assert await mongo.exists(outbox_db[OUTBOX], UNSTAMPED)
    js = RecordingJetStream()
    outbox = Outbox(outbox_db, js, clock)  # type: ignore[arg-type]
    assert await outbox.sweep_once(grace_seconds=10) == 1
    assert await outbox.sweep_once(grace_seconds=10) == 0
    assert [e.id for e in js.published] == [old.id]
    assert await outbox.sweep_once(grace_seconds=0) == 1  # once it is old enough: not left behind
    assert [e.id for e in js.published] == [old.id, young.id]
    assert [d async for d in outbox_db[OUTBOX].find({})] == []
