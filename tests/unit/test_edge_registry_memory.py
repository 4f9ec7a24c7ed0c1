"""The edge's memory of registry answers (api_edge/registry_memory.py) and how the raw-ASGI
routes use it (api_edge/raw_asgi_routes.py): what is answered without a worker, and what makes
the edge ask a worker again."""

from __future__ import annotations

import orjson

from api_edge.registry_memory import MAX_ENTRIES, EdgeRegistryMemory
from tests.support.edge_with_recording_bus import edge_answering

FIND = (b"appId=a&serviceName=s", None)
REGISTRATION = ("/v4/p/registry/microservices/s1/instances", b'{"instance":{}}')


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_find_is_answered_until_its_project_changes():
    memory = EdgeRegistryMemory()
    memory.keep_find("p", FIND, memory.generation("p"), 200, {"X-Resource-Revision": "r1"}, b'{"instances":[]}')
    kept = memory.find("p", FIND)
    assert kept is not None and (kept.status, kept.headers, kept.result) == (200, {"X-Resource-Revision": "r1"}, b'{"instances":[]}')
    assert memory.find("other", FIND) is None
    assert memory.find("p", (b"appId=a&serviceName=t", None)) is None

    memory.apply_event("other", "instance", "registered", {})
    assert memory.find("p", FIND) is not None  # another project's event
    memory.apply_event("p", "tag", "updated", {})
    assert memory.find("p", FIND) is None


def test_an_answer_computed_while_the_project_changed_is_not_kept():
    memory = EdgeRegistryMemory()
    before = memory.generation("p")
    memory.keep_live("p", "s1", "i1", before)
    memory.changed("p")  # an event, or a write through this edge, while the next answers were computed
    memory.keep_find("p", FIND, before, 200, None, b"{}")
    memory.keep_live("p", "s1", "i2", before)
    assert memory.find("p", FIND) is None
    assert not memory.is_live("p", "s1", "i1") and not memory.is_live("p", "s1", "i2")
    memory.keep_live("p", "s1", "i2", memory.generation("p"))
    assert memory.is_live("p", "s1", "i2")


def test_everything_is_dropped_when_events_may_have_been_missed():
    memory = EdgeRegistryMemory()
    for project in ("p", "q"):
        memory.keep_live(project, "s1", "i1", memory.generation(project))
    memory.clear()
    assert not memory.is_live("p", "s1", "i1") and not memory.is_live("q", "s1", "i1")


def test_what_is_kept_ages_out():
    clock = Clock()
    memory = EdgeRegistryMemory(clock=clock, max_age=30.0)
    memory.keep_find("p", FIND, 0, 200, None, b"{}")
    memory.keep_live("p", "s1", "i1", 0)
    memory.keep_registration("p", REGISTRATION, 0, "s1", 200, None, b'{"instanceId":"i1"}')
    clock.now += 30.0
    assert memory.find("p", FIND) is not None and memory.is_live("p", "s1", "i1")
    assert memory.registration("p", REGISTRATION) is not None
    clock.now += 0.5
    assert memory.find("p", FIND) is None and not memory.is_live("p", "s1", "i1")
    assert memory.registration("p", REGISTRATION) is None


def test_memory_is_bounded():
    memory = EdgeRegistryMemory()
    for n in range(MAX_ENTRIES):
        memory.keep_live("p", "s", str(n), memory.generation("p"))
    assert memory.is_live("p", "s", "0")
    memory.keep_live("p", "s", "one more", memory.generation("p"))  # full: everything is dropped
    assert not memory.is_live("p", "s", "0") and not memory.is_live("p", "s", "one more")
    memory.keep_live("p", "s", "one more", memory.generation("p"))
    assert memory.is_live("p", "s", "one more")


def test_a_registration_is_kept_with_its_instance_only_when_it_succeeded():
    memory = EdgeRegistryMemory()
    memory.keep_registration("p", REGISTRATION, 0, "s1", 200, None, b'{"instanceId":"i1"}')
    kept = memory.registration("p", REGISTRATION)
    assert kept is not None and kept.instance == ("s1", "i1") and kept.answer.result == b'{"instanceId":"i1"}'
    other = ("/v4/p/registry/microservices/s1/instances", b'{"instance":{"x":1}}')
    for status, result in ((200, b"null"), (200, b'{"instanceId":""}'), (200, b"[1]"), (201, b'{"instanceId":"i2"}')):
        memory.keep_registration("p", other, memory.generation("p"), "s1", status, None, result)
        assert memory.registration("p", other) is None


def test_the_same_registration_passed_on_again_keeps_its_answer_and_nothing_else():
    memory = EdgeRegistryMemory()
    memory.keep_registration("p", REGISTRATION, 0, "s1", 200, None, b'{"instanceId":"i1"}')
    memory.keep_find("p", FIND, 0, 200, None, b"{}")
    memory.changed("p", REGISTRATION)
    assert memory.registration("p", REGISTRATION) is not None
    assert memory.find("p", FIND) is None
    memory.changed("p")
    assert memory.registration("p", REGISTRATION) is None


def test_only_the_same_registration_between_keeps_an_answer_keepable():
    memory = EdgeRegistryMemory()
    memory.changed("p", REGISTRATION)  # this registration passed on
    since = memory.generation("p")
    assert memory.changed_only_by("p", since, REGISTRATION)
    memory.changed("p", REGISTRATION)  # the same registration from another instance of the client
    assert memory.changed_only_by("p", since, REGISTRATION)
    memory.changed("p")  # anything else
    assert not memory.changed_only_by("p", since, REGISTRATION)
    memory.changed("p", REGISTRATION)
    assert not memory.changed_only_by("p", since, REGISTRATION)
    assert memory.changed_only_by("p", memory.generation("p"), None)


# --- through the edge (its bus replaced by a recorder: no worker, no events) ----------------------
FIND_PATH = "/v4/p/registry/instances?appId=a&serviceName=s"
BEAT_PATH = "/v4/p/registry/microservices/s1/instances/i1/heartbeat"


def _actions(nats) -> list[str]:
    return [subject.rsplit(".registry.", 1)[1] for subject, _, _ in nats.sent]


def test_the_edge_asks_a_worker_again_after_a_registry_write_it_passed_on():
    client, nats = edge_answering({"status": 200, "headers": {"X-Resource-Revision": "r1"}, "result": {"instances": []}})
    first, second = client.get(FIND_PATH), client.get(FIND_PATH)
    assert _actions(nats) == ["instance.find"]
    for answer in (first, second):
        assert answer.status_code == 200 and answer.json() == {"instances": []}
        assert answer.headers["X-Resource-Revision"] == "r1"
    assert client.get(FIND_PATH + "&rev=r0").status_code == 200  # another query: asked
    assert _actions(nats) == ["instance.find"] * 2

    client.put("/v4/p/registry/microservices/s1/instances/i1/status?value=DOWN")  # a write FastAPI answers
    client.get(FIND_PATH)
    client.get("/v4/other/registry/instances?appId=a&serviceName=s")
    client.get(FIND_PATH)
    assert _actions(nats) == ["instance.find"] * 2 + ["instance.update_status", "instance.find", "instance.find"]


def test_heartbeats_answered_by_the_edge_reach_a_worker_in_a_batch():
    client, nats = edge_answering({"status": 200})
    with client:
        for _ in range(5):
            assert client.put(BEAT_PATH).status_code == 200
        assert client.put("/v4/p/registry/microservices/s1/instances/i2/heartbeat").status_code == 200
        assert client.put("/v4/p/registry/microservices/s1/instances/i2/heartbeat").status_code == 200
        assert _actions(nats) == ["instance.heartbeat", "instance.heartbeat"]
    # the pending batch leaves at the latest when the edge stops
    assert _actions(nats) == ["instance.heartbeat", "instance.heartbeat", "instance.heartbeat_many"]
    sent = nats.sent[-1][1]["body"]["instances"]
    assert sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in sent) == [
        b'{"instanceId":"i1","serviceId":"s1"}',
        b'{"instanceId":"i2","serviceId":"s1"}',
    ]


def test_without_the_memory_every_heartbeat_and_find_goes_to_a_worker():
    client, nats = edge_answering({"status": 200}, edge_registry_memory=False)
    for _ in range(2):
        client.put(BEAT_PATH)
        client.get(FIND_PATH)
    assert _actions(nats) == ["instance.heartbeat", "instance.find"] * 2
