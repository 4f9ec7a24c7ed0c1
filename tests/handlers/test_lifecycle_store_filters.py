"""The lifecycle store's queries that are not by ``_id`` write ``{"$eq": value}`` (``mongo.eq``,
an nx-27017 work-around so the index serves them): on a real nx-27017 they find exactly the
documents the plain equalities find, across projects, applications, components and environments
that share ids and names. The job runner's claim, two atomic updates by ``_id`` instead of one
``$or`` (which nx-27017 evaluates on every job), takes a lease in the cases the ``$or`` did."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.adapters.store import component_instances as store
from services.adapters.store import mongo
from services.adapters.store.components import COMPONENTS, instance_overviews
from services.contracts.component_instances import ListInstances
from services.contracts.components import Component, ListComponents
from services.contracts.subjects import LIFECYCLE, ComponentInstances
from tests.handlers.conftest import call
from tests.handlers.lifecycle_support import environment_application_component, lifecycle_with_jobs
from tests.support.bodies import INSTANCE_BODY
from tests.support.instances import an_instance

PROJECTS, APPS, COMPS, ENVS = ("p1", "p2"), ("a1", "a2"), ("c1", "c2", "c3"), ("e1", "e2")


@pytest.fixture
async def db(store_url):
    db = mongo.connect(store_url, f"h{uuid.uuid4().hex[:12]}_lifecycle")
    await store.ensure_indexes(db)
    await COMPONENTS.ensure_indexes(db)
    instances, snapshots, components = [], [], []
    n = 0
    for p in PROJECTS:
        for a in APPS:
            for c in (f"{a}-{c}" for c in COMPS):  # (component ids are unique in a project)
                component = Component(
                    id=f"{p}-{c}",
                    name=c,
                    runtime="Docker",
                    category="Webapp",
                    project_id=p,
                    application_id=a,
                    creator="x",
                    create_time=n,
                    update_time=n,
                )
                components.append(COMPONENTS._stored(component))
                for e in ENVS:
                    for name in ("web", "api"):
                        n += 1
                        iid = f"i{n}"
                        inst = an_instance(
                            id=iid, name=name, project_id=p, application_id=a, component_id=c, environment_id=e, create_time=n
                        )
                        # a field holding the ids in an array: matched by neither form (the queried fields are never arrays)
                        instances.append({**store._doc(inst, None), "ids": [p, a, c, e, name]})
                        snapshots += [
                            {"_id": f"{iid}:j{k}", "instance_id": iid, "version": "1.0.0", "create_time": k, "flavor_id": "f", "replica": 1}
                            for k in range(2)
                        ]
    await db[store.INSTANCES].insert_many(instances)
    await db[store.SNAPSHOTS].insert_many(snapshots)
    await db[COMPONENTS.collection].insert_many(components)
    yield db
    await db.client.drop_database(db.name)
    await db.client.close()


async def plain(db, collection: str, query: dict[str, Any]) -> list[str]:
    return sorted([d["_id"] async for d in db[collection].find(query)])


async def test_instance_queries_find_what_plain_equalities_find(db):
    for p in PROJECTS:
        for a in APPS:
            for c in (f"{a}-{c}" for c in COMPS):
                where = {"project_id": p, "application_id": a, "component_id": c}
                expected = await plain(db, store.INSTANCES, where)
                assert len(expected) == len(ENVS) * 2
                assert sorted(s.instance.id for s in await store.of_component(db, p, a, c)) == expected
                assert sorted(await store.names_of_component(db, p, a, c)) == sorted(
                    [d["name"] async for d in db[store.INSTANCES].find(where)]
                )
                total, page = await store.page(db, p, ListInstances(application_id=a, component_id=c))
                assert total == len(expected) and sorted(i.id for i in page) == expected
                total, page = await store.INSTANCE_READS.page(db, ListInstances(application_id=a, component_id=c), p, a, c)
                assert total == len(expected) and sorted(i.id for i in page) == expected
                assert await store.INSTANCE_READS.count(db, p, a, c) == len(expected)
                for e in ENVS:
                    for name in ("web", "api", "WEB", "db"):
                        found = await plain(db, store.INSTANCES, {"project_id": p, "component_id": c, "environment_id": e, "name": name})
                        assert await store.name_exists(db, p, c, e, name) is bool(found)
        for e in ENVS:
            named = sorted([d["name"] async for d in db[store.INSTANCES].find({"project_id": p, "environment_id": e}).limit(10)])
            assert sorted(await store.names_in_environment(db, p, e)) == named
    assert await store.names_in_environment(db, "p3", "e1") == []
    assert await store.of_component(db, "p1", "a1", "nope") == []
    assert await store.of_component(db, "p1", "a2", "a1-c1") == []  # the component of another application


async def test_snapshot_and_overview_queries_find_what_plain_equalities_find(db):
    for iid in ("i1", "i7", "i48"):
        assert sorted(f"{s.instance_id}:j{s.create_time}" for s in await store.snapshots(db, iid)) == await plain(
            db, store.SNAPSHOTS, {"instance_id": iid}
        )
    for p in PROJECTS:
        for a in APPS:
            overviews = await instance_overviews(db, p, a, [f"{a}-c1", f"{a}-c3", "a1-c2" if a == "a2" else "a2-c2"])
            for c in (f"{a}-c1", f"{a}-c3"):
                expected = await plain(db, store.INSTANCES, {"project_id": p, "application_id": a, "component_id": c})
                assert sorted(o.instance_id for o in overviews[c]) == expected
            assert overviews["a1-c2" if a == "a2" else "a2-c2"] == []  # (another application's)
            total, components = await COMPONENTS.page(db, ListComponents(application_id=a), p, a)
            assert total == await COMPONENTS.count(db, p, a) == len(COMPS)
            assert sorted(c.id for c in components) == await plain(db, COMPONENTS.collection, {"project_id": p, "application_id": a})


# --- the job runner's claim: a free or an expired lease, never a held one nor an ended job --------
@pytest.fixture
async def lifecycle(base_deps):
    async with lifecycle_with_jobs(base_deps) as running:
        yield running


async def test_a_claim_takes_a_free_or_expired_lease_only(lifecycle):
    broker, deps = lifecycle
    env, app, comp = await environment_application_component(broker)
    create = {"application_id": app["id"], "component_id": comp["id"], "body": {**INSTANCE_BODY, "environment_id": env["id"]}}
    job_id = (await call(broker, "p1", LIFECYCLE, ComponentInstances.CREATE, create)).result["job_id"]
    jobs = deps.db[store.JOBS]
    now = 1_000_000

    async def lease(runner: str | None, until: int, **more: Any) -> None:
        await jobs.update_one({"_id": job_id}, {"$set": {"runner": runner, "lease_until": until, **more}})

    async def claim(token: str, unqueued_only: bool = False):
        return await store.claim_job(deps.db, job_id, token, now, 500, unqueued_only=unqueued_only)

    claimed = await claim("r1")  # free
    assert claimed is not None and claimed.runner == "r1" and claimed.lease_until == now + 500 and claimed.attempts == 1
    assert await claim("r2") is None  # held by r1 until now + 500
    await lease("r1", now - 1)  # expired
    claimed = await claim("r2")
    assert claimed is not None and claimed.runner == "r2" and claimed.attempts == 2
    await lease("r2", now)  # ends now: not expired yet
    assert await claim("r3") is None
    await lease(None, now + 10_000, waits_for="JOB-before")  # free, queued behind another job
    assert await claim("r3", unqueued_only=True) is None
    claimed = await claim("r3")
    assert claimed is not None and claimed.runner == "r3" and claimed.attempts == 3
    await lease(None, 0, status="SUCCEEDED")  # ended
    assert await claim("r4") is None and await claim("r4", unqueued_only=True) is None
    stored = await store.job(deps.db, job_id)
    assert stored is not None and stored.runner is None and stored.attempts == 3
