"""The registry's record decisions (services/domain/registry/model.py) and the worker's cache rules
(workers/registry/caches.py): pure, no I/O."""

from __future__ import annotations

import pytest

from services.adapters.clock import Clock
from services.contracts import registry_errors as e
from services.domain.registry.model import (
    BatchResult,
    accessible,
    body_revision,
    dependency_matches,
    endpoints_key,
    find_body,
    instance_event_data,
    registration_outcome,
    resolve_rules,
    select_providers,
    with_properties,
    with_schema_id,
    with_status,
)
from services.domain.registry.version_rules import parse_version_rule
from workers.registry.caches import FindEntry, RegistryCaches, dependency_of_find, find_key


def svc(sid, version, name="order", app="shop", env="", **kw):
    return {"serviceId": sid, "serviceName": name, "appId": app, "version": version, "environment": env, **kw}


SERVICES = [svc("a", "1.0.0"), svc("b", "1.5.0"), svc("c", "2.0.0"), svc("x", "9.0.0", name="other", alias="order2")]


def ids(rule, **kw):
    found, out = select_providers(SERVICES, kw.pop("name", "order"), parse_version_rule(rule), **kw)
    return found, [s["serviceId"] for s in out]


class TestRegistration:
    def test_outcomes(self):
        assert registration_outcome(None, None, False) is None
        assert registration_outcome(None, "s1", False) == "s1"
        assert registration_outcome("s1", "s1", True) == "s1"
        assert registration_outcome("mine", None, False) is None
        for args in (("s2", "s1", True), ("s2", None, True)):
            with pytest.raises(e.RegistryError) as info:
                registration_outcome(*args)
            assert info.value.code == e.ERR_SERVICE_ALREADY_EXISTS


class TestSelectProviders:
    def test_version_rules_newest_first(self):
        assert ids("") == (True, ["c", "b", "a"])
        assert ids("latest") == (True, ["c"])
        assert ids("1.5.0+") == (True, ["c", "b"])
        assert ids("1.0.0-2.0.0") == (True, ["b", "a"])
        assert ids("1.5.0") == (True, ["b"])
        assert ids("3.0+") == (True, [])
        assert ids("", name="nope") == (False, [])

    def test_alias_and_tags(self):
        assert ids("", name="order2") == (True, ["x"])
        tags = {"a": {"blue": "1"}, "b": {"blue": "1", "red": "1"}}
        assert ids("", tags=["blue", "red"], service_tags=tags) == (True, ["b"])

    def test_access(self):
        consumer = svc("k", "1.0.0", name="web")
        other_app = svc("o", "1.0.0", app="other")
        assert accessible(None, other_app)
        assert accessible(consumer, svc("p", "1.0"))
        assert not accessible(consumer, other_app)
        assert accessible(consumer, {**other_app, "properties": {"allowCrossApp": "TRUE"}})
        assert not accessible(consumer, svc("p", "1.0", env="production"))
        assert ids("", consumer=svc("k", "1", env="testing")) == (True, [])


class TestResults:
    def test_body_and_revision(self):
        assert find_body([]) == b"{}"
        inst = {"instanceId": "i", "serviceId": "s", "status": "UP"}
        body = find_body([inst])
        assert body == b'{"instances":[{"instanceId":"i","serviceId":"s","status":"UP"}]}'
        assert body_revision(body) == body_revision(find_body([dict(inst)]))
        assert body_revision(body) != body_revision(find_body([with_status(inst, "DOWN", "1")]))
        # a properties change within the same second still changes the revision
        changed = with_properties(inst, {"k": "v"}, "1")
        assert body_revision(find_body([changed])) != body_revision(find_body([with_properties(inst, {}, "1")]))

    def test_endpoints_key(self):
        assert endpoints_key([]) == "" and endpoints_key(None) == ""
        assert endpoints_key(["b", "a"]) == endpoints_key(["a", "b", "a"]) != endpoints_key(["a"])

    def test_schema_ids_and_event_data(self):
        s = svc("s", "1.0.0", schemas=["a"])
        assert with_schema_id(s, "a", "2") is None
        assert with_schema_id(s, "b", "2")["schemas"] == ["a", "b"]
        data = instance_event_data({"serviceId": "s", "instanceId": "i"}, s)
        assert data == {
            "serviceId": "s",
            "instanceId": "i",
            "instance": {"serviceId": "s", "instanceId": "i"},
            "service": {"appId": "shop", "serviceName": "order", "version": "1.0.0", "environment": ""},
        }

    def test_batch_result(self):
        r = BatchResult()
        r.add_ok(0, "r0", None, [{"instanceId": "i"}])
        r.add_ok(1, "r1", "r1", [{"instanceId": "j"}])
        r.add_ok(2, "r2", "old", [])
        r.add_error(3, e.service_not_exists("x"))
        r.add_error(4, e.service_not_exists("y"))
        r.add_error(5, e.invalid_params("z"))
        assert r.to_json() == {
            "failed": [
                {"indexes": [3, 4], "error": {"errorCode": "400012", "errorMessage": "Micro-service does not exist", "detail": "x"}},
                {"indexes": [5], "error": {"errorCode": "400001", "errorMessage": "Invalid parameter(s)", "detail": "z"}},
            ],
            "notModified": [1],
            "updated": [{"index": 0, "rev": "r0", "instances": [{"instanceId": "i"}]}, {"index": 2, "rev": "r2"}],
        }
        with pytest.raises(e.RegistryError):
            r.add_error(6, e.internal("boom"))


class TestDependencies:
    def test_matching_and_resolving(self):
        rule = {"environment": "", "appId": "shop", "serviceName": "order", "version": "1.5.0+"}
        assert dependency_matches(rule, svc("b", "1.5.0"))
        assert not dependency_matches(rule, svc("a", "1.0.0"))
        assert dependency_matches({**rule, "serviceName": "*"}, svc("z", "0.1", app="any"))
        assert not dependency_matches({**rule, "serviceName": "*"}, svc("z", "0.1", env="testing"))
        latest = {**rule, "version": "latest"}
        assert [s["serviceId"] for s in resolve_rules([latest, rule], SERVICES)] == ["c", "b"]
        assert resolve_rules([{**rule, "serviceName": "later"}], SERVICES) == []


class TestCacheState:
    def entry(self, scope):
        return FindEntry(scope, "rev", b"ok", b"304", [], None, 0.0)

    def test_generation_guards_a_late_result(self):
        st = RegistryCaches(Clock())
        scope = ("p", "", "shop")
        key = ("p", "", "shop", "order", "", "", "")
        gen = st.generation(scope)
        st.invalidate_scope(*scope)  # an event arrived while the find was being computed
        st.store_find(key, self.entry(scope), gen)
        assert key not in st.finds
        st.store_find(key, self.entry(scope), st.generation(scope))
        assert st.finds[key].rev == "rev"

    def test_events_invalidate(self):
        st = RegistryCaches(Clock())
        scope = ("p", "testing", "shop")
        key = ("p", "testing", "shop", "order", "", "", "")
        st.store_find(key, self.entry(scope), 0)
        other = ("p", "", "shop", "order", "", "", "")
        st.store_find(other, self.entry(("p", "", "shop")), 0)
        data = {
            "serviceId": "s",
            "instanceId": "i",
            "instance": {"healthCheck": {"interval": 2, "times": 1}},
            "service": {"appId": "shop", "environment": "testing"},
        }
        st.apply_event("p", "instance", "registered", data)
        assert key not in st.finds and other in st.finds
        assert st.instance_ttls[("p", "s", "i")] == 4
        st.apply_event("p", "instance", "expired", data)
        assert ("p", "s", "i") not in st.instance_ttls
        st.remember_service("p", {"serviceId": "s", "appId": "shop"})
        st.recorded_dependencies.add(("p", "s", "", "shop", "order", "0.0.0+"))
        st.apply_event("p", "service", "deleted", {"serviceId": "s", "service": {"serviceId": "s", "appId": "shop"}})
        assert ("p", "s") not in st.services and not st.recorded_dependencies and other not in st.finds

    def test_find_keys_of_values_that_are_not_strings_never_match(self):
        assert find_key("p", None, "shop", "order", None, None, None) == ("p", "", "shop", "order", "", "", "")
        assert find_key("p", 0, "shop", "order", None, None, None) != find_key("p", "", "shop", "order", None, None, None)
        assert find_key("p", "", "shop", "order", False, None, None) != find_key("p", "", "shop", "order", "", None, None)

    def test_dependency_of_find(self):
        consumer = {"serviceId": "c1", "environment": "testing"}
        rule, mark = dependency_of_find("p", consumer, "shop", "order", None)
        assert rule == {"environment": "testing", "appId": "shop", "serviceName": "order", "version": "0.0.0+"}
        assert mark == ("p", "c1", "testing", "shop", "order", "0.0.0+")
        assert dependency_of_find("p", consumer, "shop", "order", "1.0.0")[1][-1] == "1.0.0"
