import orjson

from api_edge.hot_paths import find_command, match
from services.contracts.subjects import Registry


def test_heartbeat_path_is_matched_exactly():
    hit = match("PUT", "/v4/p1/registry/microservices/s1/instances/i1/heartbeat")
    assert hit is not None
    project, action, cmd = hit
    assert (project, action) == ("p1", Registry.INSTANCE_HEARTBEAT)
    assert orjson.loads(cmd) == {"service_id": "s1", "instance_id": "i1"}
    for method, path in [("GET", "/v4/p1/registry/microservices/s1/instances/i1/heartbeat"),
                         ("PUT", "/v4/p1/registry/microservices/s1/instances/i1/heartbeats"),
                         ("PUT", "/v4/p1/registry/microservices//instances/i1/heartbeat"),
                         ("PUT", "/v2/p1/registry/microservices/s1/instances/i1/heartbeat"),
                         ("PUT", "/v4/p1/registry/microservices/s1/instances/i1/heartbeat/x")]:
        assert match(method, path) is None


def test_find_command_takes_query_values_as_plain_strings():
    cmd = orjson.loads(find_command(b"appId=a&serviceName=%7B%22%24gt%22%3A%22%22%7D&version=1.0.0%2B&rev=", "c1"))
    assert cmd == {"app_id": "a", "service_name": '{"$gt":""}', "version": "1.0.0+", "environment": None,
                   "tags": None, "rev": "", "consumer_id": "c1"}
