"""A bounded, mixed load on the HTTP API: environments (create, update, delete), component
instances (create, start/stop/restart/scale, delete, job polling) and the registry (register,
heartbeat, discover, deregister). Used by the chaos suite (tests/chaos) and the soak
(bench/soak.py).

Operations are launched at ``rate`` per second with at most ``concurrency`` in flight (when the
system is slower the rate drops: the load is bounded). Each entity is acted on by one operation
at a time, so what was acknowledged is known exactly: the load keeps every call (``calls``) and a
model of what each acknowledged (2xx) command must have left behind (``envs``, ``instances``,
``jobs``, ``registered``), which the chaos suite checks against MongoDB and the event stream. A
call whose answer was lost (transport error, 503, timeout) is *unacknowledged*: it may or may not
have happened."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.contracts.jobs import TERMINAL  # the job statuses that end a job (one set)

ENV_BODY = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}
ACTIONS = ("stop", "start", "restart", "scale")


@dataclass
class Call:
    op: str
    key: str
    status: int | None  # None: no HTTP answer (connection refused or broken, client timeout)
    error: str
    started: float  # time.time()
    seconds: float
    body: Any = None
    code: str = ""  # error_code / errorCode of an error answer ("" when it had none)

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class EnvModel:
    id: str
    name: str
    acked_aliases: list[str] = field(default_factory=list)  # in order
    unacked_aliases: list[str] = field(default_factory=list)
    delete: str | None = None  # None, "acked" or "maybe"


@dataclass
class InstanceModel:
    id: str
    name: str
    pending_job: str | None = None  # the acked job last submitted, not seen terminal yet
    uncertain: bool = False  # an unacknowledged mutating call may have submitted a job
    status: str = "INITIALIZING"  # as its last finished job left it: RUNNING, STOPPED or FAILED
    gone: bool = False  # an acked delete job SUCCEEDED, or the API answered 404 (an unacknowledged delete happened)
    delete_job: str | None = None


@dataclass
class RegisteredModel:
    service_id: str
    id: str
    deregister: str | None = None  # None, "acked" or "maybe"


class MixedLoad:
    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        project: str = "chaos",
        rate: float = 20.0,
        concurrency: int = 8,
        timeout: float = 15.0,
        seed: int = 1,
        max_envs: int = 6,
        max_instances: int = 4,
        max_registered: int = 12,
        keep_calls: bool = True,
        on_call: Callable[[Call], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.headers = {**headers, "Content-Type": "application/json"}
        self.project = project
        self.rate = rate
        self.concurrency = concurrency
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.max_envs = max_envs
        self.max_instances = max_instances
        self.max_registered = max_registered
        self.keep_calls = keep_calls  # False (a long run): no call list, finished entities forgotten
        self.on_call = on_call
        self.calls: list[Call] = []
        self.counts: dict[str, int] = {}  # "op status" -> n (kept even when calls are not)
        self.envs: dict[str, EnvModel] = {}
        self.unacked_env_names: list[str] = []
        self.instances: dict[str, InstanceModel] = {}
        self.jobs: dict[str, tuple[str, str]] = {}  # acked job id -> (operation, instance id)
        self.registered: dict[str, RegisteredModel] = {}
        self.target: dict[str, str] = {}
        self.service_id = ""
        self.service_name = ""
        self._busy: set[str] = set()
        self._in_flight = 0
        self._running = asyncio.Event()
        self._running.set()
        self._client: httpx.AsyncClient | None = None

    # --- plumbing ---------------------------------------------------------------------------------
    async def __aenter__(self) -> MixedLoad:
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout, limits=httpx.Limits(max_connections=self.concurrency + 4)
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client:
            await self._client.aclose()

    async def call(self, op: str, key: str, method: str, path: str, json: Any = None, body: Any = None) -> tuple[Call, Any]:
        started, t0 = time.time(), time.perf_counter()
        status, error, payload = None, "", None
        try:
            r = await self._client.request(method, path, json=json)
            status = r.status_code
            if r.content:
                try:
                    payload = r.json()
                except ValueError:
                    payload = r.text[:200]
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        c = Call(op, key, status, error, started, time.perf_counter() - t0, body)
        if status is not None and status >= 400 and isinstance(payload, dict):
            c.code = str(payload.get("error_code") or payload.get("errorCode") or "")
        label = f"{op} {status if status is not None else error}"
        self.counts[label] = self.counts.get(label, 0) + 1
        if self.keep_calls:
            self.calls.append(c)
        if self.on_call is not None:
            self.on_call(c)
        return c, payload

    def _claim(self, key: str) -> bool:
        if key in self._busy:
            return False
        self._busy.add(key)
        return True

    # --- set-up -----------------------------------------------------------------------------------
    async def setup(self, deadline_seconds: float = 60.0) -> None:
        """An environment, application and component to deploy instances to; a registry service."""

        async def ok(op: str, method: str, path: str, json: Any) -> dict:
            deadline = time.monotonic() + deadline_seconds
            while True:
                c, payload = await self.call(op, "setup", method, path, json)
                if c.acked:
                    return payload
                if time.monotonic() > deadline:
                    raise RuntimeError(f"set-up call {op} failed: {c.status} {c.error} {payload}")
                await asyncio.sleep(0.5)

        tag = uuid.uuid4().hex[:6]
        p = self.project
        env = await ok(
            "setup.env",
            "POST",
            f"/v2/{p}/cas/environments",
            {
                "name": f"target-{tag}",
                "deploy_mode": "container",
                "vpc_id": "vpc-1",
                "base_resources": [{"id": "cce-cluster-1", "type": "cce"}],
            },
        )
        app = await ok("setup.app", "POST", f"/v2/{p}/cas/applications", {"name": f"app-{tag}"})
        comp = await ok(
            "setup.component",
            "POST",
            f"/v2/{p}/cas/applications/{app['id']}/components",
            {
                "name": f"web-{tag}",
                "runtime": "Docker",
                "category": "Webapp",
                "source": {
                    "kind": "artifact",
                    "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/org/web:1.0.0", "auth": "iam"},
                },
            },
        )
        self.target = {"environment_id": env["id"], "application_id": app["id"], "component_id": comp["id"], "component_name": comp["name"]}
        svc = await ok(
            "setup.service",
            "POST",
            f"/v4/{p}/registry/microservices",
            {"service": {"serviceName": f"svc-{tag}", "appId": "chaos", "version": "1.0.0"}},
        )
        self.service_id = svc["serviceId"]
        self.service_name = f"svc-{tag}"

    # --- environments -----------------------------------------------------------------------------
    async def env_op(self) -> None:
        live = [e for e in self.envs.values() if e.delete is None and e.id not in self._busy]
        roll = self.rng.random()
        if len(live) < self.max_envs and (roll < 0.4 or not live):
            name = f"ce-{uuid.uuid4().hex[:10]}"
            c, payload = await self.call("env.create", name, "POST", f"/v2/{self.project}/cas/environments", {"name": name, **ENV_BODY})
            if c.acked:
                self.envs[payload["id"]] = EnvModel(payload["id"], name)
            elif c.status is None or c.status >= 500:
                self.unacked_env_names.append(name)
            return
        if not live:
            return
        env = self.rng.choice(live)
        if not self._claim(env.id):
            return
        try:
            path = f"/v2/{self.project}/cas/environments/{env.id}"
            if roll < 0.85:
                alias = f"a-{uuid.uuid4().hex[:10]}"
                c, _ = await self.call("env.update", env.id, "PUT", path, {"alias": alias}, body=alias)
                (env.acked_aliases if c.acked else env.unacked_aliases).append(alias)
            else:
                c, _ = await self.call("env.delete", env.id, "DELETE", path)
                env.delete = "acked" if c.acked else "maybe" if c.status is None or c.status >= 500 else None
                if env.delete and not self.keep_calls:
                    del self.envs[env.id]
        finally:
            self._busy.discard(env.id)

    # --- instances --------------------------------------------------------------------------------
    def _instances_path(self) -> str:
        t = self.target
        return f"/v2/{self.project}/cas/applications/{t['application_id']}/components/{t['component_id']}/instances"

    def _accept(self, inst: InstanceModel, operation: str, c: Call, payload: Any) -> None:
        if c.acked:
            job_id = payload["job_id"]
            self.jobs[job_id] = (operation, inst.id)
            inst.pending_job = job_id
            if operation == "delete":
                inst.delete_job = job_id
        elif c.status is None or c.status >= 500:
            inst.uncertain = True
        elif c.status == 404:
            inst.gone = True
            if not self.keep_calls:
                self.instances.pop(inst.id, None)

    async def instance_op(self) -> None:
        live = [i for i in self.instances.values() if not i.gone and i.id not in self._busy]
        pending = [i for i in live if i.pending_job]
        idle = [i for i in live if not i.pending_job and i.delete_job is None]
        roll = self.rng.random()
        if pending and (roll < 0.5 or not idle):
            inst = self.rng.choice(pending)
            if self._claim(inst.id):
                try:
                    await self._poll(inst)
                finally:
                    self._busy.discard(inst.id)
            return
        if len([i for i in self.instances.values() if not i.gone]) < self.max_instances:
            name = f"ci-{uuid.uuid4().hex[:10]}"
            body = {
                "name": name,
                "environment_id": self.target["environment_id"],
                "flavor_id": "MICRO-5G:0.5C:1G",
                "replica": 1,
                "version": "1.0.0",
                "artifacts": {
                    self.target["component_name"]: {
                        "storage": "swr",
                        "type": "image",
                        "url": "swr.example.com/org/web:1.0.0",
                        "auth": "iam",
                    }
                },
                "refer_resources": [{"id": "cce-cluster-1", "type": "cce", "parameters": {"namespace": "default"}}],
            }
            c, payload = await self.call("instance.create", name, "POST", self._instances_path(), body)
            if c.acked:
                inst = InstanceModel(payload["instance_id"], name)
                self.instances[inst.id] = inst
                self._accept(inst, "deploy", c, payload)
            return
        if not idle:
            return
        inst = self.rng.choice(idle)
        if not self._claim(inst.id):
            return
        try:
            path = f"{self._instances_path()}/{inst.id}"
            if roll < 0.85:
                # an action the instance's status allows (a refused one would only measure a 400)
                action = "start" if inst.status == "STOPPED" else self.rng.choice(ACTIONS[:1] + ACTIONS[2:])
                parameters = {"replica": self.rng.choice((1, 2))} if action == "scale" else None
                c, payload = await self.call(
                    f"instance.{action}",
                    inst.id,
                    "POST",
                    f"{path}/action",
                    {"action": action, **({"parameters": parameters} if parameters else {})},
                )
                self._accept(inst, action, c, payload)
            else:
                c, payload = await self.call("instance.delete", inst.id, "DELETE", path)
                self._accept(inst, "delete", c, payload)
        finally:
            self._busy.discard(inst.id)

    async def _poll(self, inst: InstanceModel) -> None:
        job_id = inst.pending_job
        c, payload = await self.call("job.get", job_id, "GET", f"/v2/{self.project}/cas/jobs/{job_id}")
        if not c.acked:
            return
        status = payload["job"]["EXECUTION_STATUS"]
        if status in TERMINAL:
            inst.pending_job = None
            operation = self.jobs.get(job_id, ("", ""))[0]
            inst.status = "FAILED" if status != "SUCCEEDED" else "STOPPED" if operation == "stop" else "RUNNING"
            if inst.delete_job == job_id:
                inst.gone = status == "SUCCEEDED"
                inst.delete_job = None
            if not self.keep_calls:
                self.jobs.pop(job_id, None)
                if inst.gone:
                    del self.instances[inst.id]

    # --- registry -----------------------------------------------------------------------------------
    async def registry_op(self) -> None:
        p, sid = self.project, self.service_id
        live = [r for r in self.registered.values() if r.deregister is None and r.id not in self._busy]
        roll = self.rng.random()
        if len(live) < self.max_registered and (roll < 0.15 or not live):
            host = f"h-{uuid.uuid4().hex[:10]}"
            c, payload = await self.call(
                "registry.register",
                host,
                "POST",
                f"/v4/{p}/registry/microservices/{sid}/instances",
                {"instance": {"hostName": host, "endpoints": [f"rest://{host}:8080"]}},
            )
            if c.acked:
                self.registered[payload["instanceId"]] = RegisteredModel(sid, payload["instanceId"])
            return
        if roll < 0.25:
            await self.call(
                "registry.find", sid, "GET", f"/v4/{p}/registry/instances?appId=chaos&serviceName={self.service_name}&version=latest"
            )
            return
        if not live:
            return
        reg = self.rng.choice(live)
        if not self._claim(reg.id):
            return
        try:
            path = f"/v4/{p}/registry/microservices/{sid}/instances/{reg.id}"
            if roll < 0.9 or len(live) < self.max_registered // 2:
                await self.call("registry.heartbeat", reg.id, "PUT", f"{path}/heartbeat")
            else:
                c, _ = await self.call("registry.deregister", reg.id, "DELETE", path)
                reg.deregister = "acked" if c.acked else "maybe" if c.status is None or c.status >= 500 else None
                if reg.deregister and not self.keep_calls:
                    del self.registered[reg.id]
        finally:
            self._busy.discard(reg.id)

    # --- running --------------------------------------------------------------------------------------
    async def one(self) -> None:
        roll = self.rng.random()
        if roll < 0.3:
            await self.env_op()
        elif roll < 0.6:
            await self.instance_op()
        else:
            await self.registry_op()

    async def run(self, stop: asyncio.Event, duration: float | None = None) -> None:
        """Launch operations until ``stop`` is set (or ``duration`` seconds passed)."""
        slots = asyncio.Semaphore(self.concurrency)
        interval = 1.0 / self.rate
        tasks: set[asyncio.Task] = set()
        ends = time.monotonic() + duration if duration else None
        next_at = time.monotonic()
        while not stop.is_set() and (ends is None or time.monotonic() < ends):
            await slots.acquire()
            await self._running.wait()  # nothing suspends between here and the count: pause() is exact
            self._in_flight += 1

            async def go() -> None:
                try:
                    await self.one()
                finally:
                    self._in_flight -= 1
                    slots.release()

            t = asyncio.create_task(go())
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            next_at = max(next_at + interval, time.monotonic() - 1.0)  # no burst after a stall
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight


class LoadThread:
    """A MixedLoad on its own event loop in a background thread (for synchronous tests)."""

    def __init__(self, load: MixedLoad) -> None:
        self.load = load
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="mixed-load", daemon=True)
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with self.load:
                try:
                    await self.load.setup()
                except BaseException as exc:
                    self.error = exc
                    self._ready.set()
                    raise
                self._ready.set()
                await self.load.run(self._stop)

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:
            self.error = self.error or exc

    def start(self, timeout: float = 90.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the load's set-up did not finish")
        if self.error:
            raise RuntimeError(f"the load's set-up failed: {self.error!r}")

    def _call(self, fn) -> None:
        self.loop.call_soon_threadsafe(fn)

    def pause(self, timeout: float = 30.0) -> None:
        """Launch nothing more and wait until no call is in flight."""
        paused = threading.Event()

        def pause() -> None:
            self.load.pause()
            paused.set()

        self._call(pause)
        paused.wait(10)
        deadline = time.monotonic() + timeout
        while self.load.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)

    def resume(self) -> None:
        self._call(self.load.resume)

    def stop(self, timeout: float = 60.0) -> None:
        if self._stop is not None:
            self._call(self._stop.set)
        self._call(self.load.resume)
        self._thread.join(timeout)
