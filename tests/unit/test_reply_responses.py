"""The one mapping of a worker's Reply to HTTP (api_edge/reply_responses.py), per API family."""

from __future__ import annotations

import pytest

from api_edge.reply_responses import reply_response
from services.contracts.envelope import ErrorBody, Reply

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
