"""Component calls through the official SDK against the running system."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import (
    ApplicationCreate,
    Build,
    BuildParameters,
    ChangeComponentRequest,
    ComponentCreate,
    ComponentModify,
    CreateApplicationRequest,
    CreateComponentRequest,
    DeleteComponentRequest,
    ListComponentOverviewsRequest,
    ListComponentsRequest,
    ObsProperties,
    ShowApplicationDetailRequest,
    ShowComponentDetailRequest,
    SourceObject,
    SourceOrArtifact,
)
from pymongo import MongoClient

from services.adapters.store.mongo import database_name
from services.settings import Settings
from tests.support.deploy import unique
from tests.support.events import read_events
from tests.support.system import TENANT_A, TENANT_B


def new_app(client) -> str:
    return client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=unique("app")))).id


CODE = SourceObject(
    kind="code", spec=SourceOrArtifact(repo_type="GitHub", repo_url="https://github.com/example/demo.git", repo_auth="github-auth")
)
SWR = SourceObject(kind="artifact", spec=SourceOrArtifact(storage="swr", type="package", url="swr.example.com/org/demo:1.0.0", auth="iam"))
OBS = SourceObject(
    kind="artifact",
    spec=SourceOrArtifact(
        storage="obs",
        type="package",
        url="https://obs.example.com/bucket/demo.jar",
        properties=ObsProperties(endpoint="https://obs.example.com", bucket="bucket", key="demo.jar"),
    ),
)


def create(client, app_id: str, name: str | None = None, **kw):
    body = ComponentCreate(
        name=name or unique("comp"),
        runtime=kw.get("runtime", "Java8"),
        category=kw.get("category", "MicroService"),
        sub_category=kw.get("sub_category", "Java Chassis"),
        description=kw.get("description", "a component"),
        source=kw.get("source", CODE),
        build=kw.get(
            "build",
            Build(
                parameters=BuildParameters(
                    cluster_id="cluster-1", build_cmd="mvn clean package", node_label_selector={"kubernetes.io/arch": "amd64"}
                )
            ),
        ),
    )
    return client.create_component(CreateComponentRequest(application_id=app_id, body=body))


def show(client, app_id: str, component_id: str):
    return client.show_component_detail(ShowComponentDetailRequest(application_id=app_id, component_id=component_id))


def component_count(client, app_id: str) -> int:
    return client.show_application_detail(ShowApplicationDetailRequest(application_id=app_id)).component_count


def test_create_show_change_delete(sdk_factory):
    client = sdk_factory("compproj")
    app_id = new_app(client)
    name = unique("comp")
    created = create(client, app_id, name)
    assert created.id and created.name == name and created.status == 0
    assert (created.runtime, created.category, created.sub_category) == ("Java8", "MicroService", "Java Chassis")
    assert created.project_id == "compproj" and created.application_id == app_id
    assert created.description == "a component" and created.pipeline_ids == []
    assert created.source.kind == "code"
    spec = created.source.spec
    assert (spec.repo_type, spec.repo_url, spec.repo_ref, spec.repo_auth) == (
        "GitHub",
        "https://github.com/example/demo.git",
        "master",
        "github-auth",
    )  # repo_ref defaults to master
    assert spec.storage is None and spec.url is None
    assert created.build.id
    params = created.build.parameters
    assert params.cluster_id == "cluster-1" and params.build_cmd == "mvn clean package"
    assert params.artifact_namespace == "cas_compproj" and params.dockerfile_path == "./"  # defaults
    assert params.node_label_selector == {"kubernetes.io/arch": "amd64"}
    assert created.create_time == created.update_time > 1_600_000_000_000

    shown = show(client, app_id, created.id)
    assert shown.to_json_object() == created.to_json_object()

    changed = client.change_component(
        ChangeComponentRequest(
            application_id=app_id,
            component_id=created.id,
            body=ComponentModify(
                name=name + "-v2", description="changed", source=OBS, build=Build(parameters=BuildParameters(cluster_id="cluster-2"))
            ),
        )
    )
    assert changed.name == name + "-v2" and changed.description == "changed"
    assert changed.source.kind == "artifact" and changed.source.spec.storage == "obs"
    assert changed.source.spec.auth == "iam"  # default
    assert changed.source.spec.properties.bucket == "bucket" and changed.source.spec.repo_url is None
    assert changed.build.id == created.build.id and changed.build.parameters.cluster_id == "cluster-2"
    assert changed.runtime == "Java8" and changed.create_time == created.create_time
    assert changed.update_time >= created.update_time
    assert show(client, app_id, created.id).to_json_object() == changed.to_json_object()

    client.delete_component(DeleteComponentRequest(application_id=app_id, component_id=created.id))
    with pytest.raises(ClientRequestException) as err:
        show(client, app_id, created.id)
    assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100404"
    with pytest.raises(ClientRequestException) as err:
        client.delete_component(DeleteComponentRequest(application_id=app_id, component_id=created.id))
    assert err.value.status_code == 404
    assert component_count(client, app_id) == 0


def test_artifact_components_and_optional_fields(sdk_factory):
    client = sdk_factory("compproj")
    app_id = new_app(client)
    docker = create(client, app_id, runtime="Docker", category="Common", sub_category=None, source=SWR, build=None, description=None)
    assert docker.runtime == "Docker" and docker.category == "Common" and docker.sub_category is None
    assert docker.source.spec.storage == "swr" and docker.source.spec.type == "package" and docker.build is None
    bare = create(client, app_id, runtime="Nodejs8", category="Webapp", sub_category="Web", source=None, build=None)
    assert bare.source is None and bare.build is None and bare.sub_category == "Web"
    # an empty sub-category is none
    common = create(client, app_id, runtime="Python3", category="Common", sub_category="", source=None, build=None)
    assert common.sub_category is None
    assert component_count(client, app_id) == 3


def test_list_pagination_ordering_and_overviews(sdk_factory):
    client = sdk_factory("complist")
    app_id = new_app(client)
    other_app = new_app(client)
    create(client, other_app)  # not listed under app_id
    names = [f"c{i}-{uuid.uuid4().hex[:6]}" for i in (2, 0, 1, 3)]
    ids = [create(client, app_id, n).id for n in names]

    everything = client.list_components(ListComponentsRequest(application_id=app_id))
    assert everything.count == 4 and [c.id for c in everything.components] == list(reversed(ids))
    assert all(c.application_id == app_id for c in everything.components)
    asc = client.list_components(ListComponentsRequest(application_id=app_id, order="asc"))
    assert [c.id for c in asc.components] == ids
    page = client.list_components(ListComponentsRequest(application_id=app_id, limit=2, offset=1, order="asc"))
    assert page.count == 4 and [c.id for c in page.components] == ids[1:3]
    by_name = client.list_components(ListComponentsRequest(application_id=app_id, order_by="name", order="asc"))
    assert [c.name for c in by_name.components] == sorted(names)

    overviews = client.list_component_overviews(ListComponentOverviewsRequest(application_id=app_id, order="asc"))
    assert overviews.count == 4 and [c.id for c in overviews.components] == ids
    assert all(c.instances == [] for c in overviews.components)
    assert overviews.components[0].build.parameters.cluster_id == "cluster-1"
    page = client.list_component_overviews(ListComponentOverviewsRequest(application_id=app_id, limit=1, offset=3, order="asc"))
    assert page.count == 4 and [c.id for c in page.components] == ids[3:]

    for bad in (ListComponentsRequest(application_id=app_id, order_by="runtime"), ListComponentsRequest(application_id=app_id, limit=500)):
        with pytest.raises(ClientRequestException) as err:
            client.list_components(bad)
        assert err.value.status_code == 400

    for call in (
        lambda: client.list_components(ListComponentsRequest(application_id="nosuchapp")),
        lambda: client.list_component_overviews(ListComponentOverviewsRequest(application_id="nosuchapp")),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100403"


@pytest.fixture
def instances(running):
    """The instances collection of the running system's store (written directly: a stand-in for
    instances the instances module would have deployed)."""
    client = MongoClient(running.mongodb_url)
    yield client[database_name(Settings().mongodb_db, "lifecycle")]["instances"]
    client.close()


def test_delete_is_refused_while_the_component_has_instances(sdk_factory, instances):
    client = sdk_factory("compinst")
    app_id = new_app(client)
    comp = create(client, app_id)
    instance_id = uuid.uuid4().hex
    instances.insert_one(
        {
            "_id": instance_id,
            "id": instance_id,
            "name": "inst-1",
            "project_id": "compinst",
            "application_id": app_id,
            "component_id": comp.id,
            "environment_id": "env-1",
            "version": "1.0.0",
            "flavor_id": "MICRO-5G:0.5C:1G",
            "create_time": 1_700_000_000_000,
            "update_time": 1_700_000_000_000,
        }
    )
    try:
        overview = client.list_component_overviews(ListComponentOverviewsRequest(application_id=app_id))
        [item] = overview.components
        assert [(i.instance_id, i.instance_name, i.environment_id, i.version) for i in item.instances] == [
            (instance_id, "inst-1", "env-1", "1.0.0")
        ]
        for force in (None, False):
            with pytest.raises(ClientRequestException) as err:
                client.delete_component(DeleteComponentRequest(application_id=app_id, component_id=comp.id, force=force))
            # Huawei's table: 400 "component was deployed, uninstall first"
            assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100402"
            assert "instance" in err.value.error_msg
        assert show(client, app_id, comp.id).id == comp.id and component_count(client, app_id) == 1
    finally:
        instances.delete_one({"_id": instance_id})
    client.delete_component(DeleteComponentRequest(application_id=app_id, component_id=comp.id, force=True))
    assert component_count(client, app_id) == 0


def test_a_component_belongs_to_one_application(sdk_factory):
    client = sdk_factory("compowner")
    app_a, app_b = new_app(client), new_app(client)
    comp = create(client, app_a)
    for call in (
        lambda: show(client, app_b, comp.id),
        lambda: client.change_component(
            ChangeComponentRequest(application_id=app_b, component_id=comp.id, body=ComponentModify(description="x"))
        ),
        lambda: client.delete_component(DeleteComponentRequest(application_id=app_b, component_id=comp.id)),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100404"
    assert show(client, app_a, comp.id).description == "a component"
    assert component_count(client, app_a) == 1 and component_count(client, app_b) == 0

    with pytest.raises(ClientRequestException) as err:
        create(client, "nosuchapp")
    assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100403"


def test_names_are_unique_per_application_case_insensitive(sdk_factory):
    client = sdk_factory("compuniq")
    app_a, app_b = new_app(client), new_app(client)
    name = unique("Uniq")
    create(client, app_a, name)
    with pytest.raises(ClientRequestException) as err:
        create(client, app_a, name.lower())
    assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100622"
    assert create(client, app_b, name).name == name  # another application: fine
    other = create(client, app_a)
    with pytest.raises(ClientRequestException) as err:
        client.change_component(
            ChangeComponentRequest(application_id=app_a, component_id=other.id, body=ComponentModify(name=name.upper()))
        )
    assert err.value.status_code == 400 and err.value.error_code == "SVCSTG.00100622"
    with pytest.raises(ClientRequestException) as err:
        client.change_component(ChangeComponentRequest(application_id=app_a, component_id=other.id, body=ComponentModify()))
    assert err.value.status_code == 400
    assert component_count(client, app_a) == 2


def test_cross_project_isolation(sdk_factory):
    a = sdk_factory("tenanta", TENANT_A)
    app_id = new_app(a)
    comp = create(a, app_id)
    b_on_a = sdk_factory("tenanta", TENANT_B)
    for call in (
        lambda: b_on_a.list_components(ListComponentsRequest(application_id=app_id)),
        lambda: show(b_on_a, app_id, comp.id),
        lambda: create(b_on_a, app_id),
        lambda: b_on_a.delete_component(DeleteComponentRequest(application_id=app_id, component_id=comp.id)),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 403
    b = sdk_factory("tenantb", TENANT_B)
    for call in (
        lambda: b.list_components(ListComponentsRequest(application_id=app_id)),
        lambda: show(b, app_id, comp.id),
        lambda: create(b, app_id),
        lambda: b.change_component(
            ChangeComponentRequest(application_id=app_id, component_id=comp.id, body=ComponentModify(description="x"))
        ),
        lambda: b.delete_component(DeleteComponentRequest(application_id=app_id, component_id=comp.id)),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 404
    assert show(a, app_id, comp.id).description == "a component" and component_count(a, app_id) == 1


GOOD = {"name": "okname", "runtime": "Java8", "category": "MicroService"}


@pytest.mark.parametrize(
    "body, status_code, error_code, fragment",
    [
        ({**GOOD, "name": "x"}, 400, "SVCSTG.00100400", "name"),
        ({**GOOD, "name": "a" * 10240}, 400, "SVCSTG.00100400", "name"),
        ({**GOOD, "name": {"$ne": None}}, 400, "SVCSTG.00100400", "name"),
        ({"name": "okname", "category": "Webapp"}, 400, "SVCSTG.00100400", "runtime"),
        ({"name": "okname", "runtime": "Java8"}, 400, "SVCSTG.00100400", "category"),
        ({**GOOD, "category": "Desktop"}, 400, "SVCSTG.00100400", "category"),
        ({**GOOD, "description": "d" * 129}, 400, "SVCSTG.00100400", "description"),
        ({**GOOD, "runtime": "Cobol85"}, 400, "SVCSTG.00100420", "runtime"),
        ({**GOOD, "sub_category": "Web"}, 400, "SVCSTG.00100625", "sub_category"),
        ({**GOOD, "category": "Common", "sub_category": "Mesher"}, 400, "SVCSTG.00100625", "sub_category"),
        ({**GOOD, "source": {"kind": "git", "spec": {}}}, 400, "SVCSTG.00100400", "kind"),
        (
            {**GOOD, "source": {"kind": "code", "spec": {"repo_type": "SVN", "repo_url": "https://x/y"}}},
            400,
            "SVCSTG.00100400",
            "repo_type",
        ),
        ({**GOOD, "source": {"kind": "code", "spec": {"repo_type": "GitHub"}}}, 400, "SVCSTG.00100626", "repo_url"),
        (
            {**GOOD, "source": {"kind": "code", "spec": {"repo_type": "GitHub", "repo_url": "ftp://x/y"}}},
            400,
            "SVCSTG.00100626",
            "repo_url",
        ),
        (
            {**GOOD, "source": {"kind": "code", "spec": {"repo_type": "GitHub", "repo_url": "https://x/y", "storage": "swr"}}},
            400,
            "SVCSTG.00100626",
            "storage",
        ),
        ({**GOOD, "source": {"kind": "artifact", "spec": {"storage": "swr", "type": "package"}}}, 400, "SVCSTG.00100626", "url"),
        (
            {**GOOD, "source": {"kind": "artifact", "spec": {"storage": "nfs", "type": "package", "url": "u"}}},
            400,
            "SVCSTG.00100400",
            "storage",
        ),
        (
            {
                **GOOD,
                "source": {"kind": "artifact", "spec": {"storage": "swr", "type": "package", "url": "u", "properties": {"bucket": "abc"}}},
            },
            400,
            "SVCSTG.00100626",
            "properties",
        ),
        ({**GOOD, "build": {"parameters": {"cluster_id": "c1"}}}, 400, "SVCSTG.00100627", "source"),
        (
            {
                **GOOD,
                "source": {"kind": "code", "spec": {"repo_type": "GitHub", "repo_url": "https://x/y"}},
                "build": {"parameters": {"build_cmd": "make"}},
            },
            400,
            "SVCSTG.00100627",
            "cluster_id",
        ),
        (
            {
                **GOOD,
                "source": {"kind": "code", "spec": {"repo_type": "GitHub", "repo_url": "https://x/y"}},
                "build": {"parameters": {"cluster_id": "c1", "node_label_selector": {"$where": "1"}}},
            },
            400,
            "SVCSTG.00100400",
            "node_label_selector",
        ),
        ([1, 2], 400, "SVCSTG.00100400", ""),
    ],
)
def test_bad_component_bodies_are_refused_before_the_store(signed, body, status_code, error_code, fragment):
    app = signed.post("/v2/compbad/cas/applications", json={"name": unique("app")}).json()
    r = signed.post(f"/v2/compbad/cas/applications/{app['id']}/components", json=body)
    assert r.status_code == status_code, r.text
    payload = r.json()
    assert payload["error_code"] == error_code and fragment in payload["error_msg"], payload
    # nothing was stored
    assert signed.get(f"/v2/compbad/cas/applications/{app['id']}/components").json()["count"] == 0
    assert signed.get(f"/v2/compbad/cas/applications/{app['id']}").json()["component_count"] == 0


def test_non_json_and_bad_modify_bodies(signed):
    app = signed.post("/v2/compbad/cas/applications", json={"name": unique("app")}).json()
    base = f"/v2/compbad/cas/applications/{app['id']}/components"
    r = signed.post(base, content=b"{not json")
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100400"
    comp = signed.post(base, json={"name": "okname", "runtime": "Docker", "category": "Common"}).json()
    r = signed.put(f"{base}/{comp['id']}", content=b"]]")
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100400"
    r = signed.put(f"{base}/{comp['id']}", json={"source": {"kind": "artifact", "spec": {"storage": "swr"}}})
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100626"
    r = signed.put(f"{base}/{comp['id']}", json={"build": {"parameters": {"cluster_id": "c1"}}})
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100627"  # nothing to build from
    assert signed.get(f"{base}/{comp['id']}").json()["update_time"] == comp["update_time"]
    for bad in ["a.b$c", "x" * 300]:
        r = signed.get(f"{base}/{bad}")
        assert r.status_code in (400, 404) and r.json()["error_code"].startswith("SVCSTG.")


def test_every_change_emits_a_cloudevent(sdk_factory, running):
    project = f"compev{uuid.uuid4().hex[:8]}"
    client = sdk_factory(project)
    app_id = new_app(client)
    comp = create(client, app_id)
    client.change_component(ChangeComponentRequest(application_id=app_id, component_id=comp.id, body=ComponentModify(description="v2")))
    client.delete_component(DeleteComponentRequest(application_id=app_id, component_id=comp.id))
    with pytest.raises(ClientRequestException):  # refused: no event
        create(client, app_id, runtime="Cobol85")

    got = [g["event"] for g in asyncio.run(read_events(running.nats_url, f"openstage.evt.{project}.lifecycle.>"))]
    assert [e["type"] for e in got] == [
        "io.openstage.lifecycle.application.created",
        "io.openstage.lifecycle.component.created",
        "io.openstage.lifecycle.component.updated",
        "io.openstage.lifecycle.component.deleted",
    ]
    for e in got[1:]:
        assert e["subject"] == f"/v2/{project}/cas/applications/{app_id}/components/{comp.id}"
        assert e["data"]["id"] == comp.id and e["data"]["application_id"] == app_id
    assert got[2]["data"]["description"] == "v2"
