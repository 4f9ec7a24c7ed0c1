"""Every route sends the command it declares (``@sends``) through the one forward, the raw-ASGI
heartbeat and discovery too, and answers with the worker's reply mapped to HTTP. The bus is a
recording stand-in for NATS: no process is started."""

from __future__ import annotations

import pytest

from api_edge.route_commands import route_command
from tests.support.edge_with_recording_bus import edge_answering


def test_a_v2_route_sends_its_declared_command_and_answers_the_result():
    client, nats = edge_answering({"status": 200, "result": {"id": "e1", "name": "dev"}})
    response = client.get("/v2/p1/cas/environments/e1")
    assert (response.status_code, response.json()) == (200, {"id": "e1", "name": "dev"})
    assert [s[:2] for s in nats.sent] == [("openstage.cmd.p1.lifecycle.environment.get", {"environment_id": "e1"})]


def test_v2_answers_an_empty_result_with_an_empty_object_and_204_without_a_body():
    client, _ = edge_answering({"status": 200})
    assert client.get("/v2/p1/cas/metadata/runtimes").content == b"{}"
    client, nats = edge_answering({"status": 204})
    response = client.delete("/v2/p1/cas/environments/e1")
    assert (response.status_code, response.content) == (204, b"")
    assert nats.sent[0][0] == "openstage.cmd.p1.lifecycle.environment.delete"


@pytest.mark.parametrize(
    "method,path,subject,payload",
    [
        (
            "PUT",
            "/v4/p1/registry/microservices/s1/instances/i1/heartbeat",
            "openstage.cmd.p1.registry.instance.heartbeat",
            {"service_id": "s1", "instance_id": "i1"},
        ),
        (
            "GET",
            "/v4/p1/registry/instances?appId=a&serviceName=s&rev=r1",
            "openstage.cmd.p1.registry.instance.find",
            {"app_id": "a", "service_name": "s", "version": None, "environment": None, "tags": None, "rev": "r1", "consumer_id": "c1"},
        ),
        (
            "GET",
            "/v4/p1/registry/microservices/s1/instances?rev=r1",
            "openstage.cmd.p1.registry.instance.list",
            {"service_id": "s1", "consumer_id": "c1", "tags": None, "rev": "r1"},
        ),
    ],
)
def test_registry_304_keeps_the_revision_header_and_has_no_body(method, path, subject, payload):
    client, nats = edge_answering({"status": 304, "headers": {"X-Resource-Revision": "r1"}})
    response = client.request(method, path, headers={"X-ConsumerId": "c1"})
    assert (response.status_code, response.content, response.headers["x-resource-revision"]) == (304, b"", "r1")
    assert [s[:2] for s in nats.sent] == [(subject, payload)]


def test_registry_writes_answer_an_empty_body_and_errors_keep_service_center_shape():
    client, nats = edge_answering({"status": 200, "headers": {"Deprecation": "true"}})
    response = client.put("/v4/p1/registry/dependencies", json={"dependencies": []})
    assert (response.status_code, response.content, response.headers["deprecation"]) == (200, b"", "true")
    assert "content-type" not in response.headers
    assert nats.sent[0][0] == "openstage.cmd.p1.registry.dependency.put"
    client, _ = edge_answering(
        {"status": 400, "error": {"status": 400, "error_code": "400012", "error_msg": "Micro-service does not exist", "detail": "s1"}}
    )
    response = client.put("/v4/p1/registry/microservices/s1/instances/i1/heartbeat")
    assert (response.status_code, response.json()) == (
        400,
        {"errorCode": "400012", "errorMessage": "Micro-service does not exist", "detail": "s1"},
    )


def test_config_center_304_has_no_body():
    client, nats = edge_answering({"status": 304})
    response = client.get("/v3/p1/configuration/items?dimensionsInfo=svc%40app%231.0.0&revision=r1")
    assert (response.status_code, response.content) == (304, b"")
    assert nats.sent[0][0] == "openstage.cmd.p1.config.item.query"


def test_a_malformed_reply_is_an_internal_error():
    client, _ = edge_answering({"status": "not a status"})
    response = client.get("/v2/p1/cas/environments/e1")
    assert response.status_code == 500 and response.json()["error_msg"] == "internal error"


def test_a_route_that_declares_no_command_cannot_forward():
    async def undeclared_route(): ...

    with pytest.raises(RuntimeError, match="declares none"):
        route_command(undeclared_route)
