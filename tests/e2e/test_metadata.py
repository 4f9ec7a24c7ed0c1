"""Metadata calls through the official SDK."""

from huaweicloudsdkservicestage.v2.model import ListFlavorsRequest, ListRuntimesRequest, ListTemplatesRequest


def test_runtimes_catalogue(sdk_factory):
    resp = sdk_factory("metaproj").list_runtimes(ListRuntimesRequest())
    names = {r.type_name for r in resp.runtimes}
    assert {"Java8", "Tomcat8", "Php7", "Nodejs8", "Python3", "Docker", "Custom"} <= names
    java = next(r for r in resp.runtimes if r.type_name == "Java8")
    assert java.container_default_port == 8080 and java.display_name and java.type_desc


def test_flavors_catalogue(sdk_factory):
    resp = sdk_factory("metaproj").list_flavors(ListFlavorsRequest())
    ids = [f.flavor_id for f in resp.flavors]
    assert "MICRO-5G:0.5C:1G" in ids and "STANDARD-30G:2.0C:4G" in ids
    custom = [f for f in resp.flavors if f.custom]
    assert len(custom) == 1 and custom[0].flavor_id.startswith("CUSTOM-")
    small = next(f for f in resp.flavors if f.flavor_id == "SMALL-10G:1.0C:2G")
    assert (small.num_cpu, small.memory_size, small.storage_size) == ("1.0", "2G", "10G")


def test_templates_catalogue(sdk_factory):
    resp = sdk_factory("metaproj").list_templates(ListTemplatesRequest())
    names = {t.template_name for t in resp.templates}
    assert names == {"wordpress", "magento", "mbaas"}
    assert all(t.runtime and t.source_repo_url.startswith("https://") for t in resp.templates)
