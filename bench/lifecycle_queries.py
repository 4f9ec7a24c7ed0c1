"""Time per query of the lifecycle store's non-_id queries on nx-27017, with plain equalities and
with ``{"$eq": value}`` (services/adapters/store/component_instances.py ``_eq``), at a given
number of instances (issue #15)::

    python -m bench.lifecycle_queries --instances 5000 --repeat 200

Starts its own nx-27017 on a free port in a temporary directory (stopped at the end), fills one
project with ``--instances`` instances (100 components, 10 environments; 2 snapshots and 2 jobs
per instance; as many components in 10 applications) plus as many in another project, then times each query both ways and checks both
return the same documents."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from openstage.processes import free_port, mongodb_url, start_store, stop
from services.adapters.store import component_instances, components, environments

Query = dict[str, Any]


def _eq_all(query: Query, fields: tuple[str, ...]) -> Query:
    return {k: ({"$eq": v} if k in fields and not isinstance(v, dict) else v) for k, v in query.items()}


async def _count(c, q):
    cursor = await c.aggregate([{"$match": q}, {"$count": "n"}])  # (a coroutine in PyMongo async)
    return await cursor.to_list(1)


async def _fill(db, instances: int) -> None:
    await component_instances.ensure_indexes(db)
    await environments.ensure_indexes(db)
    await components.ensure_indexes(db)
    for project in ("p1", "p2"):
        docs, snaps, jobs = [], [], []
        for i in range(instances):
            iid = f"{project}-i{i}"
            docs.append(
                {
                    "_id": iid,
                    "id": iid,
                    "project_id": project,
                    "application_id": f"a{i % 10}",
                    "component_id": f"c{i % 100}",
                    "environment_id": f"e{i % 10}",
                    "name": f"inst-{i}",
                    "create_time": i,
                    "active_job_id": None,
                    "refer_resources": [{"id": "cce-1", "type": "cce"}],
                }
            )
            snaps += [{"_id": f"{iid}:j{k}", "instance_id": iid, "create_time": k, "version": "1.0.0"} for k in range(2)]
            jobs += [{"_id": f"{iid}-j{k}", "instance_id": iid, "create_time": k, "status": "SUCCEEDED"} for k in range(2)]
        await db["instances"].insert_many(docs)
        await db["instance_snapshots"].insert_many(snaps)
        await db["instance_jobs"].insert_many(jobs)
        comps = [
            {"_id": f"{project}-c{i}", "id": f"{project}-c{i}", "project_id": project, "application_id": f"a{i % 10}", "name_key": f"c{i}"}
            for i in range(instances)
        ]
        await db["components"].insert_many(comps)


async def _time(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = await run()
    t0 = time.perf_counter()
    for _ in range(repeat):
        await run()
    return (time.perf_counter() - t0) / repeat * 1000, result


async def main(instances: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        child = start_store(Path(tmp), port, log_dir=Path(tmp) / "logs")
        try:
            client: AsyncMongoClient = AsyncMongoClient(mongodb_url("127.0.0.1", port))
            db = client["bench_lifecycle_queries"]
            await _fill(db, instances)
            ins, snaps, comps = db["instances"], db["instance_snapshots"], db["components"]
            n = instances - 1
            cases: list[tuple[str, Any, Query, tuple[str, ...], Callable[[Any, Query], Any]]] = [
                (
                    "instances: name_exists",
                    ins,
                    {"project_id": "p1", "component_id": f"c{n % 100}", "environment_id": f"e{n % 10}", "name": f"inst-{n}"},
                    ("project_id", "component_id", "environment_id", "name"),
                    lambda c, q: c.find_one(q, {"_id": 1}),
                ),
                (
                    "instances: names_in_environment",
                    ins,
                    {"project_id": "p1", "environment_id": "e3"},
                    ("project_id", "environment_id"),
                    lambda c, q: c.find(q).limit(10).to_list(None),
                ),
                (
                    "instances: of_component / read model load",
                    ins,
                    {"project_id": "p1", "application_id": "a3", "component_id": "c3"},
                    ("project_id", "application_id", "component_id"),
                    lambda c, q: c.find(q).to_list(None),
                ),
                (
                    "instances: page count",
                    ins,
                    {"project_id": "p1", "application_id": "a3", "component_id": "c3"},
                    ("project_id", "application_id", "component_id"),
                    _count,
                ),
                (
                    "instances: overviews of 10 components",
                    ins,
                    {"project_id": "p1", "application_id": "a3", "component_id": {"$in": [f"c{3 + 10 * k}" for k in range(10)]}},
                    ("project_id", "application_id"),
                    lambda c, q: c.find(q).to_list(None),
                ),
                (
                    "components of an application (read model load)",
                    comps,
                    {"project_id": "p1", "application_id": "a3"},
                    ("project_id", "application_id"),
                    lambda c, q: c.find(q).to_list(None),
                ),
                ("snapshots of an instance", snaps, {"instance_id": f"p1-i{n}"}, ("instance_id",), lambda c, q: c.find(q).to_list(None)),
            ]
            print(f"nx-27017, {instances} instances per project (2 projects), mean of {repeat} calls, ms per query")
            print(f"{'query':<45} {'plain':>8} {'$eq lead':>9} {'$eq all':>8}")
            for name, coll, query, fields, run in cases:
                plain_ms, plain = await _time(lambda c=coll, q=query, r=run: r(c, q), repeat)
                lead_q = _eq_all(query, fields[:1])
                lead_ms, lead = await _time(lambda c=coll, q=lead_q, r=run: r(c, q), repeat)
                all_q = _eq_all(query, fields)
                all_ms, every = await _time(lambda c=coll, q=all_q, r=run: r(c, q), repeat)
                same = _ids(plain) == _ids(lead) == _ids(every)
                print(f"{name:<45} {plain_ms:>8.2f} {lead_ms:>9.2f} {all_ms:>8.2f}  {'same documents' if same else 'DIFFERENT'}")
            await _time_job_queries(db, instances, repeat)
            await client.close()
        finally:
            stop(child)


async def _time_job_queries(db, instances: int, repeat: int) -> None:
    """The job runner's queries by ``_id`` (the claim, a fenced update, the instance by id), at
    2 jobs per instance: each should cost one round trip whatever the number of jobs."""
    from pymongo import ReturnDocument

    from services.adapters.store.component_instances import _TERMINAL

    jobs, ins = db["instance_jobs"], db["instances"]
    await jobs.update_many({"_id": {"$regex": "j1$"}}, {"$set": {"status": "RUNNING", "runner": None, "lease_until": 0}})
    n = instances - 1
    job_id = f"p1-i{n}-j1"
    now = [10**12]

    async def claim():
        now[0] += 10**6  # the lease taken last time has expired: the $or's second arm matches
        query = {"_id": job_id, "status": {"$nin": _TERMINAL}, "$or": [{"runner": None}, {"lease_until": {"$lt": now[0]}}]}
        update = {"$set": {"runner": "r", "lease_until": now[0] + 1000}, "$inc": {"attempts": 1}}
        return await jobs.find_one_and_update(query, update, return_document=ReturnDocument.AFTER)

    async def claim_now():  # store/component_instances.py claim_job's two arms (the documents here are not whole jobs)
        now[0] += 10**6
        update = {"$set": {"runner": "r", "lease_until": now[0] + 1000}, "$inc": {"attempts": 1}}
        for arm in ({"runner": None}, {"lease_until": {"$lt": now[0]}}):
            doc = await jobs.find_one_and_update({"_id": job_id, "status": {"$nin": _TERMINAL}, **arm}, update)
            if doc is not None:
                return doc
        return None

    async def fenced_update():
        return await jobs.update_one({"_id": job_id, "runner": "r", "cancel_requested": None}, {"$set": {"next_task": 1}})

    print(f"{'job runner (by _id)':<45} {'ms':>8}")
    cases = (
        ("claim of an expired lease: one $or (before)", claim),
        ("the same: two updates by _id (claim_job)", claim_now),
        ("fenced job update", fenced_update),
    )
    for name, run in cases:
        ms, result = await _time(run, repeat)
        print(f"{name:<45} {ms:>8.2f}  {'matched' if result else 'NOT MATCHED'}")
    ms, found = await _time(lambda: ins.find_one({"_id": f"p1-i{n}"}), repeat)
    print(f"{'instance by id':<45} {ms:>8.2f}  {'found' if found else 'NOT FOUND'}")


def _ids(result: Any) -> Any:
    if isinstance(result, list):
        return sorted(str(d.get("_id", d)) for d in result)
    return None if result is None else result.get("_id")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.instances, args.repeat))
