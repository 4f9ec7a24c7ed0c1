"""Unit tests of the registry's pure domain layer and contracts (no I/O)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from pydantic import ValidationError

from services.contracts import registry as c
from services.contracts import registry_errors as e
from services.contracts.errors import ServiceError
from services.domain.registry import config_center as cc
from services.domain.registry import health as h
from services.domain.registry import identity as ident
from services.domain.registry import model as registry_model
from services.domain.registry import revision as rv
from services.domain.registry import validation as v
from services.domain.registry import version_rules as vr


def assert_invalid(fn, *args, code: str = e.ERR_INVALID_PARAMS, contains: str | None = None, **kwargs):
    with pytest.raises(e.RegistryError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code
    assert info.value.status == e.status_for_code(code)
    if contains is not None:
        assert contains in info.value.detail, info.value.detail
    return info.value


# ================================================================================================
# errors
# ================================================================================================
class TestErrors:
    @pytest.mark.parametrize(
        "code,status",
        [
            (e.ERR_INVALID_PARAMS, 400),
            (e.ERR_SERVICE_ALREADY_EXISTS, 400),
            (e.ERR_SERVICE_NOT_EXISTS, 400),
            (e.ERR_DEPLOYED_INSTANCE, 400),
            (e.ERR_SCHEMA_NOT_EXISTS, 400),
            (e.ERR_INSTANCE_NOT_EXISTS, 400),
            (e.ERR_SERVICE_VERSION_NOT_EXISTS, 400),
            (e.ERR_NOT_ENOUGH_QUOTA, 400),
            (e.ERR_FORBIDDEN, 403),
            (e.ERR_INTERNAL, 500),
            (e.ERR_UNAVAILABLE_BACKEND, 500),
        ],
    )
    def test_status_is_code_div_1000(self, code, status):
        assert e.status_for_code(code) == status
        assert e.RegistryError.of(code).status == status

    def test_codes_are_service_centers(self):
        assert (e.ERR_INVALID_PARAMS, e.ERR_SERVICE_ALREADY_EXISTS, e.ERR_SERVICE_NOT_EXISTS) == ("400001", "400010", "400012")
        assert (e.ERR_DEPLOYED_INSTANCE, e.ERR_UNDEFINED_SCHEMA_ID, e.ERR_MODIFY_SCHEMA_NOT_ALLOW) == ("400013", "400014", "400015")
        assert (e.ERR_SCHEMA_NOT_EXISTS, e.ERR_INSTANCE_NOT_EXISTS, e.ERR_TAG_NOT_EXISTS) == ("400016", "400017", "400018")
        assert (e.ERR_DEPENDED_ON_CONSUMER, e.ERR_PERMISSION_DENY, e.ERR_ENDPOINT_ALREADY_EXISTS) == ("400023", "400024", "400025")
        assert e.ERR_SERVICE_VERSION_NOT_EXISTS == "400026"
        assert (e.ERR_NOT_ENOUGH_QUOTA, e.ERR_FORBIDDEN, e.ERR_INTERNAL, e.ERR_UNAVAILABLE_BACKEND) == (
            "400100",
            "403001",
            "500003",
            "500011",
        )

    def test_constructors_messages_and_body(self):
        err = e.service_not_exists()
        assert isinstance(err, ServiceError)
        assert err.message == "Micro-service does not exist"
        assert err.to_body() == {"errorCode": "400012", "errorMessage": "Micro-service does not exist", "detail": "Service does not exist."}
        assert str(err) == "Micro-service does not exist(Service does not exist.)"
        assert e.invalid_params().to_body() == {"errorCode": "400001", "errorMessage": "Invalid parameter(s)"}
        assert e.instance_not_exists().code == "400017"
        assert e.schema_not_exists().code == "400016"
        assert e.deployed_instance().code == "400013"
        assert e.depended_on_consumer().code == "400023"
        assert e.service_already_exists().code == "400010"
        assert e.service_version_not_exists("x").code == "400026"
        assert e.internal().internal and not e.invalid_params().internal

    def test_error_response_contract(self):
        body = c.ErrorResponse.of(e.schema_not_exists()).to_json()
        assert body == {"errorCode": "400016", "errorMessage": "Schema does not exist", "detail": "schema ref not found."}
        assert c.ErrorResponse.model_validate({"errorCode": 400012}).error_code == "400012"


# ================================================================================================
# versions and version rules
# ================================================================================================
class TestVersions:
    @pytest.mark.parametrize("good", ["0", "1", "1.0", "1.0.0", "1.0.0.0", "32767.32767.32767.32767", "01.002"])
    def test_valid(self, good):
        assert vr.is_valid_version(good)

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "a",
            "1.a",
            "1.",
            ".1",
            ".",
            "1..2",
            "1.2.3.4.5",
            "60000",
            "32768",
            "1.0.1.32768",
            "-1",
            " 1.0",
            "1.0 ",
            "1.0\n",
            "v1.0",
            "1,0",
            "١",
        ],
    )
    def test_invalid(self, bad):
        assert not vr.is_valid_version(bad)
        assert_invalid(vr.parse_version, bad)

    def test_keys_pad_and_compare_numerically(self):
        assert vr.parse_version("1") == (1, 0, 0, 0)
        assert vr.parse_version("1.2.3") == (1, 2, 3, 0)
        assert vr.compare_versions("1.0.10", "1.0.9") == 1
        assert vr.compare_versions("1.10", "4") == -1
        assert vr.compare_versions("1.0", "1.0.0") == 0
        assert vr.compare_versions("1.0.1", "1.0.0.0") == 1

    def test_sort_newest_first_and_drop_invalid(self):
        assert vr.sort_versions(["1.0.9", "1.0.10", "4", "1.10", "1.a", ""]) == ["4", "1.10", "1.0.10", "1.0.9"]
        assert vr.sort_versions(["2", "1", "3"], newest_first=False) == ["1", "2", "3"]
        # ties are broken deterministically by the string
        assert vr.sort_versions(["1.0", "1.0.0"]) == vr.sort_versions(["1.0.0", "1.0"])
        assert vr.latest_version(["1.0.1", "1.0.0.0"]) == "1.0.1"
        assert vr.latest_version([]) is None


TEN = [f"1.{i}" for i in range(1, 11)]  # 1.1 .. 1.10, as in Service-Center's own tests
THREE = ["1.0.0", "1.2.0", "2.0.0"]


class TestVersionRules:
    def test_latest(self):
        assert vr.match_versions("latest", TEN) == ["1.10"]
        assert vr.match_versions("latest", THREE) == ["2.0.0"]
        assert vr.match_versions("latest", []) == []

    def test_at_least(self):
        assert vr.match_versions("1.6+", TEN) == ["1.10", "1.9", "1.8", "1.7", "1.6"]
        assert vr.match_versions("1+", TEN) == list(reversed(TEN))
        assert vr.match_versions("1.5.1+", TEN) == ["1.10", "1.9", "1.8", "1.7", "1.6"]
        assert vr.match_versions("2+", TEN) == []
        assert vr.match_versions("1.2.0+", THREE) == ["2.0.0", "1.2.0"]
        assert vr.match_versions("1.2+", THREE) == ["2.0.0", "1.2.0"]  # 1.2 == 1.2.0
        assert vr.match_versions("0.0.0+", THREE) == ["2.0.0", "1.2.0", "1.0.0"]

    def test_range_upper_bound_exclusive(self):
        assert vr.match_versions("1.4-1.8", TEN) == ["1.7", "1.6", "1.5", "1.4"]
        assert vr.match_versions("1.8-1.4", TEN) == ["1.7", "1.6", "1.5", "1.4"]  # bounds in any order
        assert vr.match_versions("1-2", TEN) == list(reversed(TEN))
        assert vr.match_versions("1.4.1-1.9.1", TEN) == ["1.9", "1.8", "1.7", "1.6", "1.5"]
        assert vr.match_versions("2-4", TEN) == []
        assert vr.match_versions("1.0.0-2.0.0", THREE) == ["1.2.0", "1.0.0"]
        assert vr.match_versions("1.0.0-2.0.1", THREE) == ["2.0.0", "1.2.0", "1.0.0"]
        assert vr.match_versions("1.2.0-1.2.0", THREE) == []  # empty interval
        assert vr.match_versions("1.1-1.3", THREE) == ["1.2.0"]

    def test_range_gap_bug_is_not_reproduced_by_default(self):
        # v2.0.0 Range includes the first version below the upper bound unchecked
        assert vr.match_versions("2.0-2.5", ["3.0", "1.0"]) == []
        assert vr.match_versions("2.0-2.5", ["3.0", "1.0"], sc_range_quirk=True) == ["1.0"]
        # where there is no gap both agree
        assert vr.match_versions("1.4-1.8", TEN, sc_range_quirk=True) == vr.match_versions("1.4-1.8", TEN)
        assert vr.match_versions("1.0.0-2.0.0", THREE, sc_range_quirk=True) == ["1.2.0", "1.0.0"]
        assert vr.match_versions("5-6", THREE, sc_range_quirk=True) == []

    def test_exact_is_string_equality(self):
        assert vr.match_versions("1.2.0", THREE) == ["1.2.0"]
        assert vr.match_versions("1.2", THREE) == []  # not normalised
        assert vr.match_versions("3.0.0", THREE) == []

    def test_empty_rule_means_all_versions(self):
        assert vr.match_versions(None, THREE) == ["2.0.0", "1.2.0", "1.0.0"]
        assert vr.match_versions("", THREE) == ["2.0.0", "1.2.0", "1.0.0"]

    def test_invalid_versions_in_the_list_are_ignored_except_exact(self):
        assert vr.match_versions("latest", ["1.a", "1.0"]) == ["1.0"]
        with pytest.raises(e.RegistryError):  # "1.a" is not a valid rule
            vr.match_versions("1.a", ["1.a"])

    @pytest.mark.parametrize(
        "bad",
        [
            "-",
            "1.1-",
            "-1.1",
            "1.a-2.b",
            "1.-.2",
            "60000-1",
            "+",
            "+1.0",
            "1.a+",
            ".1+",
            "1.+",
            ".+",
            "60000+",
            "1.0.0.0.0+",
            "1.1.1.1.1-2.2.2.2",
            "1.1.1.1-2.2.2.2.2",
            "*",
            "LATEST",
            "latest+",
            "1.0++",
            "1.0-2.0-3.0",
            "a",
            "1.4.0.0.0",
        ],
    )
    def test_invalid_rules(self, bad):
        assert not vr.is_valid_version_rule(bad)
        assert_invalid(vr.parse_version_rule, bad)

    @pytest.mark.parametrize("good", ["latest", "1.0+", "1.0.0.0+", "1.1-2.2", "1.1.1.1-2.2.2.2", "1.4", "1.4.0.0", "0+"])
    def test_valid_rules(self, good):
        assert vr.is_valid_version_rule(good)

    def test_rule_length_cap(self):
        long_rule = "1." + "0." * 70 + "0"
        assert_invalid(vr.parse_version_rule, long_rule)

    def test_version_matches(self):
        assert vr.version_matches("1.0", "latest")
        assert vr.version_matches("1.4", "1.4-1.8")
        assert vr.version_matches("1.6", "1.4-1.8")
        assert not vr.version_matches("1.8", "1.4-1.8")
        assert not vr.version_matches("1.0", "1.4-1.8")
        assert not vr.version_matches("1.9", "1.4-1.8")
        assert vr.version_matches("1.6", "1.6+") and vr.version_matches("1.9", "1.6+")
        assert not vr.version_matches("1.0", "1.6+")
        assert vr.version_matches("1.0", "1.0") and not vr.version_matches("1.0", "1.2")
        assert vr.version_matches("7.7", None)

    def test_rule_kinds(self):
        assert vr.parse_version_rule("latest").kind is vr.RuleKind.LATEST
        assert vr.parse_version_rule("1+").kind is vr.RuleKind.AT_LEAST
        assert vr.parse_version_rule("2-1").start == (1, 0, 0, 0)
        assert vr.parse_version_rule("2-1").end == (2, 0, 0, 0)
        assert vr.parse_version_rule("1.0").kind is vr.RuleKind.EXACT
        assert vr.parse_version_rule("").kind is vr.RuleKind.ALL
        assert vr.ALL_VERSIONS == "0.0.0+" and vr.DEFAULT_VERSION == "0.0.1"


# ================================================================================================
# lease / health
# ================================================================================================
class TestHealth:
    def test_ttl(self):
        assert h.lease_ttl_seconds() == 120
        assert h.lease_ttl_seconds(30, 3) == 120
        assert h.lease_ttl_seconds(10) == 40
        assert h.lease_ttl_seconds(times=0) == 30
        assert h.lease_ttl_seconds(5, 3) == 20
        assert_invalid(h.lease_ttl_seconds, 0, 3)
        assert_invalid(h.lease_ttl_seconds, 10, -1)

    def test_normalize(self):
        assert h.normalize_health_check(None) == {"mode": "push", "interval": 30, "times": 3}
        # openstage keeps small intervals (floor 1 s); Service-Center's floors are opt-in
        assert h.normalize_health_check({"mode": "push", "interval": 1, "times": 0}) == {"mode": "push", "interval": 1, "times": 0}
        assert h.normalize_health_check({"mode": "push", "interval": 2, "times": 1}) == {"mode": "push", "interval": 2, "times": 1}
        assert h.normalize_health_check(
            {"mode": "push", "interval": 1, "times": 0}, min_interval=h.SC_MIN_INTERVAL, min_times=h.SC_MIN_TIMES
        ) == {"mode": "push", "interval": 5, "times": 3}
        assert h.normalize_health_check({"mode": "push", "interval": 10, "times": 5}) == {"mode": "push", "interval": 10, "times": 5}
        assert h.normalize_health_check({"mode": "pull", "interval": 1, "times": 9, "port": 80}) == {
            "mode": "pull",
            "interval": 30,
            "times": 3,
            "port": 80,
        }
        assert h.normalize_health_check({"mode": "push", "interval": 2, "times": 1}, min_interval=1, min_times=1) == {
            "mode": "push",
            "interval": 2,
            "times": 1,
        }
        assert h.ttl_for_health_check(None) == 120
        assert h.ttl_for_health_check(h.normalize_health_check({"mode": "push", "interval": 1, "times": 0})) == 1
        assert h.ttl_for_health_check(h.normalize_health_check({"mode": "push", "interval": 2, "times": 1})) == 4

    def test_lease(self):
        lease = h.Lease.for_health_check({"interval": 10, "times": 2}, now=1000)
        assert lease.ttl == 30 and lease.expires_at == 1030
        assert not lease.is_expired(1029.9)
        assert lease.is_expired(1030)
        assert lease.remaining(1010) == 20 and lease.remaining(2000) == 0
        renewed = lease.renewed(1020)
        assert renewed.expires_at == 1050 and not renewed.is_expired(1049)
        with pytest.raises(e.RegistryError) as info:
            lease.renewed(1031)
        assert info.value.code == e.ERR_INSTANCE_NOT_EXISTS
        assert h.Lease.for_health_check(None, now=0).ttl == 120


# ================================================================================================
# service validation
# ================================================================================================
def svc(**kw) -> c.MicroService:
    base = {"serviceName": "order-service", "appId": "shop", "version": "1.0.0"}
    base.update(kw)
    return c.MicroService.model_validate(base)


class TestServiceValidation:
    def test_defaults(self):
        out = v.validate_create_service(c.CreateServiceRequest(service=c.MicroService(service_name="a")))
        s = out.service
        assert (s.app_id, s.version, s.level, s.status) == ("default", "0.0.1", "BACK", "UP")

    def test_empty_body(self):
        assert_invalid(v.validate_create_service, c.CreateServiceRequest(), contains="Request body is empty")

    @pytest.mark.parametrize("name", ["a", "A1", "order-service", "a.b_c-d", "x" * 128, "a1b2"])
    def test_good_names(self, name):
        v.validate_micro_service(v.apply_service_defaults(svc(serviceName=name)))

    @pytest.mark.parametrize("name", ["", "-a", "a-", ".a", "a b", "a:b", "a@b", "x" * 129, "中文", "a/b"])
    def test_bad_names(self, name):
        assert_invalid(v.validate_micro_service, v.apply_service_defaults(svc(serviceName=name)), contains="ServiceName")

    def test_app_id(self):
        v.validate_micro_service(svc(appId="a" * 160, level="BACK", status="UP"))
        assert_invalid(v.validate_micro_service, svc(appId="a" * 161, level="BACK"), contains="AppId")
        assert_invalid(v.validate_micro_service, svc(appId="a_", level="BACK"), contains="AppId")

    @pytest.mark.parametrize("version", ["1.a", "1.2.3.4.5", "60000", "1.", "latest", "1.0+", "1.0-2.0"])
    def test_bad_versions(self, version):
        assert_invalid(v.validate_micro_service, v.apply_service_defaults(svc(version=version)), contains="Version")

    def test_level_status_env_register_by(self):
        ok = v.apply_service_defaults(svc())
        for level in ("FRONT", "MIDDLE", "BACK"):
            v.validate_micro_service(ok.model_copy(update={"level": level}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"level": "TOP"}), contains="Level")
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"level": "back"}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"status": "STARTING"}), contains="Status")
        for env in ("", "development", "testing", "acceptance", "production"):
            v.validate_micro_service(ok.model_copy(update={"environment": env}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"environment": "prod"}), contains="Environment")
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"environment": "developmenttesting"}))
        v.validate_micro_service(ok.model_copy(update={"register_by": "SDK"}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"register_by": "SDKSDK"}))

    def test_other_fields(self):
        ok = v.apply_service_defaults(svc())
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"description": "d" * 257}), contains="Description")
        v.validate_micro_service(ok.model_copy(update={"description": "d" * 256}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"service_id": "a b"}), contains="ServiceId")
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"service_id": "a" * 65}))
        v.validate_micro_service(ok.model_copy(update={"service_id": "my-id_1"}))
        v.validate_micro_service(ok.model_copy(update={"alias": "shop:order"}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"alias": "a b"}), contains="Alias")
        v.validate_micro_service(ok.model_copy(update={"schemas": ["hello", "a.b-c_d", "x" * 160]}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"schemas": ["x" * 161]}), contains="Schemas")
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"schemas": ["-a"]}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"schemas": [f"s{i}" for i in range(101)]}))
        v.validate_micro_service(ok.model_copy(update={"paths": [c.ServicePath(path="/api/v1/{id}")]}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"paths": [c.ServicePath(path="/a b")]}), contains="Path")
        v.validate_micro_service(ok.model_copy(update={"framework": c.FrameWork(name="servicecomb-java-chassis", version="2.8.0")}))
        assert_invalid(v.validate_micro_service, ok.model_copy(update={"framework": c.FrameWork(name="a b")}), contains="Name")

    def test_create_validates_tags_and_instances_up_front(self):
        req = c.CreateServiceRequest.model_validate(
            {"service": {"serviceName": "a"}, "tags": {"env": "dev"}, "instances": [{"hostName": "h", "endpoints": ["rest://1.2.3.4:80"]}]}
        )
        out = v.validate_create_service(req)
        assert out.instances[0].status == "UP" and out.instances[0].health_check.interval == 30
        bad_tags = req.model_copy(update={"tags": {"1bad": "x"}})
        assert_invalid(v.validate_create_service, bad_tags, contains="Tags")
        bad_inst = c.CreateServiceRequest.model_validate({"service": {"serviceName": "a"}, "instances": [{"endpoints": ["x"]}]})
        assert_invalid(v.validate_create_service, bad_inst, contains="HostName")

    def test_properties(self):
        assert v.validate_update_service_properties("sid", {"allowCrossApp": "true"}) == {"allowCrossApp": "true"}
        assert v.validate_update_service_properties("sid", None) == {}
        assert_invalid(v.validate_update_service_properties, "", {})
        assert_invalid(v.validate_properties, {"": "x"})
        assert_invalid(v.validate_properties, {"k" * 513: "x"})
        assert_invalid(v.validate_properties, {"k": "x" * 65537})
        assert_invalid(v.validate_properties, {f"k{i}": "v" for i in range(1001)})
        assert_invalid(v.validate_properties, {"k": 1})

    def test_delete_many(self):
        assert v.validate_delete_services(c.DeleteServicesRequest(service_ids=["a", "b", "a"])) == ["a", "b"]
        assert_invalid(v.validate_delete_services, c.DeleteServicesRequest(service_ids=[]))
        assert_invalid(v.validate_delete_services, c.DeleteServicesRequest())
        assert_invalid(v.validate_delete_services, c.DeleteServicesRequest(service_ids=["a" * 65]))
        assert_invalid(v.validate_delete_services, c.DeleteServicesRequest(service_ids=[""]))

    def test_service_and_instance_ids(self):
        assert v.validate_service_id("abc") == "abc"
        assert_invalid(v.validate_service_id, "")
        assert_invalid(v.validate_service_id, None)
        assert_invalid(v.validate_service_id, "a\tb")
        assert_invalid(v.validate_service_id, "x" * 65)
        assert v.validate_instance_id("i-1.2_3") == "i-1.2_3"
        assert_invalid(v.validate_instance_id, "i/1")
        assert_invalid(v.validate_instance_id, "")
        assert v.validate_consumer_id(None) == "" and v.validate_consumer_id("c1") == "c1"
        assert_invalid(v.validate_consumer_id, "a b")


class TestQueryFlags:
    def test_force(self):
        assert v.parse_force(None) is False and v.parse_force("") is False
        assert v.parse_force("true") and v.parse_force("1")
        assert not v.parse_force("false") and not v.parse_force("0")
        assert_invalid(v.parse_force, "yes", contains="force")
        assert_invalid(v.parse_force, "TRUE")

    def test_with_schema_and_others(self):
        assert v.parse_with_schema(None) is False and v.parse_with_schema(" ") is False
        assert v.parse_with_schema("1") and not v.parse_with_schema("0")
        assert_invalid(v.parse_with_schema, "true", contains="withSchema")
        assert v.string_true(" TRUE ") and v.string_true("1") and not v.string_true("yes")
        assert v.flag_one("1") and not v.flag_one("true")
        assert v.split_tags("a,b") == ["a", "b"] and v.split_tags("") == [] and v.split_tags(None) == []

    def test_parse_body(self):
        req = v.parse_body(c.RegisterInstanceRequest, {"Instance": {"hostName": "h"}})
        assert req.instance.host_name == "h"
        assert_invalid(v.parse_body, c.RegisterInstanceRequest, None, contains="unexpected end of JSON input")
        assert_invalid(v.parse_body, c.RegisterInstanceRequest, [1, 2], contains="must be a JSON object")
        assert_invalid(
            v.parse_body,
            c.RegisterInstanceRequest,
            {"instance": {"healthCheck": {"interval": "x"}}},
            contains="Unmarshal error: instance.healthCheck.interval: ",
        )


class TestCommands:
    """The registry's bus commands decode as the registry always has (400001 for a bad body)."""

    def test_a_body_is_its_typed_request(self):
        sent = {"Instance": {"hostName": "h"}, "ignored": [1e9]}
        cmd = c.RegisterInstanceCommand.model_validate({"service_id": "s1", "body": sent})
        assert isinstance(cmd.body, c.RegisterInstanceRequest) and cmd.body.instance.host_name == "h"
        # on the bus the body is what the client sent, unchanged
        wire = json.loads(cmd.model_dump_json(by_alias=True))
        assert wire == {"service_id": "s1", "body": sent}
        assert c.RegisterInstanceCommand.model_validate(wire).body == cmd.body
        # a body built as the model: the JSON a client would write (camelCase, absent fields left out)
        given = c.CreateServiceCommand(body=c.CreateServiceRequest(service=c.MicroService(service_name="a")))
        assert given.body.service.service_name == "a"
        assert json.loads(given.model_dump_json(by_alias=True)) == {"domain": None, "body": {"service": {"serviceName": "a"}}}

    @pytest.mark.parametrize(
        "body,detail",
        [
            (None, "Unmarshal error: unexpected end of JSON input"),
            ([1], "Unmarshal error: the request body must be a JSON object"),
            ({"properties": {"k": 1}}, "Unmarshal error: properties.k: Input should be a valid string"),
        ],
    )
    def test_a_bad_body_is_400001(self, body, detail):
        err = assert_invalid(c.UpdateInstancePropertiesCommand.model_validate, {"service_id": "s", "instance_id": "i", "body": body})
        assert err.detail == detail
        assert_invalid(c.UpdateInstancePropertiesCommand.model_validate, {"service_id": "s"}, contains="end of JSON")

    def test_other_fields_are_checked_before_the_body(self):
        with pytest.raises(ValidationError):  # the usual 400 of every command
            c.RegisterInstanceCommand.model_validate({"service_id": 5, "body": [1]})
        assert_invalid(c.BatchFindCommand.model_validate, {"type": "delete", "body": [1]}, contains="Invalid action: delete")
        assert_invalid(c.BatchFindCommand.model_validate, {"body": {}}, contains="Invalid action: ")
        assert_invalid(c.BatchFindCommand.model_validate, {"type": "query", "body": [1]}, contains="JSON object")
        assert c.BatchFindCommand.model_validate({"type": "query", "body": {}}).body.services is None

    def test_fast_path_commands_take_strings_only(self):
        assert c.HeartbeatCommand.model_validate({"service_id": "s", "instance_id": "i"}).instance_id == "i"
        assert_invalid(c.HeartbeatCommand.model_validate, [1], contains="the command must be a JSON object")
        assert_invalid(c.HeartbeatCommand.model_validate, {"service_id": "s", "instance_id": 1}, contains="instance_id must be a string")
        assert_invalid(c.FindInstancesCommand.model_validate, {"app_id": "a", "rev": ["x"]}, contains="rev must be")
        cmd = c.FindInstancesCommand(app_id="a")
        assert c.FindInstancesCommand.model_validate(cmd) is cmd


# ================================================================================================
# tags, schemas
# ================================================================================================
class TestTagsAndSchemas:
    def test_tags(self):
        assert v.validate_tags({"env": "dev", "a.b-c_d": "V1"}) == {"env": "dev", "a.b-c_d": "V1"}
        assert_invalid(v.validate_tags, {"1a": "x"})
        assert_invalid(v.validate_tags, {"a": "1"})  # values must match too
        assert_invalid(v.validate_tags, {"a" * 65: "x"})
        assert_invalid(v.validate_tags, {f"k{i}": "v" for i in range(101)})
        assert v.validate_update_tag("k", "v") == ("k", "v")
        assert_invalid(v.validate_update_tag, "k", "")
        assert v.validate_delete_tags(["a", "b"]) == ["a", "b"]
        assert_invalid(v.validate_delete_tags, [])

    @pytest.mark.parametrize("sid", ["a", "Hello", "a.b-c_d", "x" * 160, "com.example.Hello"])
    def test_schema_ids(self, sid):
        assert v.validate_schema_id(sid) == sid

    @pytest.mark.parametrize("sid", ["", "-a", "a-", "a b", "x" * 161, "a/b", "a:b"])
    def test_bad_schema_ids(self, sid):
        assert_invalid(v.validate_schema_id, sid, contains="SchemaId")

    def test_modify_schema(self):
        v.validate_modify_schema("sid", "hello", c.ModifySchemaRequest(schema="swagger: '2.0'"))
        v.validate_modify_schema("sid", "hello", c.ModifySchemaRequest(schema="x", summary="abc123"))
        assert_invalid(v.validate_modify_schema, "sid", "hello", c.ModifySchemaRequest(schema=""), contains="Schema")
        assert_invalid(v.validate_modify_schema, "sid", "hello", c.ModifySchemaRequest(schema="x", summary="a-b"))
        assert_invalid(v.validate_modify_schema, "sid", "hello", c.ModifySchemaRequest(schema="x", summary="a" * 129))
        assert_invalid(v.validate_modify_schema, "", "hello", c.ModifySchemaRequest(schema="x"))

    def test_modify_schemas(self):
        good = c.ModifySchemasRequest(schemas=[c.Schema(schema_id="a", summary="s1", schema="x")])
        v.validate_modify_schemas("sid", good)
        assert_invalid(v.validate_modify_schemas, "sid", c.ModifySchemasRequest(schemas=[]))
        assert_invalid(
            v.validate_modify_schemas, "sid", c.ModifySchemasRequest(schemas=[c.Schema(schema_id="a", schema="x")]), contains="Summary"
        )
        assert_invalid(v.validate_modify_schemas, "sid", c.ModifySchemasRequest(schemas=[c.Schema(schema_id="a", summary="s")]))
        many = [c.Schema(schema_id=f"s{i}", summary="s", schema="x") for i in range(101)]
        assert_invalid(v.validate_modify_schemas, "sid", c.ModifySchemasRequest(schemas=many))


# ================================================================================================
# instances and discovery
# ================================================================================================
def inst(**kw) -> c.MicroServiceInstance:
    base = {"hostName": "host-1", "endpoints": ["rest://10.0.0.1:8080", "highway://10.0.0.1:7070"]}
    base.update(kw)
    return c.MicroServiceInstance.model_validate(base)


class TestInstanceValidation:
    def test_normalization(self):
        out = v.validate_register_instance(inst(serviceId="ignored"), "sid")
        assert out.service_id == "sid" and out.status == "UP"
        assert out.health_check.model_dump(exclude_none=True) == {"mode": "push", "interval": 30, "times": 3}
        out = v.validate_register_instance(inst(healthCheck={"mode": "push", "interval": 2, "times": 1}), "sid")
        assert (out.health_check.interval, out.health_check.times) == (2, 1)
        out = v.validate_register_instance(inst(healthCheck={"mode": "pull", "interval": 99, "times": 9}), "sid")
        assert (out.health_check.interval, out.health_check.times) == (30, 3)
        out = v.validate_register_instance(inst(status="STARTING", instanceId="my-inst"), "sid")
        assert out.status == "STARTING" and out.instance_id == "my-inst"

    def test_required_and_bad_fields(self):
        assert_invalid(v.validate_register_instance, None, "sid", contains="Instance")
        assert_invalid(v.validate_register_instance, inst(hostName=""), "sid", contains="HostName")
        assert_invalid(v.validate_register_instance, inst(hostName="   "), "sid", contains="HostName")
        assert_invalid(v.validate_register_instance, inst(hostName="h" * 65), "sid")
        v.validate_register_instance(inst(hostName="h" * 64, endpoints=[]), "sid")  # empty endpoints allowed
        assert_invalid(v.validate_register_instance, inst(endpoints=[""]), "sid", contains="Endpoints")
        assert_invalid(v.validate_register_instance, inst(endpoints=[" "]), "sid")
        assert_invalid(v.validate_register_instance, inst(status="up"), "sid", contains="Status")
        assert_invalid(v.validate_register_instance, inst(status="RUNNING"), "sid")
        assert_invalid(v.validate_register_instance, inst(instanceId="a/b"), "sid", contains="InstanceId")
        assert_invalid(v.validate_register_instance, inst(instanceId="a" * 65), "sid")
        assert_invalid(v.validate_register_instance, inst(), "", contains="ServiceId")

    @pytest.mark.parametrize(
        "hc,field",
        [
            ({"interval": 30, "times": 3}, "Mode"),  # mode required once healthCheck is given
            ({"mode": "PUSH", "interval": 30, "times": 3}, "Mode"),
            ({"mode": "push", "times": 3}, "Interval"),
            ({"mode": "push", "interval": 0, "times": 3}, "Interval"),
            ({"mode": "push", "interval": 2**31, "times": 3}, "Interval"),
            ({"mode": "push", "interval": 30, "times": 2**31}, "Times"),
            ({"mode": "push", "interval": 30, "times": 3, "port": 65536}, "Port"),
            ({"mode": "push", "interval": 30, "times": 3, "url": "http://a b"}, "Url"),
        ],
    )
    def test_health_check_rules(self, hc, field):
        assert_invalid(v.validate_register_instance, inst(healthCheck=hc), "sid", contains=field)

    def test_data_center_info(self):
        v.validate_register_instance(inst(dataCenterInfo={"name": "dc1", "region": "cn-north-4", "availableZone": "az1"}), "sid")
        assert_invalid(v.validate_register_instance, inst(dataCenterInfo={"name": "dc1", "region": "r"}), "sid", contains="AvailableZone")
        assert_invalid(
            v.validate_register_instance, inst(dataCenterInfo={"name": "d c", "region": "r", "availableZone": "z"}), "sid", contains="Name"
        )

    @pytest.mark.parametrize("status", ["UP", "DOWN", "STARTING", "OUTOFSERVICE", "TESTING"])
    def test_status_update(self, status):
        assert v.validate_instance_status(status) == status

    @pytest.mark.parametrize("status", ["", None, "up", "UNKNOWN"])
    def test_bad_status_update(self, status):
        assert_invalid(v.validate_instance_status, status)

    def test_heartbeats(self):
        assert v.validate_heartbeat("s", "i") == ("s", "i")
        assert_invalid(v.validate_heartbeat, "s", "")
        req = c.HeartbeatSetRequest.model_validate(
            {"Instances": [{"serviceId": "s", "instanceId": "i"}, {"serviceId": "s", "instanceId": "i"}]}
        )
        assert len(v.validate_heartbeat_set(req)) == 1
        assert_invalid(v.validate_heartbeat_set, c.HeartbeatSetRequest(), contains="Request format invalid.")


class TestFindValidation:
    def test_find(self):
        rule = v.validate_find_instances(app_id="shop", service_name="order", environment="production", tags=["env"])
        assert rule.kind is vr.RuleKind.ALL
        rule = v.validate_find_instances(app_id="shop", service_name="shop:order", version_rule="1.0+")
        assert rule.kind is vr.RuleKind.AT_LEAST
        assert_invalid(v.validate_find_instances, app_id="", service_name="order", contains="AppId")
        assert_invalid(v.validate_find_instances, app_id="shop", service_name="", contains="ServiceName")
        assert_invalid(v.validate_find_instances, app_id="shop", service_name="o", environment="dev", contains="Environment")
        assert_invalid(v.validate_find_instances, app_id="shop", service_name="o", version_rule="*", contains="VersionRule")
        assert_invalid(v.validate_find_instances, app_id="shop", service_name="o", tags=["1"], contains="Tags")
        assert_invalid(v.validate_find_instances, app_id="shop", service_name="o", consumer_id="a b")
        v.validate_find_instances(app_id="a" * 160, service_name="n" * 289)
        assert_invalid(v.validate_find_instances, app_id="a", service_name="n" * 290)

    def test_get_instances(self):
        v.validate_get_instances("sid", consumer_id="cid", tags=["a"], instance_id="iid")
        assert_invalid(v.validate_get_instances, "", contains="ProviderServiceId")
        assert_invalid(v.validate_get_instances, "sid", instance_id="", contains="ProviderInstanceId")

    def test_batch_find(self):
        req = c.BatchFindInstancesRequest.model_validate(
            {
                "services": [{"service": {"appId": "shop", "serviceName": "order", "version": "latest"}, "rev": "abc"}],
                "instances": [{"instance": {"serviceId": "s1", "instanceId": "i1"}}],
            }
        )
        assert v.validate_batch_find(req) is req
        assert_invalid(v.validate_batch_find, c.BatchFindInstancesRequest(), contains="Required services or instances")
        assert_invalid(v.validate_batch_find, c.BatchFindInstancesRequest(services=[], instances=[]))
        bad = c.BatchFindInstancesRequest.model_validate({"services": [{"service": {"serviceName": "order"}}]})
        assert_invalid(v.validate_batch_find, bad, contains="AppId")
        bad = c.BatchFindInstancesRequest.model_validate({"instances": [{"instance": {"serviceId": "s1"}}]})
        assert_invalid(v.validate_batch_find, bad, contains="InstanceId")
        with pytest.raises(ValidationError):  # "service" is required by the contract itself
            c.BatchFindInstancesRequest.model_validate({"services": [{"rev": "x"}]})

    def test_existence(self):
        assert v.validate_existence(type="microservice", app_id="shop", service_name="order", version="1.0.0") == "microservice"
        assert_invalid(v.validate_existence, type="microservice", app_id="shop", service_name="order", version="latest")
        assert v.validate_existence(type="microservice", app_id="shop", service_name="order", version="latest", allow_version_rule=True)
        assert_invalid(v.validate_existence, type="microservice", app_id="shop", service_name="order", version="", allow_version_rule=True)
        assert_invalid(v.validate_existence, type="microservice", app_id="shop", service_name="order", version=None)
        assert v.validate_existence(type="schema", service_id="sid", schema_id="hello") == "schema"
        assert_invalid(v.validate_existence, type="schema", service_id="sid", schema_id="")
        assert_invalid(v.validate_existence, type="other", contains="Only micro-service and schema")
        assert_invalid(v.validate_existence, type=None)


class TestDependencyValidation:
    def req(self, providers, consumer=None):
        consumer = consumer or {"appId": "shop", "serviceName": "web", "version": "1.0.0"}
        return c.CreateDependenciesRequest.model_validate({"dependencies": [{"consumer": consumer, "providers": providers}]})

    def test_normalizes_and_sets_override(self):
        out = v.validate_dependencies(self.req([{"serviceName": "order", "version": "1.0.0+"}]), override=True)
        assert out[0].override is True
        assert out[0].providers[0].app_id == "shop"  # inherited from the consumer
        out = v.validate_dependencies(self.req([{"appId": "other", "serviceName": "pay", "version": "latest"}]), override=False)
        assert out[0].override is False and out[0].providers[0].app_id == "other"

    def test_rules(self):
        assert_invalid(v.validate_dependencies, c.CreateDependenciesRequest(dependencies=[]), override=True)
        assert_invalid(v.validate_dependencies, self.req([{"serviceName": "order"}]), override=True, contains="Required provider version")
        assert_invalid(
            v.validate_dependencies,
            self.req([{"serviceName": "order", "version": "1+"}, {"serviceName": "order", "version": "2+"}]),
            override=True,
            contains="Duplicate provider",
        )
        assert_invalid(v.validate_dependencies, self.req([]), override=False, contains="Providers")
        v.validate_dependencies(self.req([]), override=True)  # overwrite with nothing is allowed
        # consumer must be an exact version and a real name
        assert_invalid(
            v.validate_dependencies, self.req([{"serviceName": "*"}], {"appId": "a", "serviceName": "web", "version": "1+"}), override=True
        )
        assert_invalid(
            v.validate_dependencies, self.req([{"serviceName": "*"}], {"appId": "a", "serviceName": "*", "version": "1"}), override=True
        )
        # provider versions have at most three segments
        assert_invalid(v.validate_dependencies, self.req([{"serviceName": "o", "version": "1.0.0.0"}]), override=True, contains="Version")
        assert_invalid(v.validate_dependencies, self.req([{"serviceName": "o", "version": "*"}]), override=True)
        many = c.CreateDependenciesRequest.model_validate(
            {"dependencies": [{"consumer": {"appId": "a", "serviceName": "s", "version": "1"}, "providers": []}] * 101}
        )
        assert_invalid(v.validate_dependencies, many, override=True)

    def test_star_stops_checking(self):
        out = v.validate_dependencies(self.req([{"serviceName": "*"}, {"serviceName": "x"}, {"serviceName": "x"}]), override=True)
        assert [p.service_name for p in out[0].providers] == ["*", "x", "x"]


# ================================================================================================
# identity
# ================================================================================================
class TestIdentity:
    def test_default_service_id_is_sha1_of_index_key(self):
        key = "/cse-sr/ms/indexes/default/default//shop/order/1.0.0"
        assert ident.service_index_key("default", "default", "", "shop", "order", "1.0.0") == key
        assert ident.default_service_id("default", "default", None, "shop", "order", "1.0.0") == hashlib.sha1(key.encode()).hexdigest()
        assert ident.default_service_id("default", "default", "", "shop", "order", "1.0.1") != ident.default_service_id(
            "default", "default", "", "shop", "order", "1.0.0"
        )

    def test_instance_ids_and_timestamps(self):
        a, b = ident.new_instance_id(), ident.new_instance_id()
        assert a != b and re.fullmatch(r"[0-9a-f]{32}", a)
        v.validate_instance_id(a)
        assert ident.unix_timestamp(1700000000.9) == "1700000000"


# ================================================================================================
# config center
# ================================================================================================
class TestConfigCenter:
    def test_parse_dimensions(self):
        d = cc.parse_dimensions_info("order@shop#1.0.0")
        assert (d.service_name, d.app_id, d.version) == ("order", "shop", "1.0.0")
        assert d.service_key == "order@shop" and d.versioned_key == "order@shop#1.0.0" and d.darklaunch_key == "darklaunch@shop"
        assert d.response_keys() == ["application", "order@shop", "darklaunch@shop", "order@shop#1.0.0"]
        d = cc.parse_dimensions_info("order@shop")
        assert d.version is None and d.text == "order@shop" and d.versioned_key is None
        assert d.response_keys() == ["application", "order@shop", "darklaunch@shop"]

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            None,
            "order",
            "@shop",
            "order@",
            "order@shop#",
            "a@b@c",
            "a@b#1#2",
            "a b@c",
            "a@b$",
            "a@b%40",
            "a@b/c",
            "a@b\\c",
            "a+b@c",
            "a@b^",
            "a&b@c",
            "x" * 513,
        ],
    )
    def test_bad_dimensions(self, bad):
        assert_invalid(cc.parse_dimensions_info, bad)

    def test_write_targets(self):
        assert cc.parse_dimension_target("application") == "application"
        assert cc.parse_dimension_target("darklaunch@shop") == "darklaunch@shop"
        assert cc.parse_dimension_target("order@shop#1") == "order@shop#1"
        assert_invalid(cc.parse_dimension_target, "darklaunch@")
        assert_invalid(cc.parse_dimension_target, "applications")
        assert cc.validate_create_items("order@shop", {"k": "v"}) == ("order@shop", {"k": "v"})
        assert_invalid(cc.validate_create_items, "order@shop", {})
        assert_invalid(cc.validate_create_items, "order@shop", {"": "v"})
        assert cc.validate_delete_items("order@shop", ["k"]) == ("order@shop", ["k"])
        assert_invalid(cc.validate_delete_items, "order@shop", [])

    def test_key_filter(self):
        assert cc.compile_key_filter(None) is None and cc.compile_key_filter("") is None
        items = {"timeout": 1, "retry.times": 2, "servicecomb.timeout": 3}
        assert cc.filter_items(items, "timeout") == {"timeout": 1, "servicecomb.timeout": 3}
        assert cc.filter_items(items, "^timeout$") == {"timeout": 1}
        assert cc.filter_items(items, r"retry\..*") == {"retry.times": 2}
        assert cc.filter_items(items, None) == items
        assert cc.filter_items(items, cc.compile_key_filter("^serv")) == {"servicecomb.timeout": 3}

    @pytest.mark.parametrize(
        "bad", ["(", "[a-", "a{2,1}", "*a", r"(a)\1", "(?=a)", "(?!a)", "(?<=a)b", "(a+)+", r"(\w*x)*", "(a{1,})+", "x" * 257]
    )
    def test_bad_key_filters(self, bad):
        assert_invalid(cc.compile_key_filter, bad)

    @pytest.mark.parametrize("good", ["(foo|bar)+", "[+*]+", r"a\+b", "(ab)*", "^a.*b$", r"\d{2,3}"])
    def test_accepted_key_filters(self, good):
        assert cc.compile_key_filter(good) is not None

    def test_revision_and_merge(self):
        by_dim = {"application": {"a": "1", "b": "1"}, "order@shop": {"b": "2"}, "order@shop#1.0": {"c": "3"}, "other@x": {}}
        r1 = cc.config_revision(by_dim)
        assert r1 == cc.config_revision(dict(reversed(list(by_dim.items()))))
        assert r1 != cc.config_revision({**by_dim, "order@shop": {"b": "3"}})
        assert r1 == cc.config_revision({**by_dim, "revision": {"version": "ignored"}})
        dims = cc.parse_dimensions_info("order@shop#1.0")
        assert cc.merge_dimensions(by_dim, dims) == {"a": "1", "b": "2", "c": "3"}
        resp = c.ConfigItemsResponse.build(by_dim, r1)
        assert resp.revision == r1
        assert "other@x" not in resp.to_json() and resp.to_json()["revision"] == {"version": r1}


# ================================================================================================
# contracts
# ================================================================================================
class TestContracts:
    def test_service_roundtrip_camel_case(self):
        body = {
            "service": {
                "serviceId": "sid",
                "appId": "shop",
                "serviceName": "order",
                "version": "1.0.0",
                "level": "BACK",
                "schemas": ["hello"],
                "status": "UP",
                "properties": {"allowCrossApp": "true"},
                "environment": "production",
                "registerBy": "SDK",
                "framework": {"name": "servicecomb-java-chassis", "version": "2.8.0"},
                "paths": [{"path": "/a", "property": {"k": "v"}}],
                "LBStrategy": {"name": "RoundRobin"},
                "timestamp": "1",
                "modTimestamp": "2",
            },
            "tags": {"k": "v"},
            "instances": [{"hostName": "h", "endpoints": ["rest://1.1.1.1:80"]}],
            "unknown": "ignored",
        }
        req = c.CreateServiceRequest.model_validate(body)
        out = req.to_json()
        assert out["service"] == body["service"]
        assert "unknown" not in out and out["instances"] == [{"hostName": "h", "endpoints": ["rest://1.1.1.1:80"]}]
        assert req.service.app_id == "shop" and req.service.lb_strategy == {"name": "RoundRobin"}
        # snake_case population works too
        assert c.MicroService(service_name="a", app_id="b").to_json() == {"serviceName": "a", "appId": "b"}

    def test_keys_are_case_insensitive_like_go(self):
        req = c.CreateServiceRequest.model_validate({"Service": {"ServiceName": "a", "APPID": "b", "Framework": {"Name": "x"}}})
        assert req.service.service_name == "a" and req.service.app_id == "b" and req.service.framework.name == "x"
        # the exact name wins when both are present
        assert c.MicroService.model_validate({"serviceName": "exact", "ServiceName": "other"}).service_name == "exact"

    def test_instance_contract(self):
        body = {
            "instanceId": "i1",
            "serviceId": "s1",
            "hostName": "h",
            "endpoints": ["rest://1.1.1.1:80"],
            "status": "UP",
            "properties": {"a": "b"},
            "healthCheck": {"mode": "push", "port": 0, "interval": 30, "times": 3},
            "dataCenterInfo": {"name": "dc", "region": "r", "availableZone": "az"},
            "timestamp": "1",
            "modTimestamp": "1",
            "version": "1.0.0",
        }
        assert c.MicroServiceInstance.model_validate(body).to_json() == body
        assert c.RegisterInstanceResponse(instance_id="i1").to_json() == {"instanceId": "i1"}
        assert c.GetOneInstanceResponse(instance=c.MicroServiceInstance.model_validate(body)).to_json()["instance"]["hostName"] == "h"
        assert c.GetInstancesResponse().to_json() == {}

    def test_schema_contracts(self):
        r = c.ModifySchemaRequest.model_validate({"schema": "swagger", "summary": "abc"})
        assert r.schema_ == "swagger" and r.to_json() == {"schema": "swagger", "summary": "abc"}
        assert c.GetSchemaResponse(schema="swagger").to_json() == {"schema": "swagger"}
        all_ = c.GetAllSchemaResponse(schemas=[c.Schema(schema_id="a", summary="s")])
        assert all_.to_json() == {"schemas": [{"schemaId": "a", "summary": "s"}]}
        assert c.GetAllSchemaResponse().to_json() == {}
        ex = c.GetExistenceResponse(service_id="sid", schema_id="a", summary="s")
        assert ex.to_json() == {"serviceId": "sid", "schemaId": "a", "summary": "s"}
        assert c.GetExistenceResponse(service_id="sid").to_json() == {"serviceId": "sid"}

    def test_dependency_contracts(self):
        body = {
            "dependencies": [
                {
                    "consumer": {"environment": "", "appId": "shop", "serviceName": "web", "version": "1.0.0"},
                    "providers": [{"appId": "shop", "serviceName": "order", "version": "1.0.0+"}],
                }
            ]
        }
        req = c.CreateDependenciesRequest.model_validate(body)
        assert req.to_json() == body
        assert c.GetProvidersResponse(providers=[c.MicroService(service_id="p")]).to_json() == {"providers": [{"serviceId": "p"}]}

    def test_batch_find_contracts(self):
        resp = c.BatchFindInstancesResponse(
            services=c.BatchFindResult(
                updated=[c.FindResult(index=0, rev="r0", instances=[c.MicroServiceInstance(instance_id="i")])],
                not_modified=[1],
                failed=[c.FindFailedResult(indexes=[2, 3], error=c.ErrorResponse.of(e.service_not_exists("nope")))],
            )
        )
        assert resp.to_json() == {
            "services": {
                "updated": [{"index": 0, "rev": "r0", "instances": [{"instanceId": "i"}]}],
                "notModified": [1],
                "failed": [
                    {"indexes": [2, 3], "error": {"errorCode": "400012", "errorMessage": "Micro-service does not exist", "detail": "nope"}}
                ],
            }
        }
        assert c.FindInstancesRequest is c.BatchFindInstancesRequest

    def test_misc_contracts(self):
        assert c.DeleteServicesResponse(
            services=[c.DeleteServiceResult(service_id="a"), c.DeleteServiceResult(service_id="b", err_message="x")]
        ).to_json() == {"services": [{"serviceId": "a"}, {"serviceId": "b", "errMessage": "x"}]}
        assert c.DeleteServicesRequest.model_validate({"serviceIds": ["a"], "force": True}).force is True
        assert c.HeartbeatSetResponse(instances=[c.InstanceHeartbeatResult(service_id="s", instance_id="i")]).to_json() == {
            "instances": [{"serviceId": "s", "instanceId": "i"}]
        }
        assert c.UpdatePropertiesRequest.model_validate({"properties": {"a": "b"}}).properties == {"a": "b"}
        assert c.CreateServiceResponse(service_id="x").to_json() == {"serviceId": "x"}
        assert c.GetTagsResponse(tags={"a": "b"}).to_json() == {"tags": {"a": "b"}}
        assert c.CreateConfigItemsRequest.model_validate({"dimensionsInfo": "a@b", "items": {"k": 1}}).dimensions_info == "a@b"
        assert c.DeleteConfigItemsRequest.model_validate({"dimensionsInfo": "a@b", "keys": ["k"]}).keys == ["k"]
        assert c.ConfigItemsWriteResponse().to_json() == {"Result": "Success"}
        w = c.WatchInstanceResponse(action="CREATE", key=c.MicroServiceKey(app_id="a"), instance=c.MicroServiceInstance(instance_id="i"))
        assert w.to_json() == {"action": "CREATE", "key": {"appId": "a"}, "instance": {"instanceId": "i"}}


def test_domain_layer_has_no_io_imports():
    import inspect

    for module in (v, vr, h, rv, ident, cc, e, c, registry_model):
        src = inspect.getsource(module)
        for forbidden in (
            "import pymongo",
            "from pymongo",
            "import bson",
            "from bson",
            "import nats",
            "from nats",
            "import fastapi",
            "from fastapi",
        ):
            assert forbidden not in src, (module.__name__, forbidden)
