"""The v2 error catalogue (services/contracts/errors.py) against Huawei's table, and the rules that
answer its codes (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api_edge.error_responses import default_code
from services.contracts import errors
from services.contracts.components import Component
from services.contracts.environments import CreateEnvironment, EnvironmentCreate, EnvironmentResourceModify, Resource
from services.contracts.errors import CATALOGUE, HUAWEI_BAND, HUAWEI_CODES, ServiceError
from services.domain.lifecycle import components as component_rules
from services.domain.lifecycle import environments as environment_rules

NOW = 1_700_000_000_000


def _number(code: str) -> int:
    assert code.startswith("SVCSTG.00100") and len(code) == len("SVCSTG.00100") + 3, code
    return int(code.removeprefix("SVCSTG.00100"))


def test_every_code_of_the_module_is_in_the_catalogue_once():
    constants = {value for name, value in vars(errors).items() if name.isupper() and isinstance(value, str) and value.startswith("SVCSTG.")}
    listed = [entry.code for entry in CATALOGUE]
    assert len(listed) == len(set(listed))
    assert constants == set(listed)


def test_huawei_codes_answer_the_tables_status_and_cite_the_page():
    for entry in CATALOGUE:
        if entry.source == "openstage":
            continue
        row = HUAWEI_CODES[entry.code]
        assert entry.status == row.status, entry
        assert "servicestage" in entry.source.lower(), entry


def test_openstage_codes_never_reuse_a_huawei_number():
    for entry in CATALOGUE:
        if entry.source != "openstage":
            continue
        assert entry.code not in HUAWEI_CODES, entry
        number = _number(entry.code)
        # 5xx keep the HTTP status (meaning just that); the rest stay out of Huawei's band
        assert number not in HUAWEI_BAND or (number == entry.status and entry.status >= 500), entry


@pytest.mark.parametrize(
    "code, status",
    [
        ("SVCSTG.00100400", 400),
        ("SVCSTG.00100402", 400),
        ("SVCSTG.00100414", 400),
        ("SVCSTG.00100418", 400),
        ("SVCSTG.00100420", 400),
        ("SVCSTG.00100422", 400),
        ("SVCSTG.00100425", 400),
        ("SVCSTG.00100449", 400),
        ("SVCSTG.00100403", 404),
        ("SVCSTG.00100404", 404),
        ("SVCSTG.00100411", 404),
        ("SVCSTG.00100412", 404),
        ("SVCSTG.00100429", 404),
        ("SVCSTG.00100436", 404),
    ],
)
def test_the_situations_of_the_table_are_in_the_catalogue(code, status):
    assert any(entry.code == code and entry.status == status for entry in CATALOGUE)


def test_the_edges_generic_codes_mean_what_they_say():
    path = "/v2/p/cas/environments"
    for status in (401, 403, 404, 405, 408, 409, 413, 429, 431):
        code = default_code(path, status)
        assert code not in HUAWEI_CODES and _number(code) == 300 + status
    assert default_code(path, 400) == "SVCSTG.00100400"
    assert default_code(path, 500) == "SVCSTG.00100500" and default_code(path, 503) == "SVCSTG.00100503"
    assert errors.INVALID_JSON == errors.INVALID_PARAMETER  # a body that is not JSON: parameter invalid


def test_huawei_error_has_the_tables_status_and_message():
    err = errors.huawei_error(errors.SNAPSHOT_NOT_FOUND, "no 2.0.0")
    assert (err.status, err.code, err.message) == (404, "SVCSTG.00100436", "snapshot not found: no 2.0.0")


# --- environments --------------------------------------------------------------------------------
def _create(**kw) -> CreateEnvironment:
    body = {"name": "dev", "deploy_mode": "container", "vpc_id": "vpc-1", **kw}
    return CreateEnvironment.model_validate(body)


def test_an_environment_without_base_resources_is_00100422():
    for kw in ({"base_resources": []}, {}, {"base_resources": None}):
        with pytest.raises(ServiceError) as err:
            environment_rules.new_environment("p", "e1", _create(**kw), NOW)
        assert (err.value.status, err.value.code) == (400, "SVCSTG.00100422"), kw
    assert "base_resources" in EnvironmentCreate.model_json_schema()["required"]  # still documented as required
    env = environment_rules.new_environment("p", "e1", _create(base_resources=[{"id": "c1", "type": "cce"}]), NOW)
    removing_last = EnvironmentResourceModify(remove_resources=[Resource(id="c1", type="cce")])
    with pytest.raises(ServiceError) as err:
        environment_rules.with_resources(env, removing_last, NOW)
    assert err.value.code == "SVCSTG.00100422"


def test_base_resources_are_cce_ecs_as_and_cci_is_optional():
    for kind in ("cce", "ecs", "as"):
        environment_rules.new_environment("p", "e1", _create(base_resources=[{"id": "r", "type": kind}]), NOW)
    with pytest.raises(ServiceError) as err:
        environment_rules.new_environment("p", "e1", _create(base_resources=[{"id": "r", "type": "cci"}]), NOW)
    assert (err.value.status, err.value.code) == (400, "SVCSTG.00100400")
    env = environment_rules.new_environment(
        "p", "e1", _create(base_resources=[{"id": "c", "type": "cce"}], optional_resources=[{"id": "k", "type": "cci"}]), NOW
    )
    assert [r.type for r in env.optional_resources] == ["cci"]


def test_the_create_answer_has_empty_resources():
    env = environment_rules.new_environment(
        "p", "e1", _create(base_resources=[{"id": "c", "type": "cce"}], optional_resources=[{"id": "l", "type": "elb"}]), NOW
    )
    answered = environment_rules.as_created(env)
    assert answered.base_resources == [] and answered.optional_resources == []
    assert answered.model_copy(update={"base_resources": env.base_resources, "optional_resources": env.optional_resources}) == env


def test_an_environment_with_instances_is_not_deleted():
    environment_rules.check_deletable("e1", [])
    with pytest.raises(ServiceError) as err:
        environment_rules.check_deletable("e1", ["web-1"])
    assert (err.value.status, err.value.code) == (400, "SVCSTG.00100402")
    assert err.value.message.startswith("component was deployed, uninstall first") and "web-1" in err.value.message


# --- components ----------------------------------------------------------------------------------
def _component(status: int = 0) -> Component:
    return Component(
        id="c1",
        name="web",
        status=status,
        runtime="Docker",
        category="Webapp",
        project_id="p",
        application_id="a",
        creator="x",
        create_time=1,
        update_time=1,
    )


def test_a_component_with_instances_is_deleted_only_by_force():
    component_rules.check_deletable("c1", [])
    with pytest.raises(ServiceError) as err:
        component_rules.check_deletable("c1", ["web-1", "web-2"])
    assert (err.value.status, err.value.code) == (400, "SVCSTG.00100402") and "force=true" in err.value.message


def test_a_component_being_deleted():
    component = _component()
    assert not component_rules.being_deleted(component)
    component_rules.check_accepts_instances(component)
    marked = component_rules.marked_for_deletion(component, NOW)
    assert component_rules.being_deleted(marked) and marked.status == 1 and marked.update_time == NOW
    assert component_rules.marked_for_deletion(marked, NOW + 1) is marked  # marking twice changes nothing
    with pytest.raises(ServiceError) as err:
        component_rules.check_accepts_instances(marked)
    assert (err.value.status, err.value.code) == (400, errors.COMPONENT_BEING_DELETED)


def test_runtime_and_sub_category_follow_the_sdk():
    with pytest.raises(ServiceError) as err:
        component_rules.check_runtime("Go1")
    assert (err.value.status, err.value.code) == (400, "SVCSTG.00100420")
    allowed = set().union(*component_rules.SUB_CATEGORIES.values())
    # the SDK's ComponentSubCategory
    assert allowed == {"Web", "Magento", "Wordpress", "SpringCloud", "Java Chassis", "Go Chassis", "Mesher"}


def test_the_readme_shows_the_catalogue_as_it_is():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Errors\n") : readme.index("## Health\n")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`SVCSTG."):
            rows[cells[1].strip("`")] = (int(cells[0]), cells[3])
    assert set(rows) == {entry.code for entry in CATALOGUE}
    for entry in CATALOGUE:
        status, source = rows[entry.code]
        assert status == entry.status, entry
        assert source.startswith("openstage" if entry.source == "openstage" else "Huawei"), entry
