"""The host table of a lifecycle worker process: the hosts whose agent has announced itself
(``openstage.agent.<host>.announce``, ``HostAnnouncement``; every lifecycle process subscribes, no
queue group, so each has the whole table).

- A host is **known** once it has announced (persisted in the ``hosts`` collection with the
  projects it serves, loaded at compose): the deployment driver routes its instances to the
  process driver (services/adapters/drivers/routing.py), and keeps doing so after a restart, so a
  job resumed after a crash gets the plan it was submitted with.
- A host is **silent** when it has not announced for 3 x its ``announce_seconds``: its instances
  that replicas decide (RUNNING, PARTIALLY_FAILED, DOWN) become UNKNOWN (``host_silent``), each
  change persisted and emitted through the outbox; an instance a job holds is left to the job.
- A host heard for the first time by this process, heard again after a silence, or whose agent
  restarted (a new ``started_at``) is asked for its instances' replicas
  (``ReplicaReports.refresh_host``): the statuses follow the agents again."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.agent_client import agent_report
from services.adapters.background import cancel_and_wait
from services.adapters.store import component_instances as store
from services.adapters.store.outbox import Outbox
from services.contracts import subjects
from services.contracts.agent import HostAnnouncement, InstanceStatusQuery
from services.contracts.component_instances import Instance
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle.component_instances import InstanceEvent
from workers.lifecycle.replica_reports import ReplicaReports, apply_to_idle

log = logging.getLogger("openstage.lifecycle.hosts")

HOSTS = "hosts"  # {_id: host_id, projects, address, announce_seconds, first_seen_ms}
LEASE_ANNOUNCEMENTS = 3  # a host is silent after this many announcements missed


@dataclass
class HostState:
    host_id: str
    projects: list[str]
    announce_seconds: float
    last_seen: float  # time.monotonic() of its last announcement (or of this process's start)
    started_at: int = 0  # the agent process's start (a new one: the agent restarted)
    heard: bool = False  # announced since this process started
    silent: bool = False

    @property
    def lease(self) -> float:
        return LEASE_ANNOUNCEMENTS * self.announce_seconds


class HostTable:
    def __init__(self, db: AsyncDatabase, nc: NATS, outbox: Outbox, reports: ReplicaReports, check_seconds: float = 0.5) -> None:
        self.db = db
        self.nc = nc
        self.outbox = outbox
        self.reports = reports
        self.check_seconds = check_seconds
        self._hosts: dict[str, HostState] = {}
        self._sub: Subscription | None = None
        self._loop: asyncio.Task | None = None
        self._refreshing: set[asyncio.Task] = set()
        self._waiters: dict[str, asyncio.Event] = {}  # hosts a handler waits to hear of (heard_of)
        reports.silent = self.is_silent

    # --- HostDirectory (services/adapters/drivers/routing.py) ----------------------------------
    def known(self, host_id: str) -> bool:
        return host_id in self._hosts

    def projects(self, host_id: str) -> list[str] | None:
        h = self._hosts.get(host_id)
        return None if h is None else list(h.projects)

    def is_silent(self, host_id: str) -> bool:
        h = self._hosts.get(host_id)
        return h is not None and h.silent

    async def heard_of(self, host_id: str, wait_seconds: float = 5.0) -> bool:
        """Whether the host is known, waiting (up to ``wait_seconds``) for the first announcement
        of an agent that already answers on the bus but has not announced itself to this
        process yet (e.g. just after `openstage up` started): an instance created at that moment
        goes to the process driver, not to the simulated one."""
        if self.known(host_id):
            return True
        probe = InstanceStatusQuery(project_id="openstage", instance_id="host-check").model_dump_json().encode()
        try:
            await self.nc.request(subjects.agent_command(host_id, "status"), probe, timeout=1.0)
        except Exception:  # no responder, a timeout: no agent runs there now
            return False
        heard = self._waiters.setdefault(host_id, asyncio.Event())
        try:
            await asyncio.wait_for(heard.wait(), wait_seconds)
        except TimeoutError:
            pass
        return self.known(host_id)

    # --- lifecycle ----------------------------------------------------------------------------
    async def load(self) -> None:
        """The known hosts, as last persisted; each has a full lease from now to announce itself."""
        now = time.monotonic()
        async for doc in self.db[HOSTS].find({}):
            self._hosts[doc["_id"]] = HostState(doc["_id"], list(doc.get("projects") or []), float(doc.get("announce_seconds") or 2.0), now)

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(f"{subjects.AGENT_PREFIX}.*.announce", cb=self._on_message)
        self._loop = asyncio.create_task(self._watch(), name="host-watch")

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # the connection may be closing
                pass
        await cancel_and_wait(self._loop, *list(self._refreshing))

    # --- announcements ------------------------------------------------------------------------
    async def _on_message(self, msg: Msg) -> None:
        a = agent_report(msg.subject, msg.data, HostAnnouncement, subjects.agent_announce)
        if a is None:
            return
        try:
            await self.announced(a)
        except Exception:
            log.exception("announcement of host %s not applied", a.host_id)

    async def announced(self, a: HostAnnouncement) -> None:
        h = self._hosts.get(a.host_id)
        if h is None or sorted(h.projects) != sorted(a.projects) or h.announce_seconds != a.announce_seconds:
            doc = {"projects": list(a.projects), "address": a.address, "announce_seconds": a.announce_seconds}
            await self.db[HOSTS].update_one({"_id": a.host_id}, {"$set": doc}, upsert=True)
        if h is None:
            log.info("host %s announced itself (projects: %s)", a.host_id, ", ".join(a.projects))
            h = self._hosts[a.host_id] = HostState(a.host_id, list(a.projects), a.announce_seconds, time.monotonic())
            waiter = self._waiters.pop(a.host_id, None)
            if waiter is not None:
                waiter.set()
        back = h.silent or not h.heard or h.started_at != a.started_at
        h.projects, h.announce_seconds, h.last_seen, h.started_at, h.heard, h.silent = (
            list(a.projects),
            a.announce_seconds,
            time.monotonic(),
            a.started_at,
            True,
            False,
        )
        if back:
            task = asyncio.create_task(self._refresh(a.host_id))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def _refresh(self, host_id: str) -> None:
        try:
            await self.reports.refresh_host(host_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("host %s: refreshing its instances failed: %s", host_id, exc)

    # --- silence ------------------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            now = time.monotonic()
            for h in list(self._hosts.values()):
                if h.silent or now - h.last_seen <= h.lease:
                    continue
                h.silent = True
                log.warning("host %s silent for %.0fs: its instances are UNKNOWN", h.host_id, now - h.last_seen)
                try:
                    await self.mark_unknown(h.host_id, now - h.last_seen)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    h.silent = False  # try again at the next check
                    log.warning("host %s: marking its instances UNKNOWN failed: %s", h.host_id, exc)

    async def mark_unknown(self, host_id: str, silent_seconds: float) -> None:
        """Mark UNKNOWN the replica-decided statuses of the idle instances placed on a silent host."""

        def rule(inst: Instance) -> tuple[Instance, InstanceEvent | None]:
            return rules.host_silent(inst, host_id, silent_seconds)

        for placed in await store.placed_on(self.db, host_id):
            await apply_to_idle(self.db, self.outbox, placed.instance_id, rule)
