"""Direct publishing on the bus, one command per domain plus a long operation: the reply equals
what the HTTP path returns, and the same events follow."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import nats

from services.contracts import subjects
from services.contracts.subjects import CONFIG, JOBS, LIFECYCLE, REGISTRY, ComponentInstances, Config, Jobs, Lifecycle, Registry
from tests.support.events import read_events
from tests.support.signing import SignedClient
from tests.support.system import ADMIN

PROJECT = "busproj"
VOLATILE = {"id", "name", "create_time", "update_time", "creator"}


def bus(running, domain: str, action: str, payload: dict) -> dict:
    async def go() -> dict:
        nc = await nats.connect(running.nats_url)
        try:
            msg = await nc.request(subjects.command(PROJECT, domain, action), json.dumps(payload).encode(), timeout=10)
            return json.loads(msg.data)
        finally:
            await nc.close()

    return asyncio.run(go())


def stable(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in VOLATILE}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_each_domain_and_a_long_operation(running):
    http = SignedClient(running.base_url, ADMIN.ak, ADMIN.sk)

    # lifecycle: environments and applications
    env = http.post(
        f"/v2/{PROJECT}/cas/environments",
        json={
            "name": unique("env"),
            "deploy_mode": "container",
            "vpc_id": "vpc-1",
            "base_resources": [{"id": "cce-cluster-1", "type": "cce"}],
        },
    ).json()
    via_http = http.post(f"/v2/{PROJECT}/cas/applications", json={"name": unique("h"), "description": "d"})
    via_bus = bus(running, LIFECYCLE, Lifecycle.APPLICATION_CREATE, {"name": unique("b"), "description": "d"})
    assert via_http.status_code == via_bus["status"] == 200
    assert stable(via_bus["result"]) == stable(via_http.json())
    app_id = via_bus["result"]["id"]
    assert http.get(f"/v2/{PROJECT}/cas/applications/{app_id}").json() == via_bus["result"]

    # config: application configuration
    conf = {"environment_id": env["id"], "configuration": {"env": [{"name": "A", "value": "1"}]}}
    put = bus(running, CONFIG, Config.APP_CONFIGURATION_PUT, {"application_id": app_id, "body": conf})
    assert put["status"] == 200, put
    got = http.get(f"/v2/{PROJECT}/cas/applications/{app_id}/configuration", params={"environment_id": env["id"]})
    assert got.status_code == 200
    assert (
        bus(running, CONFIG, Config.APP_CONFIGURATION_GET, {"application_id": app_id, "environment_id": env["id"]})["result"] == got.json()
    )

    # registry: a micro-service
    service = {"service": {"serviceName": unique("svc"), "appId": "shop", "version": "1.0.0"}}
    created = bus(running, REGISTRY, Registry.SERVICE_CREATE, {"body": service})
    assert created["status"] == 200, created
    sid = created["result"]["serviceId"]
    shown = http.get(f"/v4/{PROJECT}/registry/microservices/{sid}")
    assert shown.status_code == 200
    assert bus(running, REGISTRY, Registry.SERVICE_GET, {"service_id": sid})["result"] == shown.json()

    # a long operation: deploy an instance over the bus, follow its job over the bus
    component = http.post(
        f"/v2/{PROJECT}/cas/applications/{app_id}/components",
        json={
            "name": unique("web"),
            "runtime": "Docker",
            "category": "Webapp",
            "source": {
                "kind": "artifact",
                "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/org/web:1.0.0", "auth": "iam"},
            },
        },
    ).json()
    deploy = bus(
        running,
        LIFECYCLE,
        ComponentInstances.CREATE,
        {
            "application_id": app_id,
            "component_id": component["id"],
            "body": {
                "name": unique("inst"),
                "environment_id": env["id"],
                "flavor_id": "MICRO-5G:0.5C:1G",
                "replica": 1,
                "version": "1.0.0",
                "artifacts": {
                    component["name"]: {"storage": "swr", "type": "image", "url": "swr.example.com/org/web:1.0.0", "auth": "iam"}
                },
                "refer_resources": [{"id": "cce-cluster-1", "type": "cce", "parameters": {"namespace": "default"}}],
            },
        },
    )
    assert deploy["status"] == 200, deploy
    job_id, instance_id = deploy["result"]["job_id"], deploy["result"]["instance_id"]
    deadline = time.monotonic() + 30
    while True:
        job = bus(running, JOBS, Jobs.GET, {"job_id": job_id})
        if job["status"] == 200 and job["result"]["job"]["EXECUTION_STATUS"] in ("SUCCEEDED", "FAILED"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["result"]["job"]["EXECUTION_STATUS"] == "SUCCEEDED"
    assert http.get(f"/v2/{PROJECT}/cas/jobs/{job_id}").json() == job["result"]
    instance = http.get(f"/v2/{PROJECT}/cas/applications/{app_id}/components/{component['id']}/instances/{instance_id}")
    assert instance.json()["status_detail"]["status"] == "RUNNING"

    # the same events follow a bus command as an HTTP one
    events = asyncio.run(read_events(running.nats_url, f"openstage.evt.{PROJECT}.>"))
    by_subject = {}
    for e in events:
        by_subject.setdefault(e["event"]["subject"], []).append(e["event"]["type"])
    assert (
        by_subject[f"/v2/{PROJECT}/cas/applications/{via_http.json()['id']}"]
        == by_subject[f"/v2/{PROJECT}/cas/applications/{app_id}"][:1]
        == ["io.openstage.lifecycle.application.created"]
    )
    types = {e["event"]["type"] for e in events}
    assert {"io.openstage.config.app_configuration.updated", "io.openstage.registry.service.created"} <= types
    assert any(t.startswith("io.openstage.lifecycle.instance.") for t in types)
    assert any(t.startswith("io.openstage.lifecycle.job.") or t.startswith("io.openstage.jobs.") for t in types), types
