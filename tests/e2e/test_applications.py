"""Application calls through the official SDK against the running system."""

from __future__ import annotations

import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import (
    ApplicationCreate,
    ApplicationModify,
    ChangeApplicationRequest,
    ComponentCreate,
    CreateApplicationRequest,
    CreateComponentRequest,
    DeleteApplicationRequest,
    DeleteComponentRequest,
    ListApplicationsRequest,
    ShowApplicationDetailRequest,
)

from tests.support.deploy import unique
from tests.support.system import ADMIN, TENANT_A, TENANT_B


def create(client, name: str, description: str | None = "test"):
    return client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=name, description=description)))


def show(client, app_id: str):
    return client.show_application_detail(ShowApplicationDetailRequest(application_id=app_id))


def add_component(client, app_id: str, name: str):
    return client.create_component(
        CreateComponentRequest(application_id=app_id, body=ComponentCreate(name=name, runtime="Docker", category="Common"))
    )


def test_create_show_change_delete(sdk_factory):
    client = sdk_factory("appproj")
    name = unique("app")
    created = create(client, name)
    assert created.id and created.name == name and created.description == "test"
    assert created.project_id == "appproj" and created.enterprise_project_id == "0"
    assert created.creator == ADMIN.ak
    assert created.create_time == created.update_time and created.create_time > 1_600_000_000_000
    assert created.unified_model is None

    shown = show(client, created.id)
    assert shown.component_count == 0
    assert (shown.id, shown.name, shown.description, shown.create_time) == (created.id, name, "test", created.create_time)

    changed = client.change_application(
        ChangeApplicationRequest(application_id=created.id, body=ApplicationModify(name=name + "x", description="renamed"))
    )
    assert changed.name == name + "x" and changed.description == "renamed"
    assert changed.update_time >= created.update_time and changed.create_time == created.create_time
    assert show(client, created.id).name == name + "x"

    client.delete_application(DeleteApplicationRequest(application_id=created.id))
    with pytest.raises(ClientRequestException) as err:
        show(client, created.id)
    assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100403"
    with pytest.raises(ClientRequestException) as err:
        client.delete_application(DeleteApplicationRequest(application_id=created.id))
    assert err.value.status_code == 404
    with pytest.raises(ClientRequestException) as err:
        client.change_application(ChangeApplicationRequest(application_id=created.id, body=ApplicationModify(description="gone")))
    assert err.value.status_code == 404


def test_change_needs_something_to_change(sdk_factory):
    client = sdk_factory("appproj")
    app = create(client, unique("app"))
    with pytest.raises(ClientRequestException) as err:
        client.change_application(ChangeApplicationRequest(application_id=app.id, body=ApplicationModify()))
    assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100400"


def test_list_pagination_and_ordering(sdk_factory):
    project = f"apps{uuid.uuid4().hex[:8]}"
    client = sdk_factory(project)
    names = [f"a{i}-{uuid.uuid4().hex[:6]}" for i in (3, 1, 4, 0, 2)]
    ids = [create(client, n).id for n in names]

    everything = client.list_applications(ListApplicationsRequest())
    assert everything.count == 5
    assert [a.id for a in everything.applications] == list(reversed(ids))  # newest first by default
    assert all(a.component_count == 0 and a.project_id == project for a in everything.applications)

    asc = client.list_applications(ListApplicationsRequest(order_by="create_time", order="asc"))
    assert [a.id for a in asc.applications] == ids

    page = client.list_applications(ListApplicationsRequest(limit=2, offset=1, order="asc"))
    assert page.count == 5 and [a.id for a in page.applications] == ids[1:3]
    tail = client.list_applications(ListApplicationsRequest(limit=2, offset=4, order="asc"))
    assert tail.count == 5 and [a.id for a in tail.applications] == ids[4:]

    by_name = client.list_applications(ListApplicationsRequest(order_by="name", order="asc"))
    assert [a.name for a in by_name.applications] == sorted(names, key=str.lower)
    by_name_desc = client.list_applications(ListApplicationsRequest(order_by="name"))
    assert [a.name for a in by_name_desc.applications] == sorted(names, key=str.lower, reverse=True)

    # update_time ordering follows the last change
    client.change_application(ChangeApplicationRequest(application_id=ids[0], body=ApplicationModify(description="x")))
    latest = client.list_applications(ListApplicationsRequest(order_by="update_time", limit=1))
    assert [a.id for a in latest.applications] == [ids[0]]

    for bad in (
        ListApplicationsRequest(order_by="nonsense"),
        ListApplicationsRequest(order="sideways"),
        ListApplicationsRequest(limit=101),
        ListApplicationsRequest(offset=-1),
    ):
        with pytest.raises(ClientRequestException) as err:
            client.list_applications(bad)
        assert err.value.status_code == 400 and err.value.error_code.startswith("SVCSTG.00100")


def test_names_are_unique_per_project_case_insensitive(sdk_factory):
    client = sdk_factory("appuniq")
    name = unique("Uniq")
    create(client, name)
    with pytest.raises(ClientRequestException) as err:
        create(client, name.upper())
    assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100458"
    assert create(sdk_factory("appuniq2"), name).name == name  # another project: fine
    other = create(client, unique("Other"))
    with pytest.raises(ClientRequestException) as err:
        client.change_application(ChangeApplicationRequest(application_id=other.id, body=ApplicationModify(name=name.lower())))
    assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100458"
    # renaming to its own name with another case is fine
    assert (
        client.change_application(ChangeApplicationRequest(application_id=other.id, body=ApplicationModify(name=other.name.upper()))).name
        == other.name.upper()
    )


def test_component_count_and_delete_with_components(sdk_factory):
    client = sdk_factory("appcount")
    app = create(client, unique("app"))
    c1 = add_component(client, app.id, unique("c"))
    c2 = add_component(client, app.id, unique("c"))
    assert show(client, app.id).component_count == 2
    listed = {a.id: a for a in client.list_applications(ListApplicationsRequest()).applications}
    assert listed[app.id].component_count == 2

    with pytest.raises(ClientRequestException) as err:
        client.delete_application(DeleteApplicationRequest(application_id=app.id))
    assert err.value.status_code == 409 and err.value.error_code == "SVCSTG.00100613"
    assert "component" in err.value.error_msg
    assert show(client, app.id).component_count == 2  # nothing changed

    client.delete_component(DeleteComponentRequest(application_id=app.id, component_id=c1.id))
    assert show(client, app.id).component_count == 1
    # a refused component create (duplicate name) leaves the count alone
    with pytest.raises(ClientRequestException):
        add_component(client, app.id, c2.name)
    assert show(client, app.id).component_count == 1
    client.delete_component(DeleteComponentRequest(application_id=app.id, component_id=c2.id))
    assert show(client, app.id).component_count == 0

    client.delete_application(DeleteApplicationRequest(application_id=app.id))
    with pytest.raises(ClientRequestException) as err:
        show(client, app.id)
    assert err.value.status_code == 404


def test_cross_project_isolation(sdk_factory):
    a = sdk_factory("tenanta", TENANT_A)
    app = create(a, unique("app"))
    b_on_a = sdk_factory("tenanta", TENANT_B)
    for call in (
        lambda: b_on_a.list_applications(ListApplicationsRequest()),
        lambda: show(b_on_a, app.id),
        lambda: b_on_a.delete_application(DeleteApplicationRequest(application_id=app.id)),
        lambda: create(b_on_a, unique("app")),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 403
    b = sdk_factory("tenantb", TENANT_B)
    assert app.id not in [x.id for x in b.list_applications(ListApplicationsRequest()).applications]
    for call in (
        lambda: show(b, app.id),
        lambda: b.change_application(ChangeApplicationRequest(application_id=app.id, body=ApplicationModify(description="x"))),
        lambda: b.delete_application(DeleteApplicationRequest(application_id=app.id)),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 404
    # the same name is free in the other project, and A's application is untouched
    assert create(b, app.name).name == app.name
    assert show(a, app.id).description == "test"


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"name": "x"}, "name"),
        ({"name": "1abc"}, "name"),
        ({"name": "abc-"}, "name"),
        ({"name": "a" * 10240}, "name"),
        ({"name": "okname", "description": "d" * 129}, "description"),
        ({"description": "no name"}, "name"),
        ({"name": {"$gt": ""}}, "name"),
        ({"name": ["okname"]}, "name"),
        ([1, 2, 3], ""),
    ],
)
def test_malformed_bodies_are_400_with_error_code(signed, body, fragment):
    r = signed.post("/v2/appbad/cas/applications", json=body)
    assert r.status_code == 400, r.text
    payload = r.json()
    assert payload["error_code"].startswith("SVCSTG.00100") and fragment in payload["error_msg"]
    assert signed.get("/v2/appbad/cas/applications").json()["count"] == 0  # nothing was created


def test_non_json_bodies_and_bad_ids(signed):
    r = signed.post("/v2/appbad/cas/applications", content=b"{not json")
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100400"
    r = signed.put("/v2/appbad/cas/applications/whatever", content=b"nope")
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100400"
    assert signed.get("/v2/appbad/cas/applications").json()["count"] == 0
    assert signed.get("/v2/appbad/cas/applications/doesnotexist").status_code == 404
    for bad in ["a.b$c", "%7B%22%24gt%22%3A%22%22%7D", "x" * 300]:
        r = signed.get(f"/v2/appbad/cas/applications/{bad}")
        assert r.status_code in (400, 404), (bad, r.status_code, r.text)
        assert r.json()["error_code"].startswith("SVCSTG.")
