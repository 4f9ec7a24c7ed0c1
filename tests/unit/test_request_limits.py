"""The limits every request body is held to (services/contracts/input_validation.py)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from services.contracts.input_validation import MAX_JSON_DEPTH, json_nesting


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


# strings full of what could fool a bracket counter: brackets, quotes, backslashes
_text = st.text(alphabet=st.sampled_from(list('ab[]{}"\\\n\u00e9 ')), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(_json, st.booleans())
def test_json_nesting_is_the_parsed_depth(value, ensure_ascii):
    assert json_nesting(json.dumps(value, ensure_ascii=ensure_ascii).encode()) == depth(value)


def test_json_nesting_of_hostile_texts():
    assert json_nesting(b"[" * 10_000 + b"]" * 10_000) == 10_000
    assert json_nesting(b'{"a": "[[[[", "b\\\\": [{"c\\"[": []}]}') == 4
    assert json_nesting(b'"' + b'a\\"' * 100_000) == 0  # one unterminated string: still linear
    assert json_nesting(b'"' * 100_001) == 0
    assert json_nesting(json.dumps(list(range(100_000))).encode()) == 1
    assert MAX_JSON_DEPTH < 100  # MongoDB's own nesting limit, with room for the stored document


def test_free_form_values_must_be_storable():
    import pytest
    from pydantic import ValidationError

    from services.contracts.component_instances import Artifact, InstanceConfiguration, ReferResource
    from services.contracts.input_validation import INT64_MAX, INT64_MIN, check_json_value

    assert check_json_value({"a": [INT64_MIN, INT64_MAX, 1.5, True, None, "x"]})
    nested: dict = {}
    node = nested
    for _ in range(MAX_JSON_DEPTH - 1):
        node["a"] = node = {}
    assert check_json_value(nested) is nested  # MAX_JSON_DEPTH levels
    for bad in ({"a": INT64_MAX + 1}, {"a": [[INT64_MIN - 1]]}, {"a": nested}):
        with pytest.raises(ValueError):
            check_json_value(bad)
        # BSON cannot hold such an integer: refused when validated (edge and worker), not a 500 at the store
        with pytest.raises(ValidationError):
            InstanceConfiguration.model_validate(bad)
        with pytest.raises(ValidationError):
            ReferResource.model_validate({"id": "cce-1", "type": "cce", "parameters": bad})
        with pytest.raises(ValidationError):
            Artifact.model_validate({"storage": "swr", "type": "image", "url": "u", "properties": bad})


def test_registry_batches_are_capped_and_errors_do_not_echo_huge_input():
    import pytest

    from services.contracts.registry import BatchFindInstancesRequest, DeleteServicesRequest, HeartbeatSetRequest
    from services.contracts.registry_errors import RegistryError
    from services.domain.registry import validation as v

    def over(limit: int):
        return range(limit + 1)

    b, c = v.MAX_BATCH, v.MAX_BATCH_CLIENT  # DELETE /microservices; the calls go-chassis batches
    requests = [
        (b, v.validate_delete_services, DeleteServicesRequest(service_ids=[f"s{i}" for i in over(b)])),
        (
            c,
            v.validate_heartbeat_set,
            HeartbeatSetRequest.model_validate({"instances": [{"serviceId": "s", "instanceId": f"i{i}"} for i in over(c)]}),
        ),
        (
            c,
            v.validate_batch_find,
            BatchFindInstancesRequest.model_validate(
                {"instances": [{"instance": {"serviceId": "s", "instanceId": f"i{i}"}} for i in over(c)]}
            ),
        ),
        (
            c,
            v.validate_batch_find,
            BatchFindInstancesRequest.model_validate({"services": [{"service": {"appId": "a", "serviceName": f"s{i}"}} for i in over(c)]}),
        ),
    ]
    for limit, validate, request in requests:
        with pytest.raises(RegistryError) as caught:
            validate(request)
        assert f"Max: {limit}" in str(caught.value.detail or caught.value)
        assert len(str(caught.value.detail)) < 1000
    assert len(v.validate_delete_services(DeleteServicesRequest(service_ids=["a"] * v.MAX_BATCH))) == 1


def test_registry_empty_body_is_refused_not_taken_as_an_empty_object():
    import pytest

    from services.contracts.registry import UpdatePropertiesRequest
    from services.contracts.registry_errors import RegistryError
    from services.domain.registry import validation as v

    with pytest.raises(RegistryError) as caught:
        v.parse_body(UpdatePropertiesRequest, None)  # an empty PUT .../properties used to clear them
    assert caught.value.code == "400001"
    assert v.parse_body(UpdatePropertiesRequest, {}).properties is None


def test_a_chunked_body_reaches_the_command_and_a_bodyless_request_is_not_waited_for():
    from tests.support.edge_with_recording_bus import edge_answering

    client, nats = edge_answering({"status": 200, "result": {"serviceId": "s1"}})
    chunks = iter([b'{"service": {"serviceName": "chunked", ', b'"appId": "a", "version": "1.0.0"}}'])
    r = client.post("/v4/p/registry/microservices", content=chunks, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert nats.sent[-1][1]["body"]["service"]["serviceName"] == "chunked"
    # no Content-Length and no Transfer-Encoding: no body (RFC 9112 6.3), answered at once
    assert client.put("/v4/p/registry/microservices/s1/instances/i1/heartbeat").status_code == 200
    assert nats.sent[-1][0].endswith(".registry.instance.heartbeat")
