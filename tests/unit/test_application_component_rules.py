"""Pure rules of applications, components and application configuration (no I/O)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.contracts import errors
from services.contracts.app_configurations import ApplicationConfigModify, ConfigurationBody
from services.contracts.applications import ApplicationModify, CreateApplication, ListApplications
from services.contracts.components import (
    Build,
    BuildParameters,
    ComponentCreate,
    ComponentListQuery,
    ComponentModify,
    ListComponents,
    SourceObject,
    SourceSpec,
)
from services.contracts.environments import ListEnvironments
from services.contracts.errors import ServiceError
from services.domain.config import app_configurations as config_rules
from services.domain.lifecycle import applications as app_rules
from services.domain.lifecycle import components as rules
from services.domain.lifecycle import entities

NOW = 1_700_000_000_000


# --- applications ------------------------------------------------------------------------------
def test_new_application_defaults():
    app = app_rules.new_application("p1", "a1", CreateApplication(name="Shop", creator="AK"), NOW)
    assert (app.id, app.name, app.project_id, app.creator) == ("a1", "Shop", "p1", "AK")
    assert app.enterprise_project_id == "0" and app.component_count == 0
    assert app.create_time == app.update_time == NOW and app.unified_model is None


def test_modified_application_changes_only_what_is_given():
    app = app_rules.new_application("p1", "a1", CreateApplication(name="Shop", description="d"), NOW)
    changed = entities.modified(app, ApplicationModify(description="new"), NOW + 5)
    assert changed.name == "Shop" and changed.description == "new" and changed.update_time == NOW + 5
    assert changed.create_time == NOW
    with pytest.raises(ServiceError) as err:
        entities.modified(app, ApplicationModify(), NOW)
    assert err.value.status == 400 and err.value.message == "nothing to change: give name or description"


def test_application_names_and_deletion():
    assert entities.name_key("ShopApp") == entities.name_key("shopapp")
    for bad in ("x", "1abc", "abc-", "a" * 65, "a b", "a.b"):
        with pytest.raises(ValidationError):
            CreateApplication(name=bad)
    CreateApplication(name="a" * 64)
    app = app_rules.new_application("p1", "a1", CreateApplication(name="Shop"), NOW)
    app_rules.check_deletable(app, 0)
    with pytest.raises(ServiceError) as err:
        app_rules.check_deletable(app, 2)
    assert err.value.status == 409 and err.value.code == errors.APPLICATION_HAS_COMPONENTS


def test_list_queries():
    assert ListApplications().limit == 0 and ListApplications().order == "desc"
    for bad in ({"limit": 101}, {"limit": -1}, {"offset": -1}, {"order_by": "creator"}, {"order": "up"}):
        for query in (ListApplications, ListEnvironments, ComponentListQuery):  # the SDK: limit [0, 100]
            with pytest.raises(ValidationError):
                query(**bad)
    assert ListEnvironments(limit=100).limit == 100 and ListEnvironments().limit == 0
    with pytest.raises(ValidationError):
        ListComponents(application_id="a.b")


# --- components ----------------------------------------------------------------------------------
def body(**kw) -> ComponentCreate:
    return ComponentCreate.model_validate({"name": "comp", "runtime": "Java8", "category": "MicroService", **kw})


CODE = {"kind": "code", "spec": {"repo_type": "GitHub", "repo_url": "https://github.com/x/y.git"}}
SWR = {"kind": "artifact", "spec": {"storage": "swr", "type": "package", "url": "swr.io/o/i:1"}}


def new(**kw):
    return rules.new_component("p1", "a1", "c1", body(**kw), "AK", NOW, build_id="b1")


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.code


def test_runtime_must_be_in_the_catalogue():
    for runtime in ("Java8", "Tomcat8", "Php7", "Nodejs8", "Python3", "Docker", "Custom"):
        rules.check_runtime(runtime)
    with pytest.raises(ServiceError) as err:
        rules.check_runtime("java8")
    assert err.value.status == 400 and code_of(err) == errors.RUNTIME_NOT_SUPPORTED


@pytest.mark.parametrize(
    "category, sub, ok",
    [
        ("Webapp", "Web", True),
        ("Webapp", "Magento", True),
        ("Webapp", "Wordpress", True),
        ("MicroService", "Java Chassis", True),
        ("MicroService", "SpringCloud", True),
        ("MicroService", "Mesher", True),
        ("MicroService", "Go Chassis", True),
        ("MicroService", "Dubbo", False),  # not in the SDK's ComponentSubCategory
        ("Webapp", "Java Chassis", False),
        ("MicroService", "Web", False),
        ("Common", "Web", False),
        ("Common", None, True),
        ("Webapp", None, True),
        ("Common", "", True),
    ],
)
def test_sub_category_belongs_to_category(category, sub, ok):
    if ok:
        assert rules.normalized_sub_category(category, sub) == (sub or None)
    else:
        with pytest.raises(ServiceError) as err:
            rules.normalized_sub_category(category, sub)
        assert code_of(err) == errors.COMPONENT_CATEGORY_INVALID


def test_code_source_defaults_and_rules():
    component = new(source=CODE)
    assert component.source.kind == "code" and component.source.spec.repo_ref == "master"
    assert new(source={"kind": "code", "spec": {**CODE["spec"], "repo_ref": "v1.2"}}).source.spec.repo_ref == "v1.2"
    for spec, fragment in (
        ({"repo_type": "GitHub"}, "repo_url"),
        ({"repo_url": "https://x/y"}, "repo_type"),
        ({"repo_type": "GitHub", "repo_url": "git@github.com:x/y.git"}, "http"),
        ({**CODE["spec"], "url": "u"}, "url"),
        ({**CODE["spec"], "storage": "swr"}, "storage"),
    ):
        with pytest.raises(ServiceError) as err:
            new(source={"kind": "code", "spec": spec})
        assert code_of(err) == errors.COMPONENT_SOURCE_INVALID and fragment in err.value.message


def test_artifact_source_defaults_and_rules():
    component = new(source=SWR)
    assert component.source.spec.auth == "iam" and component.source.spec.repo_ref is None
    obs = {
        "kind": "artifact",
        "spec": {
            "storage": "obs",
            "type": "package",
            "url": "https://o/b/k.jar",
            "properties": {"endpoint": "https://o", "bucket": "bkt", "key": "k.jar"},
            "auth": "none",
        },
    }
    assert new(source=obs).source.spec.auth == "none"
    for spec, fragment in (
        ({"storage": "swr", "type": "package"}, "url"),
        ({"type": "package", "url": "u"}, "storage"),
        ({"storage": "swr", "url": "u"}, "type"),
        ({**SWR["spec"], "repo_url": "https://x"}, "repo_url"),
        ({**SWR["spec"], "properties": {"bucket": "bkt"}}, "obs"),
    ):
        with pytest.raises(ServiceError) as err:
            new(source={"kind": "artifact", "spec": spec})
        assert code_of(err) == errors.COMPONENT_SOURCE_INVALID and fragment in err.value.message


def test_source_enumerations_are_checked_by_the_contract():
    for source in (
        {"kind": "svn", "spec": {}},
        {"kind": "code", "spec": {"repo_type": "SVN"}},
        {"kind": "artifact", "spec": {"storage": "nfs"}},
        {"kind": "artifact", "spec": {"type": "zip"}},
        {"kind": "artifact", "spec": {"auth": "token"}},
        {"kind": "code"},
    ):
        with pytest.raises(ValidationError):
            body(source=source)
    # webUrl is the wire name of web_url
    spec = SourceSpec.model_validate({"webUrl": "https://w"})
    assert spec.web_url == "https://w" and spec.model_dump(by_alias=True, exclude_none=True) == {"webUrl": "https://w"}


def test_build_rules_and_defaults():
    component = new(source=CODE, build={"parameters": {"cluster_id": "c-1", "node_label_selector": {"a/b": "c"}}})
    assert component.build.id == "b1"
    params = component.build.parameters
    assert params.artifact_namespace == "cas_p1" and params.dockerfile_path == "./" and params.cluster_id == "c-1"
    assert params.node_label_selector == {"a/b": "c"} and params.build_cmd is None
    kept = new(source=SWR, build={"parameters": {"cluster_id": "c", "artifact_namespace": "team", "dockerfile_path": "d/"}})
    assert (kept.build.parameters.artifact_namespace, kept.build.parameters.dockerfile_path) == ("team", "d/")
    for kw, fragment in (
        ({"build": {"parameters": {"cluster_id": "c"}}}, "source"),
        ({"source": CODE, "build": {"parameters": {}}}, "cluster_id"),
    ):
        with pytest.raises(ServiceError) as err:
            new(**kw)
        assert code_of(err) == errors.COMPONENT_BUILD_INVALID and fragment in err.value.message
    for params in (
        {"cluster_id": "c", "node_label_selector": {"$x": "1"}},
        {"cluster_id": "c", "node_label_selector": {f"k{i}": "v" for i in range(21)}},
        {"cluster_id": "a b"},
        {"cluster_id": "c", "artifact_namespace": "Has Space"},
    ):
        with pytest.raises(ValidationError):
            Build(parameters=BuildParameters.model_validate(params))


def test_check_create_runs_every_rule():
    rules.check_create(body(sub_category="Java Chassis", source=CODE, build={"parameters": {"cluster_id": "c"}}))
    for kw, code in (
        ({"runtime": "Go1"}, errors.RUNTIME_NOT_SUPPORTED),
        ({"sub_category": "Web"}, errors.COMPONENT_CATEGORY_INVALID),
        ({"source": {"kind": "code", "spec": {}}}, errors.COMPONENT_SOURCE_INVALID),
        ({"build": {"parameters": {"cluster_id": "c"}}}, errors.COMPONENT_BUILD_INVALID),
    ):
        with pytest.raises(ServiceError) as err:
            rules.check_create(body(**kw))
        assert code_of(err) == code


def test_component_fields():
    component = new(sub_category="", description="d")
    assert component.status == 0 and component.pipeline_ids == [] and component.sub_category is None
    assert (component.project_id, component.application_id, component.creator) == ("p1", "a1", "AK")
    assert component.create_time == component.update_time == NOW
    with pytest.raises(ValidationError):
        body(category="Desktop")
    with pytest.raises(ValidationError):
        body(name="c" * 65)


def test_modified_component():
    component = new(source=CODE, build={"parameters": {"cluster_id": "c1"}})
    changed = rules.modified(component, ComponentModify(description="x"), NOW + 1, build_id="other")
    assert changed.description == "x" and changed.source == component.source and changed.build == component.build
    assert changed.update_time == NOW + 1 and changed.runtime == "Java8"
    rebuilt = rules.modified(
        component, ComponentModify.model_validate({"source": SWR, "build": {"parameters": {"cluster_id": "c2"}}}), NOW + 2, build_id="other"
    )
    assert rebuilt.source.kind == "artifact" and rebuilt.build.id == "b1" and rebuilt.build.parameters.cluster_id == "c2"
    fresh = rules.modified(
        new(), ComponentModify.model_validate({"source": CODE, "build": {"parameters": {"cluster_id": "c"}}}), NOW, build_id="new-build"
    )
    assert fresh.build.id == "new-build"
    with pytest.raises(ServiceError) as err:
        rules.modified(component, ComponentModify(), NOW, build_id="x")
    assert err.value.message == "nothing to change: give name, description, source or build"
    with pytest.raises(ServiceError) as err:
        rules.modified(new(), ComponentModify.model_validate({"build": {"parameters": {"cluster_id": "c"}}}), NOW, "x")
    assert code_of(err) == errors.COMPONENT_BUILD_INVALID
    with pytest.raises(ServiceError) as err:
        rules.modified(component, ComponentModify(source=SourceObject(kind="artifact", spec=SourceSpec())), NOW, "x")
    assert code_of(err) == errors.COMPONENT_SOURCE_INVALID


# --- application configuration -----------------------------------------------------------------
def conf(*pairs) -> ConfigurationBody:
    return ConfigurationBody.model_validate({"env": [{"name": n, "value": v} for n, v in pairs]})


def test_duplicate_names_keep_the_last_value_in_first_place():
    normalized = config_rules.normalized(conf(("A", "1"), ("B", "2"), ("A", "3")))
    assert [(v.name, v.value) for v in normalized.env] == [("A", "3"), ("B", "2")]


def test_revisions_and_changes():
    assert config_rules.next_revision(None) == 1 and config_rules.next_revision(3) == 4
    assert config_rules.is_change(None, conf())
    assert not config_rules.is_change(conf(("A", "1")), conf(("A", "1")))
    assert config_rules.is_change(conf(("A", "1")), conf(("A", "2")))
    assert config_rules.is_change(conf(("A", "1"), ("B", "2")), conf(("B", "2"), ("A", "1")))  # order is part of it


@pytest.mark.parametrize(
    "name, ok",
    [
        ("LOG_LEVEL", True),
        ("_private", True),
        ("-dash", True),
        (".dot", True),
        ("a.b-c_d9", True),
        ("N" * 64, True),
        ("9lives", False),
        ("", False),
        ("has space", False),
        ("N" * 65, False),
        ("a=b", False),
        ("$x", False),
    ],
)
def test_variable_names(name, ok):
    data = {"environment_id": "env-1", "configuration": {"env": [{"name": name, "value": "v"}]}}
    if ok:
        ApplicationConfigModify.model_validate(data)
    else:
        with pytest.raises(ValidationError):
            ApplicationConfigModify.model_validate(data)


def test_configuration_body_limits():
    with pytest.raises(ValidationError):
        ApplicationConfigModify.model_validate({"environment_id": "e", "configuration": {}})
    with pytest.raises(ValidationError):
        ApplicationConfigModify.model_validate({"environment_id": "e/1", "configuration": {"env": []}})
    with pytest.raises(ValidationError):
        ConfigurationBody.model_validate({"env": [{"name": "A", "value": "v" * 8193}]})
    with pytest.raises(ValidationError):
        ConfigurationBody.model_validate({"env": [{"name": f"A{i}", "value": ""} for i in range(1001)]})
