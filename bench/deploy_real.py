"""`python -m bench.deploy_real`: the process driver measured on a real `openstage up` (its host
agent `local`), as a user deploys through the official SDK.

1. **Deploy-job latency**: ``--deploys`` times (default 10), a new instance of the example web app
   (examples/apps/hello-web, a file:// package under the data directory's artifacts/) with
   ``--replicas`` replicas (default 1): the time from ``create_instance`` to the job SUCCEEDED
   (every replica answering HTTP). p50 / p95 / max. Each instance is deleted afterwards (not timed).
2. **50 replicas on one host**: one instance with ``--many`` replicas (default 50): the time until
   its job is SUCCEEDED (all ready), the agent's RSS before and with them running, the replicas'
   total RSS, and how many processes really run.

Prints a table and writes bench/results/deploy_real.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkservicestage.v2 import ServiceStageClient
from huaweicloudsdkservicestage.v2.model import (
    ApplicationCreate,
    ComponentCreate,
    CreateApplicationRequest,
    CreateComponentRequest,
    CreateEnvironmentRequest,
    CreateInstanceRequest,
    DeleteInstanceRequest,
    EnvironmentCreate,
    InstanceCreate,
    ReferResourceCreate,
    Resource,
    ShowJobDetailRequest,
)

from openstage.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "deploy_real.json"
READY_LINE = "Press Ctrl-C to stop."
PROJECT = "bench"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Up:
    """`openstage up` on a fresh data directory, as a user starts it."""

    def __init__(self, workdir: Path) -> None:
        self.data_dir = workdir / ".openstage"
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTAGE_")}
        args = [sys.executable, "-m", "openstage.cli", "up", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        args += ["--nats-port", str(free_port()), "--store-port", str(free_port())]
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if not line:
                break
            lines.append(line)
            if READY_LINE in line:
                return
        self.stop()
        raise SystemExit("openstage up did not become ready:\n" + "".join(lines))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def credential(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "credentials.json").read_text())[0]

    def agent(self) -> psutil.Process | None:
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if "agent" in p.cmdline():
                    return p
            except psutil.NoSuchProcess:
                continue
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def pack(app: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{app}-1.0.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(ROOT / "examples" / "apps" / app, arcname=".", filter=lambda t: None if "__pycache__" in t.name else t)
    return path


def sdk(up: Up) -> ServiceStageClient:
    cred = up.credential()
    config = HttpConfig.get_default_config()
    config.timeout = (5, 60)
    config.retry_times = 0
    return (
        ServiceStageClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(cred["ak"], cred["sk"], PROJECT))
        .with_endpoints([up.endpoint])
        .build()
    )


def wait_job(client: ServiceStageClient, job_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.show_job_detail(ShowJobDetailRequest(job_id=job_id))
        if job.job.execution_status not in ("SUBMITTED", "RUNNING"):
            if job.job.execution_status != "SUCCEEDED":
                raise SystemExit(f"job {job_id} {job.job.execution_status}: {[t.messages for t in job.tasks]}")
            return job.job.execution_status
        time.sleep(0.02)
    raise SystemExit(f"job {job_id} did not end in {timeout}s")


class Bench:
    def __init__(self, up: Up, client: ServiceStageClient, url: str) -> None:
        self.up, self.client, self.url = up, client, url
        env = client.create_environment(
            CreateEnvironmentRequest(
                body=EnvironmentCreate(
                    name="bench-local", deploy_mode="virtualmachine", vpc_id="vpc-1", base_resources=[Resource(id="local", type="ecs")]
                )
            )
        )
        self.env_id = env.id
        self.app_id = client.create_application(CreateApplicationRequest(body=ApplicationCreate(name="bench"))).id
        comp = client.create_component(
            CreateComponentRequest(application_id=self.app_id, body=ComponentCreate(name="hello-web", runtime="Python3", category="Webapp"))
        )
        self.comp_id, self.comp_name = comp.id, comp.name

    def create(self, name: str, replica: int) -> tuple[str, str]:
        body = InstanceCreate(
            name=name,
            environment_id=self.env_id,
            flavor_id="MICRO-5G:0.5C:1G",
            replica=replica,
            version="1.0.0",
            artifacts={self.comp_name: {"storage": "obs", "type": "package", "url": self.url, "auth": "none"}},
            refer_resources=[ReferResourceCreate(id="local", type="ecs", parameters={"hosts": ["local"]})],
        )
        created = self.client.create_instance(CreateInstanceRequest(application_id=self.app_id, component_id=self.comp_id, body=body))
        return created.instance_id, created.job_id

    def delete(self, instance_id: str) -> None:
        job = self.client.delete_instance(
            DeleteInstanceRequest(application_id=self.app_id, component_id=self.comp_id, instance_id=instance_id)
        )
        wait_job(self.client, job.job_id, 120)

    def deploy_latency(self, n: int, replicas: int) -> list[float]:
        times = []
        for i in range(n):
            started = time.monotonic()
            iid, job_id = self.create(f"lat-{i}", replicas)
            wait_job(self.client, job_id, 120)
            times.append((time.monotonic() - started) * 1000)
            self.delete(iid)
        return times

    def many(self, replicas: int) -> dict[str, Any]:
        agent = self.up.agent()
        rss_before = agent.memory_info().rss if agent else 0
        started = time.monotonic()
        iid, job_id = self.create("many", replicas)
        wait_job(self.client, job_id, 600)
        ready_s = time.monotonic() - started
        agent = self.up.agent()
        procs = [p for p in psutil.process_iter() if _instance_of(p) == iid]
        top = [p for p in procs if p.ppid() not in {q.pid for q in procs}]
        out = {
            "replicas": replicas,
            "seconds_until_all_ready": round(ready_s, 2),
            "agent_rss_mb_before": round(rss_before / 2**20, 1),
            "agent_rss_mb_with_replicas": round(agent.memory_info().rss / 2**20, 1) if agent else None,
            "replica_processes": len(top),
            "replicas_rss_mb_total": round(sum(_rss(p) for p in procs) / 2**20, 1),
        }
        started = time.monotonic()
        self.delete(iid)
        out["seconds_to_delete"] = round(time.monotonic() - started, 2)
        return out


def _instance_of(p: psutil.Process) -> str | None:
    try:
        return p.environ().get("CAS_INSTANCE_ID")
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return None


def _rss(p: psutil.Process) -> int:
    try:
        return int(p.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=1, help="replicas per deploy in the latency run")
    parser.add_argument("--many", type=int, default=50, help="replicas of the one-host run (0: skip)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        up = Up(Path(tmp))
        try:
            url = pack("hello-web", up.data_dir / "artifacts").resolve().as_uri()
            bench = Bench(up, sdk(up), url)
            times = bench.deploy_latency(args.deploys, args.replicas)
            latency = {
                "deploys": len(times),
                "replicas": args.replicas,
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "max_ms": round(max(times), 1),
            }
            many = bench.many(args.many) if args.many else None
        finally:
            up.stop()
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "deploy_latency": latency,
        "many_replicas": many,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"deploy job, example web app, {latency['replicas']} replica(s), {latency['deploys']} deploys:")
    print(f"  p50 {latency['p50_ms']} ms  p95 {latency['p95_ms']} ms  max {latency['max_ms']} ms")
    if many:
        print(f"{many['replicas']} replicas on host local: all ready after {many['seconds_until_all_ready']} s;")
        print(f"  agent RSS {many['agent_rss_mb_before']} MB before, {many['agent_rss_mb_with_replicas']} MB with them;")
        print(
            f"  {many['replica_processes']} replica processes, {many['replicas_rss_mb_total']} MB RSS together; delete {many['seconds_to_delete']} s"
        )
    print(f"load average {result['load_average']}; written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
