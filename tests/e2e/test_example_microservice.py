"""examples/apps/hello-microservice against a real registry (edge + registry worker + NATS +
nx-27017, with a registry account as `OPENSTAGE_REGISTRY_ACCOUNTS` configures): from the
variables a deployment injects it logs in, creates its micro-service, registers an UP instance
with its endpoint, keeps it alive with heartbeats, registers again when the registry forgets it,
and is gone after SIGTERM."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from openstage.processes import free_port
from tests.support.example_packages import ExampleApp, deploy_locally, wait_http
from tests.support.signing import SignedClient
from tests.support.system import ADMIN, start_system

PROJECT = "examples"
ACCOUNT = {"name": "hello-svc", "password": "hello-svc-password-1", "projects": [PROJECT]}


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    env = {"OPENSTAGE_REGISTRY_ACCOUNTS": json.dumps([ACCOUNT])}
    rs = start_system(tmp_path_factory.mktemp("example-microservice"), ["registry"], extra_env=env)
    yield rs
    rs.system.stop()


@pytest.fixture(scope="module")
def admin(system):
    client = SignedClient(system.base_url, ADMIN.ak, ADMIN.sk)
    yield client
    client.close()


@pytest.fixture
def apps() -> Iterator[list[ExampleApp]]:
    started: list[ExampleApp] = []
    yield started
    for app in started:
        app.kill()


def base() -> str:
    return f"/v4/{PROJECT}/registry"


def instances_of(admin, sid: str) -> list[dict]:
    r = admin.get(f"{base()}/microservices/{sid}/instances")
    assert r.status_code == 200, r.text
    return r.json().get("instances", [])


def service_id(admin, app_id: str, name: str, version: str) -> str:
    r = admin.get(f"{base()}/existence", params={"type": "microservice", "appId": app_id, "serviceName": name, "version": version})
    assert r.status_code == 200, r.text
    return r.json()["serviceId"]


def start(system, workdir, apps, port: int, **extra: str) -> ExampleApp:
    env = {
        "PORT": str(port),
        "PAAS_CSE_SC_ENDPOINT": f"{system.base_url},http://127.0.0.1:1",  # a list: the first is used
        "PAAS_PROJECT_NAME": PROJECT,
        "CAS_APPLICATION_NAME": "shop",
        "CAS_COMPONENT_NAME": "hello",
        "CAS_INSTANCE_ID": "ci-1",
        "SERVICECOMB_CREDENTIALS_ACCOUNT_NAME": ACCOUNT["name"],
        "SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD": ACCOUNT["password"],
        "HEARTBEAT_SECONDS": "1",  # health check 1 s x 3: the registry drops it ~4 s after its last beat
        **extra,
    }
    app = ExampleApp(workdir, env)
    apps.append(app)
    return app


def test_registers_heartbeats_and_unregisters(system, admin, apps, tmp_path):
    workdir = deploy_locally("hello-microservice", "1.0.0", tmp_path)
    port = free_port()
    app = start(system, workdir, apps, port, CAS_INSTANCE_VERSION="1.2.3")

    app.wait_line(f"logged in to {system.base_url} as hello-svc")
    registered = app.wait_line("registered instance ")
    iid = registered.split()[3]
    sid = service_id(admin, "shop", "hello", "1.2.3")
    assert app.wait_line("micro-service shop/hello/1.2.3 has id ") == f"hello-microservice: micro-service shop/hello/1.2.3 has id {sid}"
    root = wait_http(f"http://127.0.0.1:{port}/").json()
    assert root["service_id"] == sid and root["registry_instance_id"] == iid and root["version"] == "1.2.3"

    [inst] = instances_of(admin, sid)
    assert inst["instanceId"] == iid and inst["status"] == "UP"
    assert inst["endpoints"] == [f"rest://127.0.0.1:{port}"] and inst["hostName"] == f"ci-1-{port}"
    assert inst["healthCheck"]["interval"] == 1 and inst["healthCheck"]["times"] == 3

    # alive past its lease (4 s) because it heartbeats
    time.sleep(6)
    assert [i["instanceId"] for i in instances_of(admin, sid)] == [iid]

    # the registry forgets it (an operator deregisters it): its next heartbeat registers it again
    assert admin.delete(f"{base()}/microservices/{sid}/instances/{iid}").status_code == 200
    app.wait_line(f"the registry no longer knows instance {iid}: registering again", timeout=10)
    line = [ln for ln in app.lines if ln.startswith("hello-microservice: registered instance ")]
    deadline = time.monotonic() + 10
    while len(line) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        line = [ln for ln in app.lines if ln.startswith("hello-microservice: registered instance ")]
    new_iid = line[1].split()[3]
    assert [i["instanceId"] for i in instances_of(admin, sid)] == [new_iid]

    assert app.stop() == 0
    app.wait_line(f"unregistered instance {new_iid}")
    app.wait_line("hello-microservice: stopped")
    assert instances_of(admin, sid) == []


def test_a_version_service_center_refuses_falls_back(system, admin, apps, tmp_path):
    workdir = deploy_locally("hello-microservice", "2.0.0-rc1", tmp_path)  # not a Service-Center version either
    app = start(system, workdir, apps, free_port(), CAS_INSTANCE_VERSION="v2-beta", CAS_COMPONENT_NAME="hello-fallback")
    app.wait_line("registered instance ")
    sid = service_id(admin, "shop", "hello-fallback", "1.0.0")
    assert len(instances_of(admin, sid)) == 1
    assert app.stop() == 0
    assert instances_of(admin, sid) == []


def test_a_wrong_password_ends_it_with_code_1(system, apps, tmp_path):
    workdir = deploy_locally("hello-microservice", "1.0.0", tmp_path)
    app = start(system, workdir, apps, free_port(), SERVICECOMB_CREDENTIALS_ACCOUNT_PASSWORD="wrong")
    assert app.proc.wait(20) == 1
    line = app.wait_line("giving up: ")
    assert "login as hello-svc refused: HTTP 401" in line and "401202" in line
