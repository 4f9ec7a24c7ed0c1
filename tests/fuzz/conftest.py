"""One dedicated system for the fuzz tests (schemathesis and the hostile-input corpus), apart
from the session's shared one: every worker, the edge with no rate limit, and a few real
resources of project "tenanta" so generated requests also reach the code behind a 404."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.system import TOKEN_A, RunningSystem, start_system
from workers import WORKERS

PROJECT = "tenanta"
AUTH = {"X-Auth-Token": TOKEN_A}
READ_TIMEOUT = 2  # seconds the edge waits for a request's head, then its body (408 after)

# What a log line of an unhandled failure looks like: a Python traceback, a record logged at
# ERROR or CRITICAL (format "%(asctime)s %(levelname)s %(name)s: ..."), nats-server's [ERR]/[FTL].
LOG_MARKERS = ("Traceback", " ERROR ", " CRITICAL ", "[ERR]", "[FTL]")


class LogWatch:
    """The lines the system's processes log from now on."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.offsets = {p: p.stat().st_size for p in log_dir.glob("*.log")}

    def new_lines(self) -> dict[str, list[str]]:
        out = {}
        for path in sorted(self.log_dir.glob("*.log")):
            with path.open("rb") as f:
                f.seek(self.offsets.get(path, 0))
                out[path.name] = f.read().decode("utf-8", "replace").splitlines()
        return out

    def problems(self) -> list[str]:
        found = []
        for name, lines in self.new_lines().items():
            found += [f"{name}: {line}" for line in lines if any(m in line for m in LOG_MARKERS)]
        return found


@dataclass
class Seeded:
    """Ids of real resources, offered to the fuzzer next to generated ones."""

    v2: dict[str, list[str]] = field(default_factory=dict)
    v4: dict[str, list[str]] = field(default_factory=dict)
    component_name: str = ""


@pytest.fixture(scope="package")
def fuzz_system(tmp_path_factory) -> RunningSystem:
    rs = start_system(
        tmp_path_factory.mktemp("fuzz"),
        list(WORKERS),
        extra_env={"OPENSTAGE_RATE_LIMIT_PER_SECOND": "0", "OPENSTAGE_READ_TIMEOUT": str(READ_TIMEOUT)},
    )
    yield rs
    rs.system.stop()


@pytest.fixture(scope="package")
def fuzz_http(fuzz_system):
    with httpx.Client(base_url=fuzz_system.base_url, headers=AUTH, timeout=10.0) as client:
        yield client


def _ok(r: httpx.Response) -> dict:
    assert r.status_code < 300, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json() if r.content else {}


@pytest.fixture(scope="package")
def seeded(fuzz_http) -> Seeded:
    h = fuzz_http
    v2 = f"/v2/{PROJECT}/cas"
    env = _ok(
        h.post(
            f"{v2}/environments",
            json={
                "name": "fuzz-env",
                "deploy_mode": "container",
                "vpc_id": "vpc-1",
                "base_resources": [{"id": "cce-cluster-1", "type": "cce"}],
                "optional_resources": [{"id": "elb-1", "type": "elb"}],
            },
        )
    )
    app = _ok(h.post(f"{v2}/applications", json={"name": "fuzz-app"}))
    comp = _ok(
        h.post(
            f"{v2}/applications/{app['id']}/components",
            json={
                "name": "fuzz-web",
                "runtime": "Docker",
                "category": "Webapp",
                "source": {
                    "kind": "artifact",
                    "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/org/web:1.0.0", "auth": "iam"},
                },
            },
        )
    )
    inst = _ok(
        h.post(
            f"{v2}/applications/{app['id']}/components/{comp['id']}/instances",
            json={
                "name": "fuzz-inst",
                "environment_id": env["id"],
                "flavor_id": "MICRO-5G:0.5C:1G",
                "replica": 1,
                "version": "1.0.0",
                "artifacts": {"fuzz-web": {"storage": "swr", "type": "image", "url": "swr.example.com/org/web:1.0.0", "auth": "iam"}},
                "refer_resources": [{"id": "cce-cluster-1", "type": "cce", "parameters": {"namespace": "default"}}],
            },
        )
    )
    _ok(
        h.put(
            f"{v2}/applications/{app['id']}/configuration",
            json={"environment_id": env["id"], "configuration": {"env": [{"name": "A", "value": "1"}]}},
        )
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # let the deploy job finish: later requests see a settled instance
        job = h.get(f"{v2}/jobs/{inst['job_id']}")
        if job.status_code == 200 and job.json().get("job", {}).get("execution_status") in (
            "SUCCEEDED",
            "FAILED",
            "CANCELLED",
            "PARTIALLY_FAILED",
        ):
            break
        time.sleep(0.1)

    v4 = f"/v4/{PROJECT}/registry"
    sid = _ok(
        h.post(
            f"{v4}/microservices",
            json={"service": {"serviceName": "fuzz-svc", "appId": "fuzz", "version": "1.0.0", "schemas": ["fuzzschema"]}},
        )
    )["serviceId"]
    iid = _ok(
        h.post(f"{v4}/microservices/{sid}/instances", json={"instance": {"hostName": "fuzz-host", "endpoints": ["rest://127.0.0.1:8080"]}})
    )["instanceId"]
    h.put(f"{v4}/microservices/{sid}/schemas/fuzzschema", json={"schema": "openapi: 3.0.0", "summary": "s1"})
    _ok(h.post(f"/v3/{PROJECT}/configuration/items", json={"dimensionsInfo": "fuzz-svc@fuzz#1.0.0", "items": {"k": "v"}}))
    return Seeded(
        v2={
            "environment_id": [env["id"]],
            "application_id": [app["id"]],
            "component_id": [comp["id"]],
            "instance_id": [inst["instance_id"]],
            "job_id": [inst["job_id"]],
        },
        v4={"service_id": [sid], "instance_id": [iid], "schema_id": ["fuzzschema"]},
        component_name=comp["name"],
    )
