"""The raw-ASGI routes (api_edge/raw_asgi_routes.py) answer exactly as the FastAPI routes they stand
for: the same requests, good and bad, sent to the edge as it runs and to the same edge without its
raw-ASGI layer, give the same status, headers and body bytes, and send the same command (subject
and payload) to the workers. The workers' side is a recorder with a fixed reply
(tests/support/edge_with_recording_bus.py); tests/integration/test_raw_asgi_same_answers.py does
the same against the real workers."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from api_edge.app import create_app
from api_edge.raw_asgi_routes import RawAsgiRoutes, match
from services.settings import Settings
from tests.support.bodies import COMPONENT_BODY, ENVIRONMENT_BODY, INSTANCE_BODY
from tests.support.edge_with_recording_bus import TOKEN, RecordingNats

REGISTRY_LIMIT = 4096
NEW_ENV = ENVIRONMENT_BODY
NEW_COMPONENT = {**COMPONENT_BODY, "name": "web"}
NEW_INSTANCE = INSTANCE_BODY
ENV = "/v2/p1/cas/environments"
APP = "/v2/p1/cas/applications"
INST = f"{APP}/app-1/components/c-1/instances"
REGISTER = "/v4/p1/registry/microservices/s1/instances"
INSTANCE = {"instance": {"hostName": "h1", "endpoints": ["rest://127.0.0.1:8080"]}}

# (method, path, query, body, served raw: the raw-ASGI layer answers it itself)
REQUESTS: list[tuple[str, str, str, bytes | None, bool]] = [
    # registration
    ("POST", REGISTER, "", orjson.dumps(INSTANCE), True),
    ("POST", REGISTER, "", orjson.dumps({"instance": {"instanceId": "i1", "hostName": "h", "endpoints": []}}), True),
    ("POST", "/v4/p1/registry/microservices/s%201/instances", "", orjson.dumps(INSTANCE), True),
    ("POST", REGISTER, "", b"", False),
    ("POST", REGISTER, "", b"   ", False),
    ("POST", REGISTER, "", b"{", False),
    ("POST", REGISTER, "", b"\xff\xfe", False),
    ("POST", REGISTER, "", b"[]", False),
    ("POST", REGISTER, "", b'{"instance": 5}', False),
    ("POST", REGISTER, "", b'{"instance": {"hostName": 7}}', False),
    ("POST", REGISTER, "", b'{"instance": {"hostName": "h", "unknown": [1]}, "more": 1}', True),
    ("POST", REGISTER, "", b"[" * 80 + b"]" * 80, False),  # nests too deep (AuthMiddleware)
    ("POST", REGISTER, "", b'{"x": "' + b"a" * REGISTRY_LIMIT + b'"}', False),  # too large (AuthMiddleware)
    ("POST", REGISTER + "/", "", orjson.dumps(INSTANCE), False),
    ("POST", "/v4/p1/registry/microservices//instances", "", orjson.dumps(INSTANCE), False),
    ("PUT", REGISTER, "", orjson.dumps(INSTANCE), False),
    # environment details
    ("GET", f"{ENV}/env-1", "", None, True),
    ("GET", f"{ENV}/env_2", "x=1", None, True),
    ("GET", f"{ENV}/bad$id", "", None, False),
    ("GET", f"{ENV}/{'a' * 65}", "", None, False),
    ("GET", f"{ENV}/a%2Fb", "", None, False),
    ("GET", f"{ENV}/env-1/", "", None, False),
    ("HEAD", f"{ENV}/env-1", "", None, False),
    # environment list
    ("GET", ENV, "", None, True),
    ("GET", ENV, "limit=10", None, True),
    ("GET", ENV, "limit=10&offset=20&order_by=name&order=asc", None, True),
    ("GET", ENV, "limit=0&order_by=update_time&order=desc", None, True),
    ("GET", ENV, "limit=1&limit=100", None, True),
    ("GET", ENV, "limit=100&limit=1", None, True),
    ("GET", ENV, "limit=+7&offset=0010", None, True),
    ("GET", ENV, "name=x&limit=5&extra=1&extra=2", None, True),
    ("GET", ENV, "limit=101", None, False),
    ("GET", ENV, "limit=-1", None, False),
    ("GET", ENV, "limit=abc", None, False),
    ("GET", ENV, "limit=", None, False),
    ("GET", ENV, "limit=1.5", None, False),
    ("GET", ENV, "limit=5&limit=500", None, False),
    ("GET", ENV, "offset=-1", None, False),
    ("GET", ENV, "order_by=bogus", None, False),
    ("GET", ENV, "order=up", None, False),
    ("GET", ENV, "limit=x&offset=y&order_by=z&order=w", None, False),
    ("GET", ENV + "/", "", None, False),
    # application and component details
    ("GET", f"{APP}/app-1", "", None, True),
    ("GET", f"{APP}/bad.id", "", None, False),
    ("GET", f"{APP}/app-1/components/c-1", "", None, True),
    ("GET", f"{APP}/app-1/components/bad.id", "", None, False),
    ("GET", f"{APP}/bad.id/components/c-1", "", None, False),
    ("GET", f"{APP}/app-1/components/overviews", "", None, False),
    ("GET", f"{APP}/app-1/components/", "", None, False),
    # application and component lists
    ("GET", APP, "", None, True),
    ("GET", APP, "limit=10&offset=2&order_by=name&order=asc", None, True),
    ("GET", APP, "limit=100&limit=1&other=x", None, True),
    ("GET", APP, "limit=101", None, False),
    ("GET", APP, "order_by=bogus", None, False),
    ("GET", APP + "/", "", None, False),
    ("GET", f"{APP}/app-1/components", "", None, True),
    ("GET", f"{APP}/app-1/components", "limit=5&order_by=update_time&order=asc", None, True),
    ("GET", f"{APP}/app-1/components", "application_id=other&limit=5", None, True),
    ("GET", f"{APP}/app-1/components", "limit=-1", None, False),
    ("GET", f"{APP}/app-1/components", "order=up", None, False),
    ("GET", f"{APP}/bad.id/components", "", None, False),
    # instance lists and details
    ("GET", INST, "", None, True),
    ("GET", INST, "limit=10&offset=1&order_by=name&order=asc", None, True),
    ("GET", INST, "limit=", None, False),
    ("GET", INST, "limit=200", None, False),
    ("GET", INST, "order_by=version", None, False),
    ("GET", INST + "/", "", None, False),
    ("GET", f"{INST}/i-1", "", None, True),
    ("GET", f"{INST}/bad.id", "", None, False),
    ("GET", f"{APP}/app-1/components/bad.id/instances/i-1", "", None, False),
    ("GET", f"{INST}/i-1/snapshots", "", None, False),
    ("GET", f"{INST}/i-1/", "", None, False),
    # job details
    ("GET", "/v2/p1/cas/jobs/JOB123", "", None, True),
    ("GET", "/v2/p1/cas/jobs/JOB123", "limit=10&offset=2&desc=true&instance_id=i-1", None, True),
    ("GET", "/v2/p1/cas/jobs/JOB123", "limit=1001", None, False),
    ("GET", "/v2/p1/cas/jobs/JOB123", "desc=maybe", None, False),
    ("GET", "/v2/p1/cas/jobs/JOB123", f"offset={10**30}", None, False),
    ("GET", "/v2/p1/cas/jobs/%20", "", None, False),
    ("GET", "/v2/p1/cas/jobs/", "", None, False),
    ("GET", "/v2/p1/cas/jobs/JOB123/", "", None, False),
    # creates without a content type: FastAPI does not decode them (strict_content_type), the route refuses them
    ("POST", ENV, "", orjson.dumps(NEW_ENV), False),
    ("POST", ENV, "x=1", orjson.dumps({**NEW_ENV, "unknown": 1}), False),
    ("POST", ENV, "", orjson.dumps({**NEW_ENV, "name": "1bad"}), False),
    ("POST", ENV, "", orjson.dumps({"name": "dev"}), False),
    ("POST", ENV, "", b"", False),
    ("POST", ENV, "", b"{", False),
    ("POST", ENV, "", b'{"name": NaN}', False),
    ("POST", ENV, "", b"[]", False),
    ("POST", ENV + "/", "", orjson.dumps(NEW_ENV), False),
    ("POST", APP, "", orjson.dumps({"name": "shop", "description": "d"}), False),
    ("POST", APP, "", orjson.dumps({"name": ""}), False),
    ("POST", APP, "", orjson.dumps({"name": "shop", "description": 5}), False),
    ("POST", f"{APP}/app-1/components", "", orjson.dumps(NEW_COMPONENT), False),
    ("POST", f"{APP}/app-1/components", "", orjson.dumps({**NEW_COMPONENT, "runtime": "Nope"}), False),
    ("POST", f"{APP}/app-1/components", "", orjson.dumps({**NEW_COMPONENT, "source": None}), False),
    ("POST", f"{APP}/bad.id/components", "", orjson.dumps(NEW_COMPONENT), False),
    ("POST", f"{APP}/app-1/components/c-1", "", orjson.dumps(NEW_COMPONENT), False),
    ("POST", INST, "", orjson.dumps(NEW_INSTANCE), False),
    ("POST", INST, "", orjson.dumps({**NEW_INSTANCE, "replica": 0}), False),
    ("POST", INST, "", b"{", False),
    ("POST", INST + "/", "", orjson.dumps(NEW_INSTANCE), False),
]
# (path, content type, body, served raw): creates with a content type
TYPED_CREATES: list[tuple[str, str, bytes, bool]] = [
    (ENV, "application/json", orjson.dumps(NEW_ENV), True),
    (ENV, "application/json; charset=utf-8", orjson.dumps(NEW_ENV), True),
    (ENV, "application/merge-patch+json", orjson.dumps(NEW_ENV), True),
    (ENV, "text/plain", orjson.dumps(NEW_ENV), False),
    (ENV, "application/x-www-form-urlencoded", b"name=dev", False),
    (ENV, "multipart/form-data; boundary=x", orjson.dumps(NEW_ENV), False),
    (APP, "application/xml", orjson.dumps({"name": "shop"}), False),
    (APP, "Application/JSON", orjson.dumps({"name": "shop"}), True),
    (ENV, "application/json", orjson.dumps({**NEW_ENV, "unknown": 1}), True),
    (ENV, "application/json", orjson.dumps({**NEW_ENV, "name": "1bad"}), False),
    (ENV, "application/json", orjson.dumps({"name": "dev"}), False),
    (ENV, "application/json", b"", False),
    (ENV, "application/json", b"{", False),
    (ENV, "application/json", b'{"name": NaN}', False),
    (ENV, "application/json", b"[]", False),
    (ENV + "/", "application/json", orjson.dumps(NEW_ENV), False),
    (APP, "application/json", orjson.dumps({"name": "shop", "description": "d"}), True),
    (APP, "application/json", orjson.dumps({"name": ""}), False),
    (APP, "application/json", orjson.dumps({"name": "shop", "description": 5}), False),
    (f"{APP}/app-1/components", "application/json", orjson.dumps(NEW_COMPONENT), True),
    (f"{APP}/app-1/components", "application/json", orjson.dumps({**NEW_COMPONENT, "runtime": "Nope"}), False),
    (f"{APP}/app-1/components", "application/json", orjson.dumps({**NEW_COMPONENT, "source": None}), True),
    (f"{APP}/app-1/components", "application/json", orjson.dumps({**NEW_COMPONENT, "name": "1bad"}), False),
    (f"{APP}/bad.id/components", "application/json", orjson.dumps(NEW_COMPONENT), False),
    (f"{APP}/app-1/components/c-1", "application/json", orjson.dumps(NEW_COMPONENT), False),
    # component instances
    (INST, "application/json", orjson.dumps(NEW_INSTANCE), True),
    (INST, "application/json; charset=utf-8", orjson.dumps(NEW_INSTANCE), True),
    (INST, "text/plain", orjson.dumps(NEW_INSTANCE), False),
    (INST, "application/json", orjson.dumps({**NEW_INSTANCE, "unknown": 1, "artifacts": None, "description": "d"}), True),
    (INST, "application/json", orjson.dumps({k: v for k, v in NEW_INSTANCE.items() if k != "refer_resources"}), False),
    (INST, "application/json", orjson.dumps({**NEW_INSTANCE, "name": "1bad"}), False),
    (INST, "application/json", orjson.dumps({**NEW_INSTANCE, "replica": 0}), False),
    (INST, "application/json", orjson.dumps({**NEW_INSTANCE, "version": "one"}), False),
    (INST, "application/json", orjson.dumps({**NEW_INSTANCE, "environment_id": "bad.id"}), False),
    (INST, "application/json", orjson.dumps({k: v for k, v in NEW_INSTANCE.items() if k != "environment_id"}), False),
    (INST, "application/json", orjson.dumps({**NEW_INSTANCE, "artifacts": {"web": 5}}), False),
    (INST, "application/json", b"", False),
    (INST, "application/json", b"{", False),
    (INST, "application/json", b"[]", False),
    (INST, "application/json", b'{"name": NaN}', False),
    (INST + "/", "application/json", orjson.dumps(NEW_INSTANCE), False),
    (f"{APP}/bad.id/components/c-1/instances", "application/json", orjson.dumps(NEW_INSTANCE), False),
    (f"{APP}/app-1/components/bad.id/instances", "application/json", orjson.dumps(NEW_INSTANCE), False),
    (f"{INST}/i-1", "application/json", orjson.dumps(NEW_INSTANCE), False),
    (f"{APP}/app-1/components/c-1/other", "application/json", orjson.dumps(NEW_INSTANCE), False),
]

REPLIES = {
    "v2 result": {"status": 200, "result": {"id": "env-1", "name": "dev", "nested": {"a": [1, 2.5, None, "é"]}}},
    "v2 not found": {"status": 404, "error": {"error_code": "SVCSTG.00100411", "error_msg": "environment env-1 does not exist"}},
    "registry created": {"status": 200, "result": {"instanceId": "i-123"}, "headers": {"X-Resource-Revision": "r1"}},
    "registry refused": {"status": 400, "error": {"error_code": "400001", "error_msg": "Invalid parameter(s)", "detail": "endpoints"}},
    "no result": {"status": 200},
    "no body": {"status": 304, "headers": {"X-Resource-Revision": "r2"}},
}


def _client(reply: dict, raw: bool) -> tuple[TestClient, RecordingNats]:
    settings = Settings(
        nats_url=None, tokens=orjson.dumps([{"token": TOKEN, "projects": ["*"]}]).decode(), registry_max_body_bytes=REGISTRY_LIMIT
    )
    app = create_app(settings)
    if not raw:  # the same edge without its raw-ASGI layer: every request goes through FastAPI's routes
        app.user_middleware = [m for m in app.user_middleware if m.cls is not RawAsgiRoutes]
    nats = RecordingNats(reply)
    app.state.bus.nc = nats
    return TestClient(app, headers={"X-Auth-Token": TOKEN}), nats


def _answer(client: TestClient, method: str, path: str, query: str, body: bytes | None, content_type: str | None = None):
    url = f"{path}?{query}" if query else path
    response = client.request(method, url, content=body, headers={"Content-Type": content_type} if content_type else None)
    return response.status_code, sorted(response.headers.multi_items()), response.content


@pytest.mark.parametrize("reply_name", list(REPLIES))
def test_every_request_is_answered_as_the_fastapi_route_answers_it(reply_name):
    reply = REPLIES[reply_name]
    raw_client, raw_nats = _client(reply, raw=True)
    api_client, api_nats = _client(reply, raw=False)
    for method, path, query, body, _ in REQUESTS:
        raw_nats.sent.clear()
        api_nats.sent.clear()
        raw_answer = _answer(raw_client, method, path, query, body)
        api_answer = _answer(api_client, method, path, query, body)
        assert raw_answer == api_answer, (method, path, query, body)
        assert raw_nats.sent == api_nats.sent, (method, path, query, body)


@pytest.mark.parametrize("reply_name", ["v2 result", "v2 not found"])
def test_creates_with_a_content_type_are_answered_as_the_fastapi_route_answers_them(reply_name):
    raw_client, raw_nats = _client(REPLIES[reply_name], raw=True)
    api_client, api_nats = _client(REPLIES[reply_name], raw=False)
    for path, content_type, body, served_raw in TYPED_CREATES:
        raw_nats.sent.clear()
        api_nats.sent.clear()
        assert _answer(raw_client, "POST", path, "", body, content_type) == _answer(api_client, "POST", path, "", body, content_type)
        assert raw_nats.sent == api_nats.sent, (path, content_type)
        call = match("POST", path, b"", [(b"content-type", content_type.encode())])
        try:
            taken = call is not None and call.from_body is not None and call.from_body(body, "caller") is not None
        except Exception:
            taken = False
        assert taken == served_raw, (path, content_type)


def test_the_table_has_requests_of_both_ways_and_each_goes_the_way_it_says():
    """Good requests are answered by the raw-ASGI layer itself, refused ones by the route."""
    for method, path, query, body, served_raw in REQUESTS:
        call = match(method, path.replace("%20", " ").replace("%2F", "/"), query.encode())
        if call is not None and call.from_body is not None:
            try:
                call.from_body(body or b"", "caller")
            except Exception:
                call = None
        # (bodies the AuthMiddleware refuses never reach the raw-ASGI layer)
        too_big_or_deep = body is not None and (len(body) > REGISTRY_LIMIT or body.startswith(b"[["))
        assert (call is not None and not too_big_or_deep) == served_raw, (method, path, query)


def test_a_bus_that_is_down_is_answered_alike():
    answers = []
    for raw in (True, False):
        client, _ = _client(REPLIES["v2 result"], raw=raw)
        client.app.state.bus.nc = None
        answers.append([_answer(client, "GET", f"{ENV}/env-1", "", None), _answer(client, "POST", REGISTER, "", orjson.dumps(INSTANCE))])
    assert answers[0] == answers[1]
    assert [status for status, _, _ in answers[0]] == [503, 503]
    assert orjson.loads(answers[0][0][2]) == {"error_code": "SVCSTG.00100503", "error_msg": "message bus not connected"}


def test_a_registration_sent_again_is_the_same_command_and_answer():
    """The raw layer keeps a registration's command by (path, body): sent again, and to another
    service with the same body, each answer and command is still the FastAPI route's."""
    raw_client, raw_nats = _client(REPLIES["registry created"], raw=True)
    api_client, api_nats = _client(REPLIES["registry created"], raw=False)
    other = "/v4/p1/registry/microservices/s2/instances"
    for method, path, query, body, _ in [r for r in REQUESTS if r[1] == REGISTER and r[0] == "POST"] * 2 + [
        ("POST", other, "", orjson.dumps(INSTANCE), True)
    ]:
        raw_nats.sent.clear()
        api_nats.sent.clear()
        assert _answer(raw_client, method, path, query, body) == _answer(api_client, method, path, query, body), (path, body)
        assert raw_nats.sent == api_nats.sent, (path, body)
    layer = raw_client.app.middleware_stack
    while layer is not None and not isinstance(layer, RawAsgiRoutes):
        layer = getattr(layer, "app", None)
    assert layer is not None and (REGISTER, orjson.dumps(INSTANCE)) in layer.encoded  # the second sending was kept
