"""Environment calls through the official SDK against the running system."""

from __future__ import annotations

import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import (
    ChangeEnvironmentRequest,
    ChangeResourceInEnvironmentRequest,
    CreateEnvironmentRequest,
    DeleteEnvironmentRequest,
    EnvironmentCreate,
    EnvironmentModify,
    EnvironmentResourceModify,
    ListEnvironmentsRequest,
    Resource,
    ShowEnvironmentDetailRequest,
)

from tests.support.deploy import unique
from tests.support.system import TENANT_A, TENANT_B


def create(client, name: str, **kw):
    body = EnvironmentCreate(
        name=name,
        alias=kw.get("alias", "Dev"),
        description=kw.get("description", "development"),
        deploy_mode=kw.get("deploy_mode", "container"),
        vpc_id=kw.get("vpc_id", "vpc-1"),
        base_resources=kw.get("base_resources", [Resource(id="cce-1", type="cce", name="cluster")]),
        optional_resources=kw.get("optional_resources", [Resource(id="elb-1", type="elb")]),
    )
    return client.create_environment(CreateEnvironmentRequest(body=body))


def test_create_show_change_delete(sdk_factory):
    client = sdk_factory("envproj")
    name = unique("env")
    created = create(client, name)
    assert created.id and created.name == name and created.project_id == "envproj"
    assert created.deploy_mode == "container" and created.vpc_id == "vpc-1"
    assert created.charge_mode == "provided"
    # the create answer returns the resources empty (servicestage_06_0023: "返回为空"); GET returns them
    assert created.base_resources == [] and created.optional_resources == []
    assert created.create_time == created.update_time and created.create_time > 1_600_000_000_000

    shown = client.show_environment_detail(ShowEnvironmentDetailRequest(environment_id=created.id))
    assert [(r.id, r.type) for r in shown.base_resources] == [("cce-1", "cce")]
    assert [(r.id, r.type) for r in shown.optional_resources] == [("elb-1", "elb")]
    expected = {**created.to_json_object(), "base_resources": shown.to_json_object()["base_resources"]}
    expected["optional_resources"] = shown.to_json_object()["optional_resources"]
    assert shown.to_json_object() == expected

    changed = client.change_environment(
        ChangeEnvironmentRequest(environment_id=created.id, body=EnvironmentModify(alias="Renamed", description="new"))
    )
    assert changed.alias == "Renamed" and changed.description == "new" and changed.name == name
    assert changed.update_time >= created.update_time

    resources = client.change_resource_in_environment(
        ChangeResourceInEnvironmentRequest(
            environment_id=created.id,
            body=EnvironmentResourceModify(
                add_base_resources=[Resource(id="ecs-1", type="ecs")],
                add_optional_resources=[Resource(id="rds-1", type="rds")],
                remove_resources=[Resource(id="elb-1", type="elb")],
            ),
        )
    )
    assert sorted(r.id for r in resources.base_resources) == ["cce-1", "ecs-1"]
    assert [r.id for r in resources.optional_resources] == ["rds-1"]

    client.delete_environment(DeleteEnvironmentRequest(environment_id=created.id))
    with pytest.raises(ClientRequestException) as err:
        client.show_environment_detail(ShowEnvironmentDetailRequest(environment_id=created.id))
    assert err.value.status_code == 404 and err.value.error_code.startswith("SVCSTG.")
    with pytest.raises(ClientRequestException) as err:
        client.delete_environment(DeleteEnvironmentRequest(environment_id=created.id))
    assert err.value.status_code == 404


def test_list_pagination_and_ordering(sdk_factory):
    project = f"list{uuid.uuid4().hex[:8]}"
    client = sdk_factory(project)
    names = [f"e{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
    ids = [create(client, n).id for n in names]

    everything = client.list_environments(ListEnvironmentsRequest())
    assert everything.count == 5
    assert [e.id for e in everything.environments] == list(reversed(ids))  # newest first by default

    asc = client.list_environments(ListEnvironmentsRequest(order_by="create_time", order="asc"))
    assert [e.id for e in asc.environments] == ids

    page = client.list_environments(ListEnvironmentsRequest(limit=2, offset=1, order="asc"))
    assert page.count == 5 and [e.id for e in page.environments] == ids[1:3]

    by_name = client.list_environments(ListEnvironmentsRequest(order_by="name", order="asc"))
    assert [e.name for e in by_name.environments] == sorted(names, key=str.lower)

    with pytest.raises(ClientRequestException) as err:
        client.list_environments(ListEnvironmentsRequest(order_by="nonsense"))
    assert err.value.status_code == 400


def test_names_are_unique_per_project_case_insensitive(sdk_factory):
    client = sdk_factory("uniqproj")
    name = unique("Uniq")
    create(client, name)
    with pytest.raises(ClientRequestException) as err:
        create(client, name.upper())
    assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100449"
    # the same name in another project is fine
    assert create(sdk_factory("uniqproj2"), name).name == name
    # renaming onto an existing name is refused too
    other = create(client, unique("Other"))
    with pytest.raises(ClientRequestException) as err:
        client.change_environment(ChangeEnvironmentRequest(environment_id=other.id, body=EnvironmentModify(name=name)))
    assert err.value.status_code == 400


def test_cross_project_isolation(sdk_factory):
    a = sdk_factory("tenanta", TENANT_A)
    env = create(a, unique("env"))
    # tenant B's credential may not touch tenant A's project at all
    b_on_a = sdk_factory("tenanta", TENANT_B)
    with pytest.raises(ClientRequestException) as err:
        b_on_a.list_environments(ListEnvironmentsRequest())
    assert err.value.status_code == 403
    # and in its own project it does not see A's environment
    b = sdk_factory("tenantb", TENANT_B)
    assert env.id not in [e.id for e in b.list_environments(ListEnvironmentsRequest()).environments]
    with pytest.raises(ClientRequestException) as err:
        b.show_environment_detail(ShowEnvironmentDetailRequest(environment_id=env.id))
    assert err.value.status_code == 404


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"name": "x", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "c", "type": "cce"}]}, "name"),
        ({"name": "1abc", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "c", "type": "cce"}]}, "name"),
        ({"name": "a" * 10240, "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "c", "type": "cce"}]}, "name"),
        ({"name": "okname", "deploy_mode": "moon", "vpc_id": "v", "base_resources": [{"id": "c", "type": "cce"}]}, "deploy_mode"),
        ({"name": "okname", "deploy_mode": "container", "base_resources": [{"id": "c", "type": "cce"}]}, "vpc_id"),
        ({"name": "okname", "deploy_mode": "container", "vpc_id": "v", "base_resources": []}, "base_resources"),
        ({"name": "okname", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "c", "type": "dcs"}]}, "basic"),
        ({"name": {"$gt": ""}, "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "c", "type": "cce"}]}, "name"),
        ({"name": "okname", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": {"$ne": 1}, "type": "cce"}]}, "id"),
        ([1, 2, 3], ""),
    ],
)
def test_malformed_bodies_are_400_with_error_code(signed, body, fragment):
    r = signed.post("/v2/badproj/cas/environments", json=body)
    assert r.status_code == 400, r.text
    payload = r.json()
    assert payload["error_code"].startswith("SVCSTG.00100") and fragment in payload["error_msg"]
    # nothing was created
    assert signed.get("/v2/badproj/cas/environments").json()["count"] == 0


def test_non_json_and_oversized_bodies(signed):
    r = signed.post("/v2/badproj/cas/environments", content=b"{not json")
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100400"
    r = signed.post("/v2/badproj/cas/environments", content=b"x" * (1_048_576 + 10))
    assert r.status_code == 413 and r.json()["error_code"] == "SVCSTG.00100713"


def test_unknown_and_malformed_ids_are_4xx(signed):
    assert signed.get("/v2/envproj/cas/environments/doesnotexist").status_code == 404
    for bad in ["a.b$c", "%7B%22%24gt%22%3A%22%22%7D", "x" * 300]:
        r = signed.get(f"/v2/envproj/cas/environments/{bad}")
        assert r.status_code in (400, 404), (bad, r.status_code, r.text)
        assert r.json()["error_code"].startswith("SVCSTG.")
