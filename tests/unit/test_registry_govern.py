"""Service-Center's governance views as pure functions (services/domain/registry/govern.py) and the
WebSocket heartbeat's renewal period (api_edge/routers/registry.py)."""

from __future__ import annotations

from api_edge.routers.registry import ws_heartbeat_period
from services.domain.registry import govern as g


def svc(sid: str, name: str, app: str = "shop", env: str = "", version: str = "1.0.0", **extra) -> dict:
    return {"serviceId": sid, "serviceName": name, "appId": app, "environment": env, "version": version, **extra}


def test_options_and_properties():
    assert g.parse_options("all") == (list(g.DEFAULT_OPTIONS), True)
    assert g.parse_options("instances,statistics,bogus") == (["instances"], True)
    assert g.parse_options(None) == ([], False)
    assert g.parse_properties(["a:1", "b", "c:x:y"]) == {"a": "1", "b": "", "c": "x:y"}


def test_statistics_count_services_without_version_and_hide_globals():
    services = [
        svc("a1", "order"),
        svc("a2", "order", version="2.0.0"),
        svc("b", "web", app="site"),
        svc("sc", "SERVICECENTER", app="default"),
    ]
    st = g.statistics(services, ["a1", "a1", "sc"], with_shared=False)
    assert st == {"services": {"count": 2, "onlineCount": 1}, "instances": {"count": 2, "countByDomain": 2}, "apps": {"count": 2}}
    assert g.statistics([], [], False) == {"services": {}, "instances": {}, "apps": {}}
    assert g.statistics(services, ["sc"], with_shared=True)["services"] == {"count": 3, "onlineCount": 1}


def test_filters_and_graph():
    services = [svc("a", "order", properties={"k": "v"}), svc("b", "web"), svc("sc", "SERVICECENTER", app="default")]
    assert [s["serviceId"] for s in g.filter_services(services)] == ["a", "b"]
    assert [s["serviceId"] for s in g.filter_services(services, properties={"k": "v"})] == ["a"]
    assert [s["serviceId"] for s in g.filter_services(services, with_shared=True, app_id="default")] == ["sc"]
    graph = g.graph(services[:2], {"b": [services[0], services[1], services[2]]}, with_shared=False)
    assert [(line["from"]["id"], line["to"]["id"]) for line in graph["lines"]] == [("b", "a")]
    assert graph["circles"] is None and len(graph["nodes"]) == 2
    assert g.detail(svc("a", "order"), tags={}, instances=[], instance_count=0) == {
        "microService": svc("a", "order"),
        "statics": {"instances": {}},
    }


def test_websocket_heartbeat_period():
    assert ws_heartbeat_period({"healthCheck": {"interval": 5}}) == 5
    assert ws_heartbeat_period({"healthCheck": {"interval": 0.1}}) == 1
    assert ws_heartbeat_period({"healthCheck": {"interval": 600}}) == 30
    assert ws_heartbeat_period(None) == 30 and ws_heartbeat_period({"healthCheck": {"interval": "x"}}) == 30
