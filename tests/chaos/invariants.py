"""What must hold after any fault, read from where it lives: the per-domain MongoDB databases
(``openstage_<domain>``, read directly with PyMongo's async client) and the OPENSTAGE_EVENTS stream (every message
of the project, counted per CloudEvent id), compared with what the load was told (bench/mixed.py:
only 2xx answers count as acknowledged).

``World`` is one reading of the store and the stream; ``problems(load, world)`` lists every
invariant that does not hold (empty = all hold)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from pymongo import AsyncMongoClient

from bench.mixed import MixedLoad
from services.adapters.store.mongo import database_name
from services.contracts.jobs import TERMINAL  # the job statuses that end a job (one set)
from tests.support.events import read_events

TRANSITIONAL = {"INITIALIZING", "UPGRADING", "STARTING", "STOPPING", "RESTARTING", "DELETING", "PENDING"}
DOMAINS = ("lifecycle", "config", "registry", "jobs")


@dataclass
class World:
    envs: dict[str, dict] = field(default_factory=dict)
    instances: dict[str, dict] = field(default_factory=dict)
    runner_jobs: dict[str, dict] = field(default_factory=dict)  # instance_jobs (the runner's state)
    tracked_jobs: dict[str, dict] = field(default_factory=dict)  # jobs (the tracker's read model)
    registry_instances: set[str] = field(default_factory=set)  # instance ids of the project
    outbox: dict[str, int] = field(default_factory=dict)  # domain -> events not published yet
    events: list[dict] = field(default_factory=list)  # the decoded CloudEvents, stream order

    def settled(self) -> tuple[bool, str]:
        """All jobs terminal in both the runner's state and the tracker's, and every outbox empty."""
        open_jobs = [j for j, d in self.runner_jobs.items() if d.get("status") not in TERMINAL]
        if open_jobs:
            return False, f"{len(open_jobs)} jobs not terminal, e.g. {open_jobs[:3]}"
        lagging = [j for j, d in self.runner_jobs.items() if (self.tracked_jobs.get(j) or {}).get("status") != d.get("status")]
        if lagging:
            return False, f"{len(lagging)} jobs not folded by the tracker yet, e.g. {lagging[:3]}"
        pending = {d: n for d, n in self.outbox.items() if n}
        if pending:
            return False, f"outbox not empty: {pending}"
        return True, ""


async def read_store(mongodb_url: str, project: str) -> World:
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000)
    try:
        db = {d: client[database_name("openstage", d)] for d in DOMAINS}
        w = World()
        w.envs = {d["_id"]: d async for d in db["lifecycle"].environments.find({"project_id": project})}
        w.instances = {d["_id"]: d async for d in db["lifecycle"].instances.find({"project_id": project})}
        w.runner_jobs = {d["_id"]: d async for d in db["lifecycle"].instance_jobs.find({"project_id": project})}
        w.tracked_jobs = {d["_id"]: d async for d in db["jobs"].jobs.find({"project_id": project})}
        w.registry_instances = {
            d["_id"].split("/")[-1] async for d in db["registry"].registry_instances.find({"project": project}, {"_id": 1})
        }
        for d in DOMAINS:
            w.outbox[d] = len([x async for x in db[d].outbox.find({}, {"_id": 1})])
        return w
    finally:
        await client.close()


async def read_world(mongodb_url: str, nats_url: str, project: str, with_events: bool = True) -> World:
    w = await read_store(mongodb_url, project)
    if with_events:
        w.events = [m["event"] for m in await read_events(nats_url, f"openstage.evt.{project}.>", idle_timeout=1.0)]
    return w


def world(mongodb_url: str, nats_url: str, project: str, with_events: bool = True) -> World:
    return asyncio.run(read_world(mongodb_url, nats_url, project, with_events))


def _by(events: list[dict], type_: str, key) -> Counter:
    return Counter(key(e["data"]) for e in events if e["type"] == type_)


def problems(load: MixedLoad, w: World) -> list[str]:
    out: list[str] = []
    ev = w.events

    # --- the stream: every event once --------------------------------------------------------
    dup = {i: n for i, n in Counter(e["id"] for e in ev).items() if n > 1}
    if dup:
        out.append(f"{len(dup)} event ids on the stream more than once, e.g. {list(dup.items())[:3]}")
    out += [f"outbox of {d} still holds {n} events" for d, n in w.outbox.items() if n]

    # --- environments ----------------------------------------------------------------------------
    t = "io.openstage.lifecycle.environment."
    created = _by(ev, t + "created", lambda d: d["id"])
    deleted = _by(ev, t + "deleted", lambda d: d["id"])
    updated = _by(ev, t + "updated", lambda d: (d["id"], d.get("alias")))
    for env_id, m in load.envs.items():
        doc = w.envs.get(env_id)
        if created[env_id] != 1:
            out.append(f"environment {m.name} (create acknowledged): {created[env_id]} created events")
        if m.delete == "acked":
            if doc is not None:
                out.append(f"environment {m.name}: delete acknowledged, still in MongoDB")
            if deleted[env_id] != 1:
                out.append(f"environment {m.name}: delete acknowledged, {deleted[env_id]} deleted events")
        elif m.delete is None:
            if doc is None:
                out.append(f"environment {m.name}: create acknowledged, not in MongoDB")
            elif m.acked_aliases:
                allowed = {m.acked_aliases[-1], *m.unacked_aliases}
                if doc.get("alias") not in allowed:
                    out.append(f"environment {m.name}: alias {doc.get('alias')!r}, acknowledged {m.acked_aliases[-1]!r}")
        for alias in m.acked_aliases:
            if updated[(env_id, alias)] != 1:
                out.append(f"environment {m.name}: update to {alias!r} acknowledged, {updated[(env_id, alias)]} updated events")
    for env_id, doc in w.envs.items():
        if created[env_id] != 1:
            out.append(f"environment {doc.get('name')} in MongoDB with {created[env_id]} created events")
    for env_id in created:
        if env_id not in w.envs and deleted[env_id] != 1:
            out.append(f"environment {env_id}: created event, not in MongoDB, {deleted[env_id]} deleted events")
    for env_id, n in deleted.items():
        if n != 1 or env_id in w.envs:
            out.append(f"environment {env_id}: {n} deleted events, in MongoDB: {env_id in w.envs}")
    for (env_id, alias), n in updated.items():
        if n != 1:
            out.append(f"environment {env_id}: {n} updated events for alias {alias!r}")

    # --- jobs ----------------------------------------------------------------------------------
    j = "io.openstage.lifecycle.job."
    submitted = _by(ev, j + "submitted", lambda d: d["job_id"])
    ended = Counter()
    ended_as: dict[str, str] = {}
    for e in ev:
        if e["type"] in (j + "succeeded", j + "failed", j + "cancelled"):
            ended[e["data"]["job_id"]] += 1
            ended_as[e["data"]["job_id"]] = e["data"]["execution_status"]
    for job_id, (operation, _instance_id) in load.jobs.items():
        if job_id not in w.runner_jobs:
            out.append(f"job {job_id} ({operation}) acknowledged, not in MongoDB")
    for job_id, doc in w.runner_jobs.items():
        status = doc.get("status")
        if status not in TERMINAL:
            out.append(f"job {job_id} ({doc.get('operation')}) is {status}")
            continue
        if submitted[job_id] != 1:
            out.append(f"job {job_id}: {submitted[job_id]} submitted events")
        if ended[job_id] != 1 or ended_as.get(job_id) != status:
            out.append(f"job {job_id} {status}: {ended[job_id]} end events ({ended_as.get(job_id)})")
        tracked = (w.tracked_jobs.get(job_id) or {}).get("status")
        if tracked != status:
            out.append(f"job {job_id} {status}, the tracker says {tracked}")
    for job_id in submitted:
        if job_id not in w.runner_jobs:
            out.append(f"job {job_id}: submitted event, not in MongoDB")

    # --- instances -------------------------------------------------------------------------------
    i = "io.openstage.lifecycle.instance."
    inst_created = _by(ev, i + "created", lambda d: d["id"])
    inst_deleted = _by(ev, i + "deleted", lambda d: d["id"])
    for iid, doc in w.instances.items():
        detail = doc.get("status_detail") or {}
        if inst_created[iid] != 1:
            out.append(f"instance {doc.get('name')}: {inst_created[iid]} created events")
        active = doc.get("active_job_id")
        running = active and (w.runner_jobs.get(active) or {}).get("status") not in TERMINAL
        if detail.get("status") in TRANSITIONAL and not running:
            out.append(f"instance {doc.get('name')} is {detail.get('status')} without a running job (active_job_id {active})")
        if active and not running:
            out.append(f"instance {doc.get('name')} holds the lock of ended job {active}")
        last = detail.get("last_job_id")
        if (
            last in w.runner_jobs
            and w.runner_jobs[last].get("status") in TERMINAL
            and detail.get("last_job_status") != w.runner_jobs[last]["status"]
        ):
            out.append(
                f"instance {doc.get('name')}: last job {last} {w.runner_jobs[last]['status']}, "
                f"last_job_status {detail.get('last_job_status')}"
            )
    for iid, m in load.instances.items():
        if iid in w.instances:
            if m.gone:
                out.append(f"instance {m.name}: deleted (its delete job SUCCEEDED, or the API said 404), still in MongoDB")
            continue
        deletes = [
            jid
            for jid, d in w.runner_jobs.items()
            if d.get("instance_id") == iid and d.get("operation") == "delete" and d.get("status") == "SUCCEEDED"
        ]
        if len(deletes) != 1:
            out.append(f"instance {m.name} (create acknowledged) not in MongoDB, {len(deletes)} succeeded delete jobs")
        if inst_deleted[iid] != 1:
            out.append(f"instance {m.name} not in MongoDB, {inst_deleted[iid]} deleted events")
    for iid in inst_created:
        if iid not in w.instances and inst_deleted[iid] != 1:
            out.append(f"instance {iid}: created event, not in MongoDB, {inst_deleted[iid]} deleted events")
    for iid, n in inst_deleted.items():
        if n != 1 or iid in w.instances:
            out.append(f"instance {iid}: {n} deleted events, in MongoDB: {iid in w.instances}")

    # --- registry --------------------------------------------------------------------------------
    r = "io.openstage.registry.instance."
    registered = _by(ev, r + "registered", lambda d: d["instanceId"])
    gone = _by(ev, r + "deregistered", lambda d: d["instanceId"])
    expired = _by(ev, r + "expired", lambda d: d["instanceId"])
    if expired:
        out.append(
            f"{len(expired)} instances expired although heartbeats were acknowledged within the lease (120 s), e.g. {list(expired)[:3]}"
        )
    for iid, m in load.registered.items():
        present = iid in w.registry_instances
        if m.deregister == "acked" and (present or gone[iid] != 1):
            out.append(f"registry instance {iid}: deregistration acknowledged, in MongoDB: {present}, {gone[iid]} deregistered events")
        if m.deregister is None and not present:
            out.append(f"registry instance {iid}: registration acknowledged, not in MongoDB")
    for iid in w.registry_instances:
        if registered[iid] != 1:
            out.append(f"registry instance {iid} in MongoDB with {registered[iid]} registered events")
    for iid, n in registered.items():
        if n != 1 or (iid not in w.registry_instances and gone[iid] + expired[iid] != 1):
            out.append(
                f"registry instance {iid}: {n} registered events, in MongoDB: {iid in w.registry_instances}, {gone[iid]} deregistered"
            )
    return out
