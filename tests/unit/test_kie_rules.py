"""ServiceComb-Kie's rules (services/domain/config/kie.py) and the edge's Kie routes with a recording
stand-in for NATS: query parsing, the long poll's bus timeout, and Kie's error shape."""

from __future__ import annotations

import pytest

from services.contracts.kie import KieError
from services.domain.config import kie as rules
from tests.support.edge_with_recording_bus import edge_answering

# --- rules ----------------------------------------------------------------------------------------


def test_labels_are_k_colon_v_and_anything_else_is_400001():
    assert rules.parse_labels(["app:shop", "service:cart"]) == {"app": "shop", "service": "cart"}
    assert rules.parse_labels([]) == {}
    for bad in (["app"], ["a:b:c"], ["app:shop", "x"]):
        with pytest.raises(KieError) as err:
            rules.parse_labels(bad)
        assert (err.value.status, err.value.code, err.value.message) == (400, "400001", "invalid parameter(s)")


@pytest.mark.parametrize(
    "text,seconds",
    [("5s", 5.0), ("100ms", 0.1), ("1m30s", 90.0), ("1.5s", 1.5), ("5m", 300.0), ("0", 0.0), ("0s", 0.0), ("2h", None), ("", None)],
)
def test_wait_is_a_go_duration_of_at_most_five_minutes(text, seconds):
    if seconds is None and text:
        with pytest.raises(KieError):
            rules.parse_wait(text)
    else:
        assert rules.parse_wait(text) == seconds


@pytest.mark.parametrize("bad", ["5", "s", "5x", "-1s", "5m1s", "1e3s"])
def test_a_bad_wait_is_400001(bad):
    with pytest.raises(KieError) as err:
        rules.parse_wait(bad)
    assert err.value.detail.startswith("wait param should be formed")


def test_go_durations():
    assert rules.parse_duration("1h2m3.5s") == 3723.5
    assert rules.parse_duration("-1.5s") == -1.5
    assert rules.parse_duration("250us") == pytest.approx(0.00025)


def test_revision_and_pagination():
    assert rules.parse_revision("") is None and rules.parse_revision("42") == 42
    for bad in ("x", "1.5", "99999999999999999999"):
        with pytest.raises(KieError):
            rules.parse_revision(bad)
    assert rules.parse_pagination("", "") == (0, 0)
    assert rules.parse_pagination("3", "100") == (3, 100)
    for offset, limit in (("-1", ""), ("", "0"), ("", "101"), ("x", ""), ("", "y")):
        with pytest.raises(KieError):
            rules.parse_pagination(offset, limit)


def test_match_is_exact_or_nothing():
    assert rules.match_of("exact") == "exact"
    assert rules.match_of("prefix") == rules.match_of(None) == ""


def test_ids_and_label_format_follow_kie():
    assert rules.label_format({}) == "none"
    assert rules.label_format({"service": "cart", "app": "shop"}) == "app=shop::service=cart"
    same = rules.kv_id("p1", "k", {"a": "1", "b": "2"})
    assert same == rules.kv_id("p1", "k", {"b": "2", "a": "1"}) and len(same) == 64
    assert same != rules.kv_id("p2", "k", {"a": "1", "b": "2"}) != rules.kv_id("p1", "k", {"a": "1"})


def test_labels_match_partially_or_exactly():
    kv = {"app": "shop", "service": "cart"}
    assert rules.labels_match({}, kv, "")
    assert rules.labels_match({"app": "shop"}, kv, "")
    assert not rules.labels_match({"app": "shop"}, kv, "exact")
    assert rules.labels_match(kv, dict(kv), "exact")
    assert not rules.labels_match({"app": "other"}, kv, "")
    assert rules.labels_match({}, {}, "exact") and not rules.labels_match({}, kv, "exact")


def test_key_filters():
    assert rules.key_filter("").matches("anything")
    assert rules.key_filter("a.b").matches("a.b") and not rules.key_filter("a.b").matches("aXb")
    assert rules.key_filter("beginWith(servicecomb.)").matches("ServiceComb.rest")
    assert not rules.key_filter("beginWith(servicecomb.)").matches("servicecombX")
    wild = rules.key_filter("wildcard(*consumer*)")
    assert wild.matches("my.Consumer.timeout") and not wild.matches("provider")
    assert not rules.key_filter("wildcard(a.b)").matches("aXb")  # '.' is literal


def test_select_sorts_newest_first_and_pages():
    kvs = [
        {"id": str(i), "key": f"k{i}", "labels": {"app": "a"}, "status": "enabled" if i % 2 else "disabled", "update_revision": i}
        for i in range(1, 6)
    ]
    total, page = rules.select(kvs, "", {"app": "a"}, "", "", 1, 2)
    assert total == 5 and [kv["key"] for kv in page] == ["k4", "k3"]
    total, page = rules.select(kvs, "", {}, "", "enabled", 0, 0)
    assert total == 3 and [kv["key"] for kv in page] == ["k5", "k3", "k1"]


def test_update_changes_only_what_differs():
    current = {"value": "1", "status": "disabled"}
    assert rules.updated(current, "", "") == {}
    assert rules.updated(current, "1", "disabled") == {}
    assert rules.updated(current, "2", "enabled") == {"value": "2", "status": "enabled"}


def test_a_waiting_list_may_not_filter_by_key():
    rules.check_wait_request("", 5.0)
    rules.check_wait_request("k", None)
    with pytest.raises(KieError):
        rules.check_wait_request("k", 5.0)


# --- the edge's routes ------------------------------------------------------------------------------
def test_list_parses_kies_query_and_long_polls_with_a_longer_bus_timeout():
    client, nats = edge_answering({"status": 200, "result": {"total": 0, "data": []}, "headers": {"X-Kie-Revision": "7"}})
    response = client.get("/v1/p1/kie/kv?label=app:shop&label=service:cart&match=exact&revision=6&wait=30s")
    assert response.status_code == 200 and response.headers["X-Kie-Revision"] == "7"
    subject, payload, timeout = nats.sent[0]
    assert subject == "openstage.cmd.p1.config.kv.list"
    assert payload["labels"] == {"app": "shop", "service": "cart"} and payload["match"] == "exact"
    assert payload["revision"] == 6 and payload["wait_seconds"] == 30.0
    assert timeout > 30.0
    client.get("/v1/p1/kie/kv")
    assert nats.sent[1][2] < 30.0  # no wait: the edge's usual timeout


def test_304_and_204_have_no_body():
    client, _ = edge_answering({"status": 304})
    response = client.get("/v1/p1/kie/kv?revision=3")
    assert (response.status_code, response.content) == (304, b"")
    client, nats = edge_answering({"status": 204})
    response = client.request("DELETE", "/v1/p1/kie/kv", json={"ids": ["a", "b"]})
    assert (response.status_code, response.content) == (204, b"")
    assert nats.sent[0][:2] == ("openstage.cmd.p1.config.kv.delete_many", {"ids": ["a", "b"]})


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/v1/p1/kie/kv?label=app", None),
        ("GET", "/v1/p1/kie/kv?wait=10", None),
        ("GET", "/v1/p1/kie/kv?wait=6m", None),
        ("GET", "/v1/p1/kie/kv?revision=abc", None),
        ("GET", "/v1/p1/kie/kv?limit=0", None),
        ("GET", "/v1/p1/kie/kv?status=maybe", None),
        ("GET", "/v1/p1/kie/kv?key=a&wait=1s", None),
        ("POST", "/v1/p1/kie/kv", {"key": "bad key"}),
        ("POST", "/v1/p1/kie/kv", {"key": "k", "value_type": "exe"}),
        ("POST", "/v1/p1/kie/kv", {"key": "k", "labels": {"$gt": ""}}),
        ("PUT", "/v1/p1/kie/kv/abc", {"status": "on"}),
    ],
)
def test_wrong_input_is_answered_in_kies_error_shape_before_the_bus(method, path, body):
    client, nats = edge_answering({"status": 200})
    response = client.request(method, path, json=body)
    assert response.status_code == 400, response.text
    got = response.json()
    assert set(got) == {"errorCode", "errorMessage", "detail"} and got["errorCode"] == "400001"
    assert nats.sent == []


def test_worker_errors_keep_kies_code():
    reply = {"status": 404, "error": {"status": 404, "error_code": "404001", "error_msg": "record does not exist", "detail": "x"}}
    client, _ = edge_answering(reply)
    response = client.get("/v1/p1/kie/kv/abc")
    assert response.status_code == 404
    assert response.json() == {"errorCode": "404001", "errorMessage": "record does not exist", "detail": "x"}


def test_kie_needs_authentication():
    client, nats = edge_answering({"status": 200})
    response = client.get("/v1/p1/kie/kv", headers={"X-Auth-Token": "wrong"})
    assert response.status_code == 401 and "errorCode" in response.json()
    assert nats.sent == []
