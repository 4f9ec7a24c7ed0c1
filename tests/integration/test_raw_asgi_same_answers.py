"""The raw-ASGI routes (api_edge/raw_asgi_routes.py) against the real workers: registration, the
environment list and details, application and component details, and instance creates answer byte
for byte as their FastAPI routes, for found and unknown resources, good and bad input. Two edges in this process
share the system's bus: the edge as it runs, and the same edge without its raw-ASGI layer."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from api_edge.app import create_app
from api_edge.raw_asgi_routes import RawAsgiRoutes
from services.settings import Settings
from tests.support.bodies import COMPONENT_BODY, INSTANCE_BODY
from tests.support.system import TOKEN_A, start_system, tokens_json

P = "tenanta"
ENV = f"/v2/{P}/cas/environments"
APP = f"/v2/{P}/cas/applications"
BASE_ENV = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    """(the edge with its raw-ASGI layer, the edge without), both on one system's bus."""
    rs = start_system(tmp_path_factory.mktemp("raw-asgi"), ["lifecycle", "registry"])
    try:
        clients = []
        for raw in (True, False):
            app = create_app(Settings(nats_url=rs.nats_url, tokens=tokens_json(), request_timeout=5))
            if not raw:
                app.user_middleware = [m for m in app.user_middleware if m.cls is not RawAsgiRoutes]
            clients.append(TestClient(app, headers={"X-Auth-Token": TOKEN_A}))
        with clients[0] as raw_client, clients[1] as api_client:
            yield raw_client, api_client
    finally:
        rs.system.stop()


def _same_answer(edges, method: str, url: str, body: bytes | None = None):
    """Send the request to both edges; their answers (status, headers, body bytes) must be equal."""
    answers = []
    for client in edges:
        r = client.request(method, url, content=body)
        answers.append((r.status_code, sorted(r.headers.multi_items()), r.content))
    assert answers[0] == answers[1], (method, url, body)
    return answers[0]


def test_environment_details_and_list(edges):
    api = edges[1]
    ids = [api.post(ENV, json={"name": f"raw-{i}", **BASE_ENV}).json()["id"] for i in range(12)]
    status, _, body = _same_answer(edges, "GET", f"{ENV}/{ids[3]}")
    assert status == 200 and orjson.loads(body)["name"] == "raw-3"
    status, _, body = _same_answer(edges, "GET", f"{ENV}/env-unknown")
    assert status == 404 and orjson.loads(body)["error_code"] == "SVCSTG.00100411"
    assert _same_answer(edges, "GET", f"{ENV}/bad$id")[0] == 400
    for query in ("", "limit=10", "limit=5&offset=3&order_by=name&order=asc", "order_by=update_time", "limit=2&limit=3&other=1"):
        status, _, body = _same_answer(edges, "GET", f"{ENV}?{query}")
        assert status == 200, query
    assert [e["name"] for e in orjson.loads(body)["environments"]] != []
    for query in ("limit=101", "limit=abc", "limit=", "offset=-1", "order_by=bogus", "order=up"):
        status, _, body = _same_answer(edges, "GET", f"{ENV}?{query}")
        assert status == 400 and orjson.loads(body)["error_code"] == "SVCSTG.00100400", query


def test_application_and_component_details(edges):
    app_id = edges[1].post(APP, json={"name": "raw-app"}).json()["id"]
    status, _, body = _same_answer(edges, "GET", f"{APP}/{app_id}")
    assert status == 200 and orjson.loads(body)["name"] == "raw-app"
    assert _same_answer(edges, "GET", f"{APP}/app-unknown")[0] == 404
    assert _same_answer(edges, "GET", f"{APP}/bad.id")[0] == 400
    assert _same_answer(edges, "GET", f"{APP}/{app_id}/components/comp-unknown")[0] == 404
    assert _same_answer(edges, "GET", f"{APP}/{app_id}/components/bad.id")[0] == 400
    assert _same_answer(edges, "GET", f"{APP}/{app_id}/components/overviews")[0] == 200


def test_instance_registration(edges):
    service = {"service": {"appId": "raw", "serviceName": "raw-svc", "version": "1.0.0"}}
    service_id = edges[1].post(f"/v4/{P}/registry/microservices", json=service).json()["serviceId"]
    url = f"/v4/{P}/registry/microservices/{service_id}/instances"
    instance = orjson.dumps({"instance": {"hostName": "h1", "endpoints": ["rest://127.0.0.1:8080"]}})
    edges[1].post(url, content=instance).raise_for_status()  # registered once: both edges re-register it
    status, _, body = _same_answer(edges, "POST", url, instance)
    assert status == 200 and orjson.loads(body)["instanceId"]
    status, _, body = _same_answer(edges, "POST", f"/v4/{P}/registry/microservices/svc-unknown/instances", instance)
    assert status == 400 and orjson.loads(body)["errorCode"] == "400012"
    for bad in (b"", b"{", b"[]", b'{"instance": {"hostName": 7}}', b'{"instance": {"endpoints": "rest://x"}}'):
        status, _, body = _same_answer(edges, "POST", url, bad)
        assert status == 400 and orjson.loads(body)["errorCode"] == "400001", bad


def test_instance_create(edges):
    api = edges[1]
    env_id = api.post(ENV, json={"name": "raw-inst-env", **BASE_ENV}).json()["id"]
    app_id = api.post(APP, json={"name": "raw-inst-app"}).json()["id"]
    comp_id = api.post(f"{APP}/{app_id}/components", json={**COMPONENT_BODY, "name": "web"}).json()["id"]
    url = f"{APP}/{app_id}/components/{comp_id}/instances"
    body = {**INSTANCE_BODY, "environment_id": env_id}
    accepted = []
    for n, client in enumerate(edges):  # accepted by both (each its own instance and job)
        r = client.post(url, json={**body, "name": f"web-{n}"})
        assert r.status_code == 200 and sorted(r.json()) == ["instance_id", "job_id"], r.text
        accepted.append(r.headers["content-type"])
    assert accepted[0] == accepted[1]
    json_type = {"Content-Type": "application/json"}
    refused = [
        (url, orjson.dumps({**body, "name": "web-0"}), 400),  # the name is taken
        (url, orjson.dumps({**body, "environment_id": "env-unknown"}), 404),
        (f"{APP}/{app_id}/components/comp-unknown/instances", orjson.dumps(body), 404),
        (f"{APP}/app-unknown/components/{comp_id}/instances", orjson.dumps(body), 404),
        (url, orjson.dumps({**body, "replica": 0}), 400),
        (url, b"{", 400),
        (f"{APP}/{app_id}/components/bad.id/instances", orjson.dumps(body), 400),
    ]
    for path, payload, status in refused:
        answers = []
        for client in edges:
            r = client.post(path, content=payload, headers=json_type)
            answers.append((r.status_code, sorted(r.headers.multi_items()), r.content))
        assert answers[0] == answers[1], (path, payload)
        assert answers[0][0] == status, (path, payload, answers[0])
