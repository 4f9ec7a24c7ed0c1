"""The example apps (examples/apps/) as the host agent runs them: a package built like the README
says, fetched into the artifact cache, copied to a working directory, started with PORT and the
injected variables, stopped with SIGTERM. (hello-microservice against a real registry:
tests/e2e/test_example_microservice.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from openstage.processes import free_port
from tests.support.example_packages import ExampleApp, build_package, deploy_locally, sha256_of, wait_http


@pytest.fixture
def apps() -> Iterator[list[ExampleApp]]:
    started: list[ExampleApp] = []
    yield started
    for app in started:
        app.kill()


def test_packages_are_reproducible_and_a_new_version_is_a_new_package(tmp_path):
    v1 = build_package("hello-web", tmp_path / "a", "1.0.0")
    assert v1.name == "hello-web-1.0.0.tar.gz"
    assert sha256_of(build_package("hello-web", tmp_path / "b", "1.0.0")) == sha256_of(v1)
    assert sha256_of(build_package("hello-web", tmp_path / "c", "2.0.0")) != sha256_of(v1)
    with pytest.raises(ValueError, match="no example app"):
        build_package("nope", tmp_path, "1.0.0")


def test_hello_web_serves_its_version_and_the_injected_variables(tmp_path, apps):
    workdir = deploy_locally("hello-web", "2.3.4", tmp_path)
    assert sorted(p.name for p in workdir.iterdir()) == ["README.md", "VERSION", "app.py"]
    port = free_port()
    env = {"PORT": str(port), "CAS_INSTANCE_ID": "inst-1", "PAAS_PROJECT_NAME": "demo", "MY_SETTING": "on", "OTHER": "x"}
    app = ExampleApp(workdir, env)
    apps.append(app)

    base = f"http://127.0.0.1:{port}"
    assert wait_http(f"{base}/health").json() == {"status": "UP"}
    root = httpx.get(f"{base}/").json()
    assert root["app"] == "hello-web" and root["version"] == "2.3.4"
    assert root["instance_id"] == "inst-1" and root["port"] == port and root["pid"] == app.proc.pid

    assert httpx.get(f"{base}/env").json() == {"CAS_INSTANCE_ID": "inst-1", "PAAS_PROJECT_NAME": "demo"}
    listed = httpx.get(f"{base}/env", params={"names": "MY_SETTING,UNSET_ONE"}).json()
    assert listed == {"CAS_INSTANCE_ID": "inst-1", "MY_SETTING": "on", "PAAS_PROJECT_NAME": "demo"}
    assert httpx.get(f"{base}/nope").status_code == 404

    # several requests at once (threaded server)
    with httpx.Client() as client:
        results = []
        threads = [threading.Thread(target=lambda: results.append(client.get(f"{base}/").status_code)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results == [200] * 8

    assert app.stop() == 0
    app.wait_line("SIGTERM received, stopping")
    app.wait_line("hello-web: stopped")
    assert app.lines[0] == f"hello-web: version 2.3.4 listening on 0.0.0.0:{port} (instance inst-1)"


def test_hello_microservice_waits_for_the_registry_and_stops_on_sigterm(tmp_path, apps):
    workdir = deploy_locally("hello-microservice", "1.2.0", tmp_path)
    port, nothing_there = free_port(), free_port()
    env = {"PORT": str(port), "PAAS_CSE_SC_ENDPOINT": f"http://127.0.0.1:{nothing_there},http://127.0.0.1:1", "CAS_INSTANCE_ID": "i-9"}
    app = ExampleApp(workdir, env)
    apps.append(app)

    line = app.wait_line("registry not reachable")
    assert line.startswith(f"hello-microservice: create micro-service: registry not reachable (http://127.0.0.1:{nothing_there}: ")
    assert line.endswith("retrying in 1 s")
    app.wait_line("retrying in 2 s", timeout=10)
    root = wait_http(f"http://127.0.0.1:{port}/").json()  # serving while it waits
    assert root["version"] == "1.2.0" and root["service_id"] == "" and root["registry_instance_id"] == ""

    started = time.monotonic()
    assert app.stop() == 0
    assert time.monotonic() - started < 5  # not stuck in a retry pause
    app.wait_line("hello-microservice: stopped")


def test_hello_microservice_without_a_registry_address(tmp_path, apps):
    app = ExampleApp(deploy_locally("hello-microservice", "1.0.0", tmp_path), {"PORT": str(free_port())})
    apps.append(app)
    assert app.proc.wait(10) == 1
    app.wait_line("PAAS_CSE_SC_ENDPOINT is not set: nowhere to register")
