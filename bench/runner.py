"""`python -m bench`: start the whole system on embedded defaults, run every scene with 10
concurrent connections, measure the machine's ceilings in the same run, print one table and
write it as JSON. Figures are medians of several runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from bench.loadgen import Result, have_wrk, median, median_result, run_http, send_all
from bench.natsload import run_nats
from openstage.processes import System, free_port, spawn, stop, wait_for_port
from workers import WORKERS

TOKEN = "bench-token-0123456789abcdef"
POLL_SECONDS = 0.001  # how often deploy_latency asks for the job (figures before session 5 in bench/README.md: 10 ms)
DEPLOYS = 100  # deploys of the deploy group, one after another: a p95 of 20 was their second slowest (before session 5: 20)
PROJECT = "bench"
AUTH = {"X-Auth-Token": TOKEN, "Content-Type": "application/json"}
# The bench's httpx clients drop an idle connection after 1 s: httpx keeps one for 5 s by default,
# as long as uvicorn's keep-alive timeout (5 s), and a request sent on a connection the edge is
# closing that very moment fails with httpx.ReadError (seen once creating 10,000 environments).
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=1.0)
SERVICE_CENTER = {  # Service-Center's published figures (2 cores, 8 GB, k6 with 10 VUs on the same machine)
    "register growing instances": (699, 32.0),
    "register the same instance": (5069, 5.6),
    "heartbeat one instance": (7068, 4.3),
    "find one instance": (7577, 3.9),
    "find 100 instances": (3242, 10.0),
    "find 1,000 instances": (544, 91.0),
}


@dataclass
class Row:
    scene: str
    via: str
    tps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    runs: int
    ceiling: str = ""
    ratio_to_ceiling: float | None = None
    service_center_tps: float | None = None
    service_center_p95_ms: float | None = None
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    # CPU time the system's processes (not the load generator) spent per request: unlike the rate,
    # it hardly moves when other work shares the machine
    server_cpu_us_per_request: float | None = None
    cpu_us_per_request: dict[str, float] = field(default_factory=dict)
    note: str = ""


class RssSampler:
    """Peak RSS of each process of the system (and the load generator) while a scene runs."""

    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = processes
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self.peaks = {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.processes.items():
                try:
                    rss = psutil.Process(pid).memory_info().rss / 1e6
                except psutil.Error:
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0.0), rss)
            self._stop.wait(0.2)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


def cpu_seconds(processes: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds each process (children included) has used so far."""
    out = {}
    for name, pid in processes.items():
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[name] = t.user + t.system + t.children_user + t.children_system
    return out


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[Row] = []
        self.data_dir = Path(tempfile.mkdtemp(prefix="openstage-bench-"))
        self.system: System | None = None
        self.http: httpx.Client | None = None
        self.extra: dict = {}

    # --- system ------------------------------------------------------------------------------
    def start(self) -> None:
        env = {
            "OPENSTAGE_TOKENS": json.dumps([{"token": TOKEN, "projects": ["*"]}]),
            "OPENSTAGE_CREDENTIALS": json.dumps([{"ak": "BENCHAKBENCHAKBENCH1", "sk": "bench-sk", "projects": ["*"]}]),
            # the rate limit stays at its default (docs/deploy.md): a scene's "errors 0" shows that
            # one tenant's traffic at these rates is never refused
            "OPENSTAGE_SIMULATED_TASK_SECONDS": "0",
            "OPENSTAGE_LOG_LEVEL": "WARNING",
        }
        self.system = System(data_dir=self.data_dir, port=free_port(), env=env, log_dir=self.data_dir / "logs")
        self.system.start(list(WORKERS))
        self.system.wait_ready(60)
        self.base = f"http://127.0.0.1:{self.system.port}"
        self.http = httpx.Client(base_url=self.base, headers=AUTH, timeout=30, limits=CLIENT_LIMITS)

    def processes(self) -> dict[str, int]:
        procs = {name: c.proc.pid for name, c in self.system.children.items()}
        return procs

    def stop(self) -> None:
        if self.system:
            self.system.stop()

    # --- measuring ---------------------------------------------------------------------------
    def measure(self, scene: str, via: str, once, ceiling: str = "", note: str = "") -> Row:
        results: list[Result] = []
        peaks: dict[str, float] = {}
        cpu_per_request: list[dict[str, float]] = []
        for _ in range(self.args.runs):
            before = cpu_seconds(self.processes())
            with RssSampler(self.processes()) as sampler:
                results.append(once())
            after = cpu_seconds(self.processes())
            requests = max(results[-1].requests, 1)
            cpu_per_request.append({k: (after[k] - before[k]) * 1e6 / requests for k in after if k in before})
            for k, v in sampler.peaks.items():
                peaks[k] = max(peaks.get(k, 0.0), v)
        r = median_result(results)
        per_process = {k: round(median([c[k] for c in cpu_per_request if k in c]), 1) for k in sorted(cpu_per_request[0])}
        sc = SERVICE_CENTER.get(scene)
        row = Row(
            scene,
            via,
            round(median([x.tps for x in results]), 1),
            round(r.p50_ms, 2),
            round(r.p95_ms, 2),
            round(r.p99_ms, 2),
            sum(x.errors for x in results),
            len(results),
            ceiling,
            service_center_tps=sc[0] if sc and via == "HTTP" else None,
            service_center_p95_ms=sc[1] if sc and via == "HTTP" else None,
            peak_rss_mb={k: round(v, 1) for k, v in sorted(peaks.items())},
            server_cpu_us_per_request=round(median([sum(c.values()) for c in cpu_per_request]), 1),
            cpu_us_per_request=per_process,
            note=note,
        )
        self.rows.append(row)
        print(
            f"  {scene:<34} {via:<5} {row.tps:>9.1f}/s  p50 {row.p50_ms:7.2f}  p95 {row.p95_ms:7.2f}  "
            f"p99 {row.p99_ms:7.2f}  errors {row.errors}  server CPU {row.server_cpu_us_per_request:,.0f} µs/request",
            flush=True,
        )
        return row

    def http_scene(self, scene: str, method: str, path: str, body: str | None = None, ceiling: str = "hello", note: str = "") -> Row:
        headers = dict(AUTH)
        return self.measure(
            scene,
            "HTTP",
            lambda: run_http(self.base, method, path, headers, body, self.args.seconds, self.args.connections, self.args.loadgen),
            ceiling,
            note,
        )

    # --- ceilings ----------------------------------------------------------------------------
    def ceilings(self) -> None:
        port = free_port()
        hello = spawn(
            "hello",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.hello_app:app",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            log_dir=self.data_dir / "logs",
        )
        try:
            wait_for_port("127.0.0.1", port, 20, hello.proc)
            self.measure(
                "ceiling: bare ASGI hello world",
                "HTTP",
                lambda: run_http(
                    f"http://127.0.0.1:{port}", "GET", "/", {}, None, self.args.seconds, self.args.connections, self.args.loadgen
                ),
            )
        finally:
            stop(hello)
        echo = subprocess.Popen(
            [sys.executable, "-m", "bench.nats_echo", self.system.nats_url, "bench.echo"], stdout=subprocess.PIPE, text=True
        )
        try:
            echo.stdout.readline()
            self.measure(
                "ceiling: bare nats-py request-reply",
                "NATS",
                lambda: run_nats(self.system.nats_url, "bench.echo", lambda n: b'{"n":1}', self.args.seconds, self.args.connections),
            )
        finally:
            echo.terminate()
            echo.wait(10)

    # --- registry set-up ---------------------------------------------------------------------
    def create_service(self, name: str, version: str = "1.0.0") -> str:
        r = self.http.post(
            f"/v4/{PROJECT}/registry/microservices", json={"service": {"serviceName": name, "appId": "bench", "version": version}}
        )
        r.raise_for_status()
        return r.json()["serviceId"]

    def register(self, service_id: str, host: str, interval: int = 600) -> str:
        r = self.http.post(
            f"/v4/{PROJECT}/registry/microservices/{service_id}/instances",
            json={
                "instance": {
                    "hostName": host,
                    "endpoints": [f"rest://{host}:8080"],
                    "healthCheck": {"mode": "push", "interval": interval, "times": 3},
                }
            },
        )
        r.raise_for_status()
        return r.json()["instanceId"]

    def register_many(self, service_id: str, prefix: str, count: int) -> None:
        self.register_all([(service_id, prefix)], count)

    def register_all(self, services: list[tuple[str, str]], per_service: int, connections: int = 10) -> None:
        """``per_service`` instances of each (service id, host prefix), ``connections`` requests at
        a time on persistent connections of the bench's lean client (services interleaved)."""
        headers = {**AUTH, "Content-Type": "application/json"}
        requests = []
        for i in range(per_service):
            for sid, prefix in services:
                host = f"{prefix}-{i}"
                body = {
                    "instance": {
                        "hostName": host,
                        "endpoints": [f"rest://{host}:8080"],
                        "healthCheck": {"mode": "push", "interval": 600, "times": 3},
                    }
                }
                requests.append(("POST", f"/v4/{PROJECT}/registry/microservices/{sid}/instances", headers, json.dumps(body).encode()))
        result = send_all(self.base, requests, connections)
        if result.errors:
            raise RuntimeError(f"{result.errors} of {len(requests)} registrations failed")

    def find_path(self, name: str) -> str:
        return f"/v4/{PROJECT}/registry/instances?appId=bench&serviceName={name}&version=latest"

    # --- scenes ------------------------------------------------------------------------------
    def register_scenes(self) -> None:
        for title, name, host in (
            ("register growing instances", "bench-grow", "g-{{n}}"),
            ("register the same instance", "bench-same", "same"),
        ):
            service_id = self.create_service(name)
            instance = {
                "hostName": host,
                "endpoints": [f"rest://{host}:8080"],
                "healthCheck": {"mode": "push", "interval": 600, "times": 3},
            }
            self.http_scene(
                title, "POST", f"/v4/{PROJECT}/registry/microservices/{service_id}/instances", json.dumps({"instance": instance})
            )

    def registry_scenes(self, sizes: tuple[int, int] = (100, 1000)) -> None:
        self.register_scenes()
        one = self.create_service("bench-one")
        iid = self.register(one, "one")
        self.http_scene("heartbeat one instance", "PUT", f"/v4/{PROJECT}/registry/microservices/{one}/instances/{iid}/heartbeat")
        self.http_scene("find one instance", "GET", self.find_path("bench-one"))
        for size in sizes:
            name = f"bench-{size}"
            sid = self.create_service(name)
            self.register_many(sid, name, size)
            label = "find 1,000 instances" if size == 1000 else f"find {size} instances"
            self.http_scene(label, "GET", self.find_path(name))
        self.extra["heartbeat_target"] = (one, iid)

    def nats_scenes(self) -> None:
        from services.contracts import subjects
        from services.contracts.subjects import REGISTRY, Registry

        one, iid = self.extra["heartbeat_target"]
        hb_subject = subjects.command(PROJECT, REGISTRY, Registry.INSTANCE_HEARTBEAT)
        hb_payload = json.dumps({"service_id": one, "instance_id": iid}).encode()
        find_subject = subjects.command(PROJECT, REGISTRY, Registry.INSTANCE_FIND)
        find_payload = json.dumps({"app_id": "bench", "service_name": "bench-one", "version": "latest"}).encode()

        def ok(data: bytes) -> bool:
            return b'"status":200' in data[:40]

        self.measure(
            "heartbeat one instance",
            "NATS",
            lambda: run_nats(self.system.nats_url, hb_subject, lambda n: hb_payload, self.args.seconds, self.args.connections, ok),
            "nats",
        )
        reg_subject = subjects.command(PROJECT, REGISTRY, Registry.INSTANCE_REGISTER)
        for title, name, same in (
            ("register growing instances", "bench-grow-nats", False),
            ("register the same instance", "bench-same-nats", True),
        ):
            sid = self.create_service(name)

            def body(n: int, sid: str = sid, same: bool = same) -> bytes:
                host = "same" if same else f"n-{n}"
                instance = {"hostName": host, "endpoints": [f"rest://{host}:8080"], "healthCheck": {"mode": "push", "interval": 600}}
                return json.dumps({"service_id": sid, "body": {"instance": instance}}).encode()

            self.measure(
                title,
                "NATS",
                lambda body=body: run_nats(self.system.nats_url, reg_subject, body, self.args.seconds, self.args.connections, ok),
                "nats",
            )
        self.measure(
            "find one instance",
            "NATS",
            lambda: run_nats(self.system.nats_url, find_subject, lambda n: find_payload, self.args.seconds, self.args.connections, ok),
            "nats",
        )

    def environment_scenes(self) -> None:
        base_env = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}
        # names must stay unique across runs: each run gets its own prefix
        self.measure(
            "v2 create environment",
            "HTTP",
            lambda: run_http(
                self.base,
                "POST",
                f"/v2/{PROJECT}/cas/environments",
                dict(AUTH),
                json.dumps({"name": f"e{uuid.uuid4().hex[:8]}-{{{{n}}}}x", **base_env}),
                self.args.seconds,
                self.args.connections,
                self.args.loadgen,
            ),
            "hello",
        )
        env = self.http.post(f"/v2/{PROJECT}/cas/environments", json={"name": "bench-show", **base_env}).json()
        self.http_scene("v2 show environment", "GET", f"/v2/{PROJECT}/cas/environments/{env['id']}")
        self.http_scene("v2 list environments (limit 10)", "GET", f"/v2/{PROJECT}/cas/environments?limit=10")

    def v2_scale_scenes(self, count: int) -> None:
        """``count`` environments, ``count`` applications and ``count`` components (of one
        application) in one project, each created 20 at a time (the rates are reported), then show
        one and list 10 of each."""
        project = "bench-v2"
        base_env = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}
        component = {
            "runtime": "Docker",
            "category": "Webapp",
            "sub_category": "Web",
            "source": {"kind": "artifact", "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/b/a:1", "auth": "iam"}},
        }
        holder = self.http.post(f"/v2/{project}/cas/applications", json={"name": f"holder-{uuid.uuid4().hex[:6]}"}).json()
        kinds = [
            ("environments", f"/v2/{project}/cas/environments", lambda i: {"name": f"env-{i:05d}", **base_env}),
            ("applications", f"/v2/{project}/cas/applications", lambda i: {"name": f"app-{i:05d}"}),
            ("components", f"/v2/{project}/cas/applications/{holder['id']}/components", lambda i: {"name": f"comp-{i:05d}", **component}),
        ]
        for kind, path, body in kinds:

            async def create_all(path: str = path, body: Callable[[int], dict] = body) -> list[str]:
                async with httpx.AsyncClient(base_url=self.base, headers=AUTH, timeout=60, limits=CLIENT_LIMITS) as client:
                    sem = asyncio.Semaphore(20)

                    async def one(i: int) -> str:
                        async with sem:
                            r = await client.post(path, json=body(i))
                            r.raise_for_status()
                            return r.json()["id"]

                    return await asyncio.gather(*(one(i) for i in range(count)))

            t0 = time.perf_counter()
            ids = asyncio.run(create_all())
            took = time.perf_counter() - t0
            self.extra[f"v2_scale_create_{kind}"] = {kind: count, "seconds": round(took, 1), "per_second": round(count / took, 1)}
            print(f"  created {count} {kind} in {took:.1f} s ({count / took:,.0f}/s, 20 at a time)", flush=True)
            # (a lifecycle process loads a project's documents on its first read, workers/lifecycle/read_models.py)
            self.http.get(f"{path}?limit=1").raise_for_status()
            singular = kind[:-1]
            self.http_scene(f"v2 show {singular} @{count:,}", "GET", f"{path}/{ids[count // 2]}")
            self.http_scene(f"v2 list {kind} (limit 10) @{count:,}", "GET", f"{path}?limit=10")
            if kind == "components":
                self.v2_instance_scenes(project, holder["id"], ids[0], min(count, getattr(self.args, "v2_instances", 1_000)))

    def v2_instance_scenes(self, project: str, app_id: str, component_id: str, count: int) -> None:
        """``count`` instances of one component deployed (simulated driver, zero task delay; 20
        create calls at a time, then every job waited for), then show one, list 10, and show a job."""
        env = self.http.post(
            f"/v2/{project}/cas/environments",
            json={
                "name": f"inst-{uuid.uuid4().hex[:6]}",
                "deploy_mode": "container",
                "vpc_id": "v",
                "base_resources": [{"id": "cce-1", "type": "cce"}],
            },
        ).json()
        component = self.http.get(f"/v2/{project}/cas/applications/{app_id}/components/{component_id}").json()
        path = f"/v2/{project}/cas/applications/{app_id}/components/{component_id}/instances"
        artifact = {"storage": "swr", "type": "image", "url": "swr.example.com/bench/app:1.0.0", "auth": "iam"}

        async def deploy_all() -> list[dict]:
            async with httpx.AsyncClient(base_url=self.base, headers=AUTH, timeout=60, limits=CLIENT_LIMITS) as client:
                sem = asyncio.Semaphore(20)

                async def one(i: int) -> dict:
                    async with sem:
                        body = {
                            "name": f"inst-{i:05d}",
                            "environment_id": env["id"],
                            "flavor_id": "MICRO-5G:0.5C:1G",
                            "replica": 1,
                            "version": "1.0.0",
                            "artifacts": {component["name"]: artifact},
                            "refer_resources": [{"id": "cce-1", "type": "cce", "parameters": {"namespace": "default"}}],
                        }
                        r = await client.post(path, json=body)
                        r.raise_for_status()
                        accepted = r.json()
                    while True:  # its job to the end
                        j = await client.get(f"/v2/{project}/cas/jobs/{accepted['job_id']}")
                        if j.status_code == 200 and j.json().get("job", {}).get("EXECUTION_STATUS") in ("SUCCEEDED", "FAILED"):
                            return accepted
                        await asyncio.sleep(0.2)

                return await asyncio.gather(*(one(i) for i in range(count)))

        t0 = time.perf_counter()
        accepted = asyncio.run(deploy_all())
        took = time.perf_counter() - t0
        self.extra["v2_scale_create_instances"] = {"instances": count, "seconds": round(took, 1), "per_second": round(count / took, 1)}
        print(f"  deployed {count} instances in {took:.1f} s ({count / took:,.0f}/s, 20 at a time, each to its job's end)", flush=True)
        self.http.get(f"{path}?limit=1").raise_for_status()
        self.http_scene(f"v2 show instance @{count:,}", "GET", f"{path}/{accepted[count // 2]['instance_id']}")
        self.http_scene(f"v2 list instances (limit 10) @{count:,}", "GET", f"{path}?limit=10")
        self.http_scene(f"v2 show job @{count:,}", "GET", f"/v2/{project}/cas/jobs/{accepted[count // 2]['job_id']}")

    def deploy_latency(self, count: int) -> None:
        """Command accepted -> job SUCCEEDED seen by the tracker, zero task delay, one at a time (the
        job is polled every POLL_SECONDS: a show answered from memory, so polling hardly loads the
        system; a coarser poll would add up to its period to every figure)."""
        h = self.http
        env = h.post(
            f"/v2/{PROJECT}/cas/environments",
            json={"name": "bench-deploy", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "cce-1", "type": "cce"}]},
        ).json()
        app = h.post(f"/v2/{PROJECT}/cas/applications", json={"name": "bench-app"}).json()
        comp = h.post(
            f"/v2/{PROJECT}/cas/applications/{app['id']}/components",
            json={
                "name": "bench-comp",
                "runtime": "Docker",
                "category": "Webapp",
                "sub_category": "Web",
                "source": {
                    "kind": "artifact",
                    "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/bench/app:1.0.0", "auth": "iam"},
                },
            },
        )
        if comp.status_code != 200:
            print(f"  deploy latency skipped: component create answered {comp.status_code} {comp.text[:200]}")
            return
        comp = comp.json()
        latencies = []
        for i in range(count):
            t0 = time.perf_counter()
            r = h.post(
                f"/v2/{PROJECT}/cas/applications/{app['id']}/components/{comp['id']}/instances",
                json={
                    "name": f"bench-inst-{i}",
                    "environment_id": env["id"],
                    "flavor_id": "MICRO-5G:0.5C:1G",
                    "replica": 1,
                    "version": "1.0.0",
                    "artifacts": {
                        comp["name"]: {"storage": "swr", "type": "image", "url": "swr.example.com/bench/app:1.0.0", "auth": "iam"}
                    },
                    "refer_resources": [{"id": "cce-1", "type": "cce", "parameters": {"namespace": "default"}}],
                },
            )
            if r.status_code != 200:
                print(f"  deploy latency: create answered {r.status_code} {r.text[:300]}")
                return
            job_id = r.json()["job_id"]
            while True:
                j = h.get(f"/v2/{PROJECT}/cas/jobs/{job_id}")
                status = j.json().get("job", {}).get("EXECUTION_STATUS") if j.status_code == 200 else None
                if status in ("SUCCEEDED", "FAILED"):
                    break
                if time.perf_counter() - t0 > 60:
                    status = "TIMEOUT"
                    break
                time.sleep(POLL_SECONDS)
            latencies.append(time.perf_counter() - t0)
        lat = sorted(x * 1000 for x in latencies)
        from bench.loadgen import percentile

        row = Row(
            "deploy job end-to-end (zero task delay)",
            "HTTP",
            round(count / sum(latencies), 2),
            round(percentile(lat, 50), 1),
            round(percentile(lat, 95), 1),
            round(percentile(lat, 99), 1),
            0,
            count,
            note=f"{count} deployments one after another, the job polled every {POLL_SECONDS * 1000:g} ms; last status {status}",
        )
        self.rows.append(row)
        print(f"  {row.scene:<34} p50 {row.p50_ms} ms p95 {row.p95_ms} ms", flush=True)

    def fanout(self, subscribers: int, events: int) -> None:
        """Events of `events` environment changes delivered to `subscribers` JetStream consumers."""
        import nats as natslib

        from services.contracts import subjects

        async def go() -> tuple[float, list[float]]:
            nc = await natslib.connect(self.system.nats_url)
            js = nc.jetstream()
            lags: list[float] = []
            received = 0
            done = asyncio.Event()
            total = subscribers * events

            async def on_msg(msg):
                nonlocal received
                evt = json.loads(msg.data)
                sent = datetime.fromisoformat(evt["time"].replace("Z", "+00:00")).timestamp()
                lags.append(time.time() - sent)
                received += 1
                if received >= total:
                    done.set()

            for _ in range(subscribers):
                await js.subscribe(
                    f"openstage.evt.{PROJECT}.lifecycle.environment.updated",
                    cb=on_msg,
                    ordered_consumer=True,
                    stream=subjects.EVENTS_STREAM,
                    deliver_policy=natslib.js.api.DeliverPolicy.NEW,
                )
            env = self.http.post(
                f"/v2/{PROJECT}/cas/environments",
                json={
                    "name": "bench-fanout",
                    "deploy_mode": "container",
                    "vpc_id": "v",
                    "base_resources": [{"id": "cce-1", "type": "cce"}],
                },
            ).json()
            started = time.perf_counter()
            async with httpx.AsyncClient(base_url=self.base, headers=AUTH, timeout=30, limits=CLIENT_LIMITS) as client:
                for i in range(events):
                    await client.put(f"/v2/{PROJECT}/cas/environments/{env['id']}", json={"alias": f"a{i}"})
            try:
                await asyncio.wait_for(done.wait(), 60)
            except TimeoutError:
                pass
            elapsed = time.perf_counter() - started
            await nc.close()
            return received / elapsed, lags

        rate, lags = asyncio.run(go())
        lat = sorted(x * 1000 for x in lags)
        from bench.loadgen import percentile

        row = Row(
            f"event fan-out to {subscribers} subscribers",
            "NATS",
            round(rate, 1),
            round(percentile(lat, 50), 2),
            round(percentile(lat, 95), 2),
            round(percentile(lat, 99), 2),
            subscribers * events - len(lags),
            1,
            note=f"{events} changes x {subscribers} JetStream consumers; TPS = deliveries/s; latency = event time to receipt",
        )
        self.rows.append(row)
        print(f"  {row.scene:<34} {row.tps:>9.1f} deliveries/s  lag p50 {row.p50_ms} ms p95 {row.p95_ms} ms", flush=True)

    def scale_run(self) -> None:
        """10,000 instances across 100 services, then heartbeat and find-100 again."""
        print("scale run: registering 10,000 instances across 100 services...", flush=True)
        t0 = time.perf_counter()
        sids = [self.create_service(f"scale-{i}") for i in range(100)]
        t1 = time.perf_counter()
        # the lean client, --scale-connections at a time (10: like every other scene)
        connections = getattr(self.args, "scale_connections", 10)
        self.register_all([(sid, f"scale-{i}") for i, sid in enumerate(sids)], 100, connections)
        self.extra["scale_setup_seconds"] = round(time.perf_counter() - t0, 1)
        self.extra["scale_register_seconds"] = round(time.perf_counter() - t1, 1)
        self.extra["scale_register_connections"] = connections
        print(
            f"  created 100 services and registered 10,000 instances in {self.extra['scale_setup_seconds']} s "
            f"(the registrations alone, {connections} at a time: {self.extra['scale_register_seconds']} s)",
            flush=True,
        )
        one, iid = self.extra["heartbeat_target"]
        self.http_scene("heartbeat one instance @10k", "PUT", f"/v4/{PROJECT}/registry/microservices/{one}/instances/{iid}/heartbeat")
        self.http_scene("find 100 instances @10k", "GET", self.find_path("scale-0"))

    def footprint(self, settle_seconds: float = 5.0) -> None:
        """RSS (MB) and count of every process of an idle system (the supervisor's children and
        theirs), after ``settle_seconds`` of nothing: what `openstage up` costs doing nothing."""
        time.sleep(settle_seconds)
        per: dict[str, float] = {}
        count = 0
        for name, pid in self.processes().items():
            try:
                proc = psutil.Process(pid)
                procs = [proc, *proc.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                try:
                    per[name] = per.get(name, 0.0) + p.memory_info().rss / 1e6
                    count += 1
                except psutil.Error:
                    continue
        total = round(sum(per.values()), 1)
        self.extra["idle_footprint"] = {
            "total_rss_mb": total,
            "processes": count,
            "per_process_mb": {k: round(v, 1) for k, v in per.items()},
        }
        print(
            f"  idle footprint: {total} MB in {count} processes ({', '.join(f'{k} {v:.0f}' for k, v in sorted(per.items()))})", flush=True
        )

    # --- output ------------------------------------------------------------------------------
    def finish(self) -> dict:
        ceilings = {r.via: r.tps for r in self.rows if r.scene.startswith("ceiling")}
        for r in self.rows:
            if not r.scene.startswith("ceiling") and r.via in ceilings and ceilings[r.via]:
                r.ceiling = "bare ASGI hello world" if r.via == "HTTP" else "bare nats-py request-reply"
                r.ratio_to_ceiling = round(r.tps / ceilings[r.via], 3)
        report = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "settings": {
                "seconds": self.args.seconds,
                "runs": self.args.runs,
                "connections": self.args.connections,
                "loadgen": "wrk" if (self.args.loadgen == "wrk" or (self.args.loadgen == "auto" and have_wrk())) else "python",
            },
            "rows": [asdict(r) for r in self.rows],
            "extra": {k: v for k, v in self.extra.items() if k != "heartbeat_target"},
        }
        out = Path(self.args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        print()
        print(markdown_table(report))
        print(f"\nwritten to {out}")
        return report


def markdown_table(report: dict) -> str:
    lines = [
        "| scene | via | TPS | p50 ms | p95 ms | p99 ms | ratio to ceiling | Service-Center TPS / p95 | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in report["rows"]:
        sc = f"{r['service_center_tps']:,} / {r['service_center_p95_ms']}" if r["service_center_tps"] else ""
        ratio = f"{r['ratio_to_ceiling']:.2f}" if r["ratio_to_ceiling"] is not None else ""
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mb"].items())
        lines.append(
            f"| {r['scene']} | {r['via']} | {r['tps']:,.0f} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {ratio} | {sc} | {rss} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each run of a scene")
    p.add_argument("--runs", type=int, default=3, help="runs per scene; the table shows medians")
    p.add_argument("--connections", type=int, default=10, help="concurrent connections (Service-Center used 10 VUs)")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--output", default="bench/results/latest.json")
    p.add_argument(
        "--only",
        default="ceilings,registry,nats,environments,deploy,fanout",
        help="comma-separated groups: footprint,ceilings,registry (register: its two register scenes only),nats,environments,v2scale,deploy,fanout,scale",
    )
    p.add_argument(
        "--v2-count",
        type=int,
        default=10_000,
        help="environments, applications and components (of one application) in the project of the v2scale group",
    )
    p.add_argument(
        "--scale-connections",
        type=int,
        default=10,
        help="registrations in flight while the scale group registers its 10,000 instances (many instances start at once)",
    )
    p.add_argument(
        "--v2-instances",
        type=int,
        default=1_000,
        help="instances deployed (each to its job's end) in one component of the v2scale group, at most --v2-count",
    )
    p.add_argument("--smoke", action="store_true", help="a tiny load to check the runner works (used by the tests)")
    args = p.parse_args(argv)
    if args.smoke:
        args.seconds, args.runs = 1.0, 1
    groups = set(args.only.split(","))
    bench = Bench(args)
    print(f"openstage bench: {args.runs} runs x {args.seconds:g}s per scene, {args.connections} connections", flush=True)
    bench.start()
    try:
        if "footprint" in groups:
            bench.footprint()
        if "ceilings" in groups:
            bench.ceilings()
        if "registry" in groups or "nats" in groups or "scale" in groups:
            bench.registry_scenes(sizes=(10, 20) if args.smoke else (100, 1000))
        elif "register" in groups:
            bench.register_scenes()
        if "nats" in groups:
            bench.nats_scenes()
        if "environments" in groups:
            bench.environment_scenes()
        if "v2scale" in groups:
            if args.smoke:
                args.v2_instances = 200
            bench.v2_scale_scenes(200 if args.smoke else args.v2_count)
        if "deploy" in groups:
            bench.deploy_latency(3 if args.smoke else DEPLOYS)
        if "fanout" in groups:
            bench.fanout(10, 5 if args.smoke else 100)
        if "scale" in groups:
            bench.scale_run()
        bench.finish()
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
