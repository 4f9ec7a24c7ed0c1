"""Instance status from the host agents' reports: every ``openstage.agent.<host>.replica``
(``ReplicaChange``, queue group ``lifecycle-replicas``: one lifecycle process handles each report)
is kept in the ``instance_replicas`` collection (one document per instance and host, the agent's
latest list of the instance's replicas there), and the instance's status is computed again from
the reports of all its hosts with the pure rule ``status_from_replicas``
(services/domain/lifecycle/component_instances.py): RUNNING, PARTIALLY_FAILED or DOWN with a
``fail_detail``. A change is persisted and emitted through the outbox (``instance.status_changed``);
an instance a job holds (``active_job_id``) is left alone -- and looked at again by the sweep
(every ``SWEEP_SECONDS``) once the job has let it go. ``refresh_host`` asks an agent for the
state of its instances (a host heard again after a silence, or for the first time by this
process) so that statuses follow the agents again after a restart of either side."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.agent_client import AgentClient, AgentError, agent_report
from services.adapters.background import cancel_and_wait
from services.adapters.store import component_instances as store
from services.adapters.store.mongo import eq
from services.adapters.store.outbox import Outbox
from services.contracts import subjects
from services.contracts.agent import InstanceStatusQuery, ReplicaChange, ReplicaPhase, ReplicaState
from services.contracts.component_instances import Instance
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle.component_instances import InstanceEvent
from services.domain.lifecycle.deployments import hosts_of, place
from workers.lifecycle.component_instance_events import cloud_events

log = logging.getLogger("openstage.lifecycle.replicas")

# {_id: "<instance>:<host>", instance_id, host_id, project_id, replicas: [ReplicaState]}, indexed on
# instance_id (store/component_instances.py ensure_indexes)
REPORTS = store.REPLICA_REPORTS
QUEUE = "lifecycle-replicas"
SWEEP_SECONDS = 2.0
UNKEYED_BATCH = 500

StatusRule = Callable[[Instance], tuple[Instance, InstanceEvent | None]]


def report_id(instance_id: str, host_id: str) -> str:
    return f"{instance_id}:{host_id}"


async def apply_to_idle(
    db: AsyncDatabase, outbox: Outbox, instance_id: str, rule: StatusRule, missing: Callable[[], Awaitable[None]] | None = None
) -> bool:
    """Apply ``rule`` to the instance unless a job holds it; persist and emit the change (True) if
    any. ``missing``: called when the instance does not exist (any more)."""
    seen = await store.by_id(db, instance_id)  # most reports and sweeps change nothing: no transaction then
    if seen is None and missing is not None:
        await missing()
    if seen is None or seen.active_job_id or rule(seen.instance)[1] is None:
        return False

    async def write(session):
        stored = await store.by_id(db, instance_id, session=session)
        if stored is None or stored.active_job_id:
            return False, []
        changed, event = rule(stored.instance)
        if event is None:
            return False, []
        # (the lifecycle store's own collection; only the status detail of an idle instance changes)
        result = await db[store.INSTANCES].update_one(
            {"_id": instance_id, "active_job_id": None},
            {"$set": {"status_detail": changed.status_detail.model_dump(mode="json")}},
            session=session,
        )
        if result.matched_count != 1:
            return False, []
        return True, cloud_events([event])

    return bool(await outbox.transaction(write))


def readiness(inst: Instance, reports: dict[str, list[ReplicaState]]) -> tuple[int, int, str | None]:
    """(ready, desired, what is wrong) of an instance from its hosts' latest reports: only the
    replicas the placement puts on a host count there."""
    desired = inst.status_detail.replica
    ready = 0
    wrong: list[str] = []
    for host, indexes in place(hosts_of([r.model_dump(mode="json") for r in inst.refer_resources]), desired).items():
        states = {s.index: s for s in reports.get(host, [])}
        for i in indexes:
            s = states.get(i)
            if s is not None and s.phase == ReplicaPhase.READY:
                ready += 1
            elif s is None:
                wrong.append(f"replica {i} on host {host}: not reported")
            else:
                wrong.append(f"replica {i} on host {host}: {s.phase.value}" + (f" ({s.message})" if s.message else ""))
    return ready, desired, "; ".join(wrong) or None


class ReplicaReports:
    def __init__(self, db: AsyncDatabase, nc: NATS, outbox: Outbox, agents: AgentClient, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.db = db
        self.nc = nc
        self.outbox = outbox
        self.agents = agents
        self.sweep_seconds = sweep_seconds
        self._sub: Subscription | None = None
        self._loop: asyncio.Task | None = None
        # whether a host is silent now (the host table's view): its instances are UNKNOWN, not
        # what its last reports said, until it is heard again (then ``refresh_host``)
        self.silent: Callable[[str], bool] = lambda host_id: False

    async def start(self) -> None:
        await self.drop_unkeyed()
        self._sub = await self.nc.subscribe(f"{subjects.AGENT_PREFIX}.*.replica", queue=QUEUE, cb=self._on_message)
        self._loop = asyncio.create_task(self._sweep(), name="replica-sweep")

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # the connection may be closing
                pass
        await cancel_and_wait(self._loop)

    async def _on_message(self, msg: Msg) -> None:
        change = agent_report(msg.subject, msg.data, ReplicaChange, subjects.agent_replica)
        if change is None:
            return
        try:
            await self.report(change.host_id, change.project_id, change.instance_id, change.replicas)
        except Exception:
            log.exception("replica report of instance %s from host %s not applied", change.instance_id, change.host_id)

    async def report(self, host_id: str, project_id: str, instance_id: str, replicas: list[ReplicaState]) -> None:
        """Keep a host's report of an instance's replicas and follow it in the instance's status."""
        key = report_id(instance_id, host_id)
        stored = await store.by_id(self.db, instance_id)
        if stored is None or stored.instance.project_id != project_id:
            await self.db[REPORTS].delete_one({"_id": key})
            return
        # ``_id`` in the document as well as in the filter: nx-27017 deviation, its upsert ignores the
        # filter's ``_id`` and inserted a document with a new ObjectId at every report (MongoDB
        # takes the filter's; both take the document's)
        doc = {
            "_id": key,
            "instance_id": instance_id,
            "host_id": host_id,
            "project_id": project_id,
            "replicas": [r.model_dump(mode="json") for r in replicas],
        }
        await self.db[REPORTS].replace_one({"_id": key}, doc, upsert=True)
        await self.evaluate(instance_id)

    async def reports_of(self, instance_id: str) -> dict[str, list[ReplicaState]]:
        out: dict[str, list[ReplicaState]] = {}
        async for doc in self.db[REPORTS].find({"instance_id": eq(instance_id)}):  # (mongo.eq: served by the index on nx-27017)
            out[doc["host_id"]] = [ReplicaState.model_validate(r) for r in doc.get("replicas") or []]
        return out

    async def drop_unkeyed(self) -> int:
        """Remove the reports an nx-27017 store kept under an ObjectId (one per report, before the
        ``_id`` was written in the document: see ``report``); the hosts' refresh writes them again."""
        stale = [d["_id"] async for d in self.db[REPORTS].find({}, {"_id": 1}) if not isinstance(d["_id"], str)]
        for start in range(0, len(stale), UNKEYED_BATCH):
            await self.db[REPORTS].delete_many({"_id": {"$in": stale[start : start + UNKEYED_BATCH]}})
        return len(stale)

    async def forget(self, instance_id: str) -> None:
        """Remove the reports of an instance that no longer exists (a report that raced its delete)."""
        await self.db[REPORTS].delete_many({"instance_id": eq(instance_id)})

    async def evaluate(self, instance_id: str) -> bool:
        """Follow the instance's reports in its status (True when it changed); the reports of an
        instance that is gone are removed."""
        reports = await self.reports_of(instance_id)
        if not reports:
            return False

        def rule(inst: Instance) -> tuple[Instance, InstanceEvent | None]:
            if any(self.silent(h) for h in hosts_of([r.model_dump(mode="json") for r in inst.refer_resources])):
                return inst, None
            ready, desired, detail = readiness(inst, reports)
            return rules.status_from_replicas(inst, ready, desired, detail)

        return await apply_to_idle(self.db, self.outbox, instance_id, rule, missing=lambda: self.forget(instance_id))

    async def refresh_host(self, host_id: str) -> None:
        """Ask the host's agent for the replicas of every instance placed on it, and follow them."""
        for placed in await store.placed_on(self.db, host_id):
            query = InstanceStatusQuery(project_id=placed.project_id, instance_id=placed.instance_id)
            try:
                got = await self.agents.status(host_id, query)
            except AgentError as exc:
                log.info("host %s: no status of instance %s: %s", host_id, placed.instance_id, exc.message)
                continue
            await self.report(host_id, placed.project_id, placed.instance_id, got.replicas)

    async def sweep_once(self) -> None:
        """Evaluate every reported instance again (those a job held at their last report, those gone)."""
        ids = {d["instance_id"] async for d in self.db[REPORTS].find({}, {"instance_id": 1})}
        for instance_id in ids:
            await self.evaluate(instance_id)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("replica status sweep failed: %s", exc)
