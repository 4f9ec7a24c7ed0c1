"""The registry's heartbeat and discovery answered in raw ASGI (api_edge/raw_asgi_routes.py): which
requests they take, and that they stand for their FastAPI routes (same command, same payload)."""

import orjson

from api_edge.raw_asgi_routes import match
from api_edge.route_commands import Command, declared_command
from api_edge.routers import registry
from services.contracts.subjects import REGISTRY, Registry


def test_heartbeat_path_is_matched_exactly():
    call = match("PUT", "/v4/p1/registry/microservices/s1/instances/i1/heartbeat")
    assert call is not None
    assert call.project_id == "p1" and call.route is registry.heartbeat
    assert declared_command(call.route) == Command(REGISTRY, Registry.INSTANCE_HEARTBEAT)
    assert orjson.loads(call.command().model_dump_json()) == {"service_id": "s1", "instance_id": "i1"}
    for method, path in [
        ("GET", "/v4/p1/registry/microservices/s1/instances/i1/heartbeat"),
        ("PUT", "/v4/p1/registry/microservices/s1/instances/i1/heartbeats"),
        ("PUT", "/v4/p1/registry/microservices//instances/i1/heartbeat"),
        ("PUT", "/v2/p1/registry/microservices/s1/instances/i1/heartbeat"),
        ("PUT", "/v4/p1/registry/microservices/s1/instances/i1/heartbeat/x"),
        ("POST", "/v4/p1/registry/instances"),
        ("GET", "/v4/p1/registry/instances/x"),
    ]:
        assert match(method, path) is None, (method, path)


def test_discovery_takes_query_values_as_plain_strings_and_the_consumer_header():
    call = match(
        "GET",
        "/v4/p1/registry/instances",
        b"appId=a&serviceName=%7B%22%24gt%22%3A%22%22%7D&version=1.0.0%2B&rev=&appId=b",
        [(b"host", b"x"), (b"x-consumerid", b"c1"), (b"x-consumerid", b"c2")],
    )
    assert call is not None and call.project_id == "p1" and call.route is registry.find_instances
    assert declared_command(call.route) == Command(REGISTRY, Registry.INSTANCE_FIND)
    assert orjson.loads(call.command().model_dump_json()) == {
        "app_id": "b",
        "service_name": '{"$gt":""}',
        "version": "1.0.0+",
        "environment": None,
        "tags": None,
        "rev": "",
        "consumer_id": "c1",
    }
    assert match("GET", "/v4/p1/registry/instances").command().consumer_id is None


def test_the_registry_writes_whose_project_the_edge_forgets():
    from api_edge.raw_asgi_routes import registry_write_project

    for method, path in [
        ("POST", "/v4/p1/registry/microservices"),
        ("POST", "/v4/p1/registry/microservices/s1/instances"),
        ("DELETE", "/v4/p1/registry/microservices/s1/instances/i1"),
        ("PUT", "/v4/p1/registry/microservices/s1/instances/i1/status"),
        ("PUT", "/v4/p1/registry/heartbeats"),
    ]:
        assert registry_write_project(method, path) == "p1", (method, path)
    for method, path in [
        ("GET", "/v4/p1/registry/instances"),
        ("HEAD", "/v4/p1/registry/microservices"),
        ("POST", "/v4/token"),
        ("POST", "/v3/p1/configuration/items"),
        ("POST", "/v2/p1/cas/environments"),
        ("PUT", "/v4//registry/heartbeats"),
        ("PUT", "/v4/p1/govern/x"),
    ]:
        assert registry_write_project(method, path) is None, (method, path)
