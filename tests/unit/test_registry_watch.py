"""Registry watch: which registry events become which Service-Center watch messages (no I/O)."""

from __future__ import annotations

import orjson
import pytest

from api_edge.routers.registry_watch import INSTANCE_ACTIONS, WatchState, parse_event_subject, provider_ids, tenant_of, watch_message
from services.contracts import subjects
from services.contracts.events import CloudEvent

INSTANCE = {
    "instanceId": "i1",
    "serviceId": "p1",
    "endpoints": ["rest://10.0.0.1:8080"],
    "hostName": "h1",
    "status": "UP",
    "healthCheck": {"mode": "push", "interval": 30, "times": 3},
    "timestamp": "1700000000",
    "modTimestamp": "1700000000",
    "version": "1.0.0",
}
SERVICE = {"appId": "shop", "serviceName": "order", "version": "1.0.0", "environment": ""}


def event(project: str, verb: str, instance=INSTANCE, service=SERVICE, entity: str = "instance") -> tuple[str, dict]:
    evt = CloudEvent.new(
        project,
        "registry",
        entity,
        verb,
        resource_path=f"/v4/{project}/registry/microservices/p1/instances/i1",
        data={"serviceId": instance["serviceId"], "instanceId": instance["instanceId"], "instance": instance, "service": service},
    )
    return evt.openstagesubject, orjson.loads(evt.model_dump_json())


def test_actions_follow_service_center():
    assert INSTANCE_ACTIONS == {
        "registered": "CREATE",
        "updated": "UPDATE",
        "status_changed": "UPDATE",
        "deregistered": "DELETE",
        "expired": "DELETE",
    }
    # every instance event the registry emits has an action
    assert set(INSTANCE_ACTIONS) == set(subjects.Registry.INSTANCE_EVENTS)


def test_message_shape_is_watch_instance_response():
    msg = watch_message(
        "registered", {"serviceId": "p1", "instanceId": "i1", "instance": INSTANCE, "service": SERVICE}, tenant_of(None, "proj")
    )
    assert list(msg) == ["action", "key", "instance"]
    assert msg["action"] == "CREATE"
    # Go omitempty: the empty environment is left out; key fields in cari's order
    assert msg["key"] == {"tenant": "default/proj", "appId": "shop", "serviceName": "order", "version": "1.0.0"}
    assert list(msg["key"]) == ["tenant", "appId", "serviceName", "version"]
    assert msg["instance"] == INSTANCE


def test_environment_and_alias_are_in_the_key_when_set():
    msg = watch_message(
        "status_changed",
        {
            "serviceId": "p1",
            "instanceId": "i1",
            "instance": {**INSTANCE, "status": "DOWN"},
            "service": {**SERVICE, "environment": "production", "alias": "o"},
        },
        tenant_of("acme", "proj"),
    )
    assert msg["action"] == "UPDATE" and msg["instance"]["status"] == "DOWN"
    assert msg["key"] == {
        "tenant": "acme/proj",
        "environment": "production",
        "appId": "shop",
        "serviceName": "order",
        "alias": "o",
        "version": "1.0.0",
    }


def test_unknown_verbs_are_not_messages():
    assert watch_message("created", {"instance": INSTANCE, "service": SERVICE}, "default/p") is None
    assert watch_message("heartbeat", {"instance": INSTANCE, "service": SERVICE}, "default/p") is None


def test_unknown_instance_fields_are_dropped_and_ids_filled_from_the_event():
    msg = watch_message(
        "deregistered",
        {"serviceId": "p1", "instanceId": "i9", "instance": {"hostName": "h", "lease": {"ttl": 120}}, "service": SERVICE},
        "default/p",
    )
    assert msg["action"] == "DELETE"
    assert msg["instance"] == {"instanceId": "i9", "serviceId": "p1", "hostName": "h"}


def test_parse_event_subject():
    assert parse_event_subject("openstage.evt.p.registry.instance.registered") == ("p", "registry", "instance", "registered")
    assert parse_event_subject("openstage.evt.p.registry.instance") is None
    assert parse_event_subject("openstage.cmd.p.registry.instance.register") is None


def test_state_forwards_only_instances_of_providers_in_its_project():
    state = WatchState("proj", "consumer", "default/proj", providers={"p1"})
    subject, evt = event("proj", "registered")
    assert state.message_for(subject, evt)["action"] == "CREATE"

    other = {**INSTANCE, "serviceId": "p2"}
    subject, evt = event("proj", "registered", instance=other)
    assert state.message_for(subject, evt) is None  # not a provider
    subject, evt = event("else", "registered")
    assert state.message_for(subject, evt) is None  # another project
    subject, evt = event("proj", "created", entity="service")
    assert state.message_for(subject, evt) is None  # not an instance event

    for verb, action in [("status_changed", "UPDATE"), ("updated", "UPDATE"), ("expired", "DELETE"), ("deregistered", "DELETE")]:
        subject, evt = event("proj", verb)
        assert state.message_for(subject, evt)["action"] == action


def test_state_refreshes_on_dependency_and_service_events():
    state = WatchState("proj", "consumer", "default/proj")
    assert state.needs_refresh("openstage.evt.proj.registry.dependency.changed")
    assert state.needs_refresh("openstage.evt.proj.registry.service.created")
    assert state.needs_refresh("openstage.evt.proj.registry.service.deleted")
    assert not state.needs_refresh("openstage.evt.proj.registry.service.updated")
    assert not state.needs_refresh("openstage.evt.proj.registry.instance.registered")
    assert not state.needs_refresh("openstage.evt.other.registry.dependency.changed")


@pytest.mark.parametrize(
    "result,ids",
    [
        ({}, set()),
        (None, set()),
        ({"providers": []}, set()),
        ({"providers": [{"serviceId": "a", "serviceName": "x"}, {"serviceId": "b"}, {"serviceName": "no-id"}]}, {"a", "b"}),
    ],
)
def test_provider_ids(result, ids):
    assert provider_ids(result) == ids
