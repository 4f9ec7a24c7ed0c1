"""Service-Center's own registration as openstage writes it (services/domain/registry/global_services.py)."""

from __future__ import annotations

from services.domain.registry.global_services import endpoint_of, global_instance, global_service, is_global, version_body
from services.settings import Settings, registry_advertise_url


def test_endpoints_as_servicecomb_clients_read_them():
    assert endpoint_of("http://10.0.0.5:8080") == "rest://10.0.0.5:8080"
    assert endpoint_of("https://sc.example") == "rest://sc.example:443?sslEnabled=true"
    assert endpoint_of("10.0.0.5:30100") == "rest://10.0.0.5:30100"
    assert endpoint_of("http://[::1]:8080") == "rest://[::1]:8080"


def test_global_service_and_instance_are_the_same_in_every_process():
    a = global_service("p", "SERVICECENTER", "2.2.0", "1")
    assert a["serviceId"] == global_service("p", "SERVICECENTER", "2.2.0", "2")["serviceId"]
    assert a["serviceId"] != global_service("q", "SERVICECENTER", "2.2.0", "1")["serviceId"]
    assert a["appId"] == "default" and a["environment"] == "production" and a["properties"] == {"allowCrossApp": "true"}
    i = global_instance(a, "http://h:1", "1")
    assert i["instanceId"] == global_instance(a, "http://h:1", "9")["instanceId"] and len(i["instanceId"]) == 32
    assert i["instanceId"] != global_instance(a, "http://h:2", "1")["instanceId"]


def test_is_global_needs_app_default():
    assert is_global("default", "SERVICECENTER") and is_global("default", "KIE") and is_global("default", "CseConfigCenter")
    assert not is_global("shop", "SERVICECENTER") and not is_global("default", "order")


def test_version_body_and_advertised_address():
    assert version_body()["apiVersion"] == "4.0.0"
    assert registry_advertise_url(Settings(host="0.0.0.0", port=9)) == "http://127.0.0.1:9"
    assert registry_advertise_url(Settings(registry_advertise_url="http://x:1")) == "http://x:1"
