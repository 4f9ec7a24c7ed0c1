"""The one mapping of a worker's Reply to HTTP (api_edge/reply_responses.py), per API family."""

from __future__ import annotations

import orjson
import pytest

from api_edge.reply_responses import reply_response, result_response
from services.contracts.envelope import ErrorBody, Reply, reply_with_json, split_success
from workers.registry import replies as registry_replies

V2 = "/v2/p1/cas/environments"
SC = "/v4/p1/registry/microservices"
CONFIG_CENTER = "/v3/p1/configuration/items"


def _parts(response) -> tuple[int, dict[str, str], bytes]:
    return response.status_code, dict(response.headers), response.body


def test_a_result_is_json_in_both_families():
    for path in (V2, SC, CONFIG_CENTER):
        status, headers, body = _parts(reply_response(path, Reply(status=201, result={"id": "a", "n": [1]})))
        assert (status, body) == (201, b'{"id":"a","n":[1]}')
        assert headers == {"content-length": "18", "content-type": "application/json"}


def test_no_result_is_an_empty_object_in_v2_and_an_empty_body_in_service_center():
    assert _parts(reply_response(V2, Reply(status=200))) == (200, {"content-length": "2", "content-type": "application/json"}, b"{}")
    assert _parts(reply_response(SC, Reply(status=200, headers={"Deprecation": "true"}))) == (
        200,
        {"content-length": "0", "deprecation": "true"},
        b"",
    )


@pytest.mark.parametrize("path", [V2, SC, CONFIG_CENTER])
@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_body_and_keep_the_reply_headers(path, status):
    response = reply_response(path, Reply(status=status, result={"ignored": True}, headers={"X-Resource-Revision": "r1"}))
    assert _parts(response) == (status, {"x-resource-revision": "r1"}, b"")


def test_an_error_has_its_family_shape_and_keeps_the_reply_headers():
    err = ErrorBody(status=404, error_code="400012", error_msg="Micro-service does not exist", detail="s1")
    status, headers, body = _parts(reply_response(SC, Reply(status=404, error=err, headers={"X-Schema-Summary": "x"})))
    assert (status, body) == (404, b'{"errorCode":"400012","errorMessage":"Micro-service does not exist","detail":"s1"}')
    assert headers["x-schema-summary"] == "x" and headers["content-type"] == "application/json"
    v2 = ErrorBody(status=409, error_code="SVCSTG.00100409", error_msg="exists")
    assert _parts(reply_response(V2, Reply(status=409, error=v2)))[2] == b'{"error_code":"SVCSTG.00100409","error_msg":"exists"}'


# Successful replies as each of their writers writes them: the edge forwards their result undecoded
# (envelope.split_success, reply_responses.result_response) and must answer what decoding would.
_WRITTEN = [
    Reply(status=201, result={"id": "a", "n": [1, {"b": None}], "s": 'é"}'}).model_dump_json().encode(),
    Reply(status=200).model_dump_json().encode(),
    Reply(status=304, headers={"X-Resource-Revision": "r1"}).model_dump_json().encode(),
    reply_with_json(b'{"instances":[{"instanceId":"i"}]}', headers={"X-Resource-Revision": "r2"}),
    reply_with_json(b"[]", status=201),
    registry_replies.OK_EMPTY,
    registry_replies.reply({"instanceId": "i1"}, headers={"Deprecation": "true"}),
    registry_replies.reply(status=304, headers={"X-Resource-Revision": "r3"}),
]


@pytest.mark.parametrize("path", [V2, SC])
@pytest.mark.parametrize("data", _WRITTEN)
def test_a_successful_reply_forwarded_undecoded_answers_as_the_decoded_one(path, data):
    split = split_success(data)
    assert split is not None
    undecoded, decoded = result_response(path, *split), reply_response(path, Reply.model_validate(orjson.loads(data)))
    assert (undecoded.status_code, dict(undecoded.headers)) == (decoded.status_code, dict(decoded.headers))
    assert (orjson.loads(undecoded.body) if undecoded.body else None) == (orjson.loads(decoded.body) if decoded.body else None)


def test_the_result_is_forwarded_as_the_worker_wrote_it():
    assert split_success(reply_with_json(b'{"a": 1.0}')) == (200, None, b'{"a": 1.0}')
    assert split_success(registry_replies.reply(status=304, headers={"X-Resource-Revision": "r"})) == (
        304,
        {"X-Resource-Revision": "r"},
        b"null",
    )


@pytest.mark.parametrize(
    "data",
    [
        Reply(status=404, error=ErrorBody(status=404, error_code="E", error_msg="m")).model_dump_json().encode(),
        registry_replies.failure(ValueError("boom")),
        b'{"status":200,"headers":{"X":"a}"},"result":1}',  # a brace in a header: decoded instead
        b'{"result":1,"status":200}',  # other key orders
        b'{"status":200,"result":{"a":1},"headers":{"X":"y"}}',
        b'{"status":200,"result":[1],"error":null,"headers":null}',  # as an earlier version wrote a Reply
        b"not json",
        b'{"status":200,"result":1',
    ],
)
def test_anything_else_is_left_to_the_decoding(data):
    assert split_success(data) is None
