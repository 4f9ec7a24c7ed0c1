"""Every row of the v2 error catalogue openstage can produce, through the official SDK against the
running system: the HTTP status and ``error_code`` a client branching on errors sees.

Huawei's codes are those of the ServiceStage error-code table (servicestage_06_0162, the same
table as servicestage_api_0026; services/contracts/errors.py cites them); the rest are
openstage's own, numbered where the table assigns nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import (
    ApplicationCreate,
    ChangeInstanceRequest,
    ChangeResourceInEnvironmentRequest,
    ComponentCreate,
    CreateApplicationRequest,
    CreateComponentRequest,
    CreateEnvironmentRequest,
    CreateInstanceRequest,
    DeleteComponentRequest,
    DeleteEnvironmentRequest,
    EnvironmentCreate,
    EnvironmentResourceModify,
    InstanceAction,
    InstanceActionParameters,
    InstanceModify,
    ListApplicationsRequest,
    ListComponentOverviewsRequest,
    ListComponentsRequest,
    ListEnvironmentsRequest,
    ListInstanceSnapshotsRequest,
    ListInstancesRequest,
    Resource,
    ShowApplicationDetailRequest,
    ShowComponentDetailRequest,
    ShowEnvironmentDetailRequest,
    ShowJobDetailRequest,
    UpdateInstanceActionRequest,
)

from tests.support.deploy import CLUSTER, Target, instance_body, show_instance, wait_job
from tests.support.events import read_events

PROJECT = "errcodes"


@pytest.fixture(scope="module")
def client(sdk_factory):
    return sdk_factory(PROJECT)


@pytest.fixture(scope="module")
def target(client):
    return Target(client)


@pytest.fixture(scope="module")
def deployed(client, target) -> str:
    """An instance of the target's component, deployed (RUNNING)."""
    created = client.create_instance(CreateInstanceRequest(body=instance_body(target), **target.ids()))
    assert wait_job(client, created.job_id).job.execution_status == "SUCCEEDED"
    return created.instance_id


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def refused(call, status: int, code: str) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as err:
        call()
    assert (err.value.status_code, err.value.error_code) == (status, code), err.value
    assert err.value.error_msg, err.value
    return err.value


def environment(client, name: str | None = None, base: list | None = None):
    body = EnvironmentCreate(
        name=name or unique("env"),
        deploy_mode="container",
        vpc_id="vpc-1",
        base_resources=base if base is not None else [Resource(id=CLUSTER, type="cce")],
    )
    return client.create_environment(CreateEnvironmentRequest(body=body))


def action(client, target, instance_id: str, name: str, **params):
    body = InstanceAction(action=name, parameters=InstanceActionParameters(**params) if params else None)
    return client.update_instance_action(UpdateInstanceActionRequest(instance_id=instance_id, body=body, **target.ids()))


# --- 404: what does not exist ---------------------------------------------------------------------
def test_missing_application_is_00100403(client):
    show = ShowApplicationDetailRequest(application_id="nosuchapp")
    refused(lambda: client.show_application_detail(show), 404, "SVCSTG.00100403")
    refused(lambda: client.list_components(ListComponentsRequest(application_id="nosuchapp")), 404, "SVCSTG.00100403")


def test_missing_component_is_00100404(client, target):
    refused(
        lambda: client.show_component_detail(ShowComponentDetailRequest(application_id=target.application_id, component_id="nosuchcomp")),
        404,
        "SVCSTG.00100404",
    )
    refused(
        lambda: client.list_instances(ListInstancesRequest(application_id=target.application_id, component_id="nosuchcomp")),
        404,
        "SVCSTG.00100404",
    )


def test_missing_environment_is_00100411(client, target):
    refused(lambda: client.show_environment_detail(ShowEnvironmentDetailRequest(environment_id="nosuchenv")), 404, "SVCSTG.00100411")
    body = instance_body(target)
    body.environment_id = "nosuchenv"
    refused(lambda: client.create_instance(CreateInstanceRequest(body=body, **target.ids())), 404, "SVCSTG.00100411")


def test_missing_instance_is_00100412(client, target):
    refused(lambda: show_instance(client, target, "nosuchinstance"), 404, "SVCSTG.00100412")
    refused(lambda: action(client, target, "nosuchinstance", "restart"), 404, "SVCSTG.00100412")


def test_missing_job_is_00100429(client):
    refused(lambda: client.show_job_detail(ShowJobDetailRequest(job_id="JOB-nope")), 404, "SVCSTG.00100429")


def test_missing_job_id_is_00100414(client, signed):
    refused(lambda: client.show_job_detail(ShowJobDetailRequest(job_id="")), 400, "SVCSTG.00100414")
    for path in (f"/v2/{PROJECT}/cas/jobs/", f"/v2/{PROJECT}/cas/jobs", f"/v2/{PROJECT}/cas/jobs/%20"):
        r = signed.get(path)
        assert (r.status_code, r.json()["error_code"]) == (400, "SVCSTG.00100414"), (path, r.text)


def test_rollback_to_a_version_without_snapshot_is_00100436(client, target, deployed):
    refused(lambda: action(client, target, deployed, "rollback", version="9.9.9"), 404, "SVCSTG.00100436")


# --- 400: the rules Huawei's table names ----------------------------------------------------------
def test_duplicate_environment_name_is_00100449(client):
    name = unique("Dup")
    environment(client, name)
    refused(lambda: environment(client, name.upper()), 400, "SVCSTG.00100449")


def test_duplicate_application_name_is_00100458(client):
    name = unique("app")
    client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=name)))
    refused(lambda: client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=name))), 400, "SVCSTG.00100458")


def test_an_action_not_defined_is_00100418(client, target, deployed):
    for name in ("reboot", "START", "delete"):
        refused(lambda name=name: action(client, target, deployed, name), 400, "SVCSTG.00100418")


def test_an_unsupported_runtime_is_00100420(client, target):
    body = ComponentCreate(name=unique("comp"), runtime="Cobol85", category="Webapp")
    refused(
        lambda: client.create_component(CreateComponentRequest(application_id=target.application_id, body=body)), 400, "SVCSTG.00100420"
    )


def test_empty_base_resources_are_00100422(client):
    refused(lambda: environment(client, base=[]), 400, "SVCSTG.00100422")
    env = environment(client)
    refused(
        lambda: client.change_resource_in_environment(
            ChangeResourceInEnvironmentRequest(
                environment_id=env.id, body=EnvironmentResourceModify(remove_resources=[Resource(id=CLUSTER, type="cce")])
            )
        ),
        400,
        "SVCSTG.00100422",
    )


def test_empty_artifacts_are_00100425(client, target, deployed):
    # a component without a software package source: nothing to deploy unless the instance names it
    bare = client.create_component(
        CreateComponentRequest(
            application_id=target.application_id, body=ComponentCreate(name=unique("bare"), runtime="Docker", category="Webapp")
        )
    )
    ids = {"application_id": target.application_id, "component_id": bare.id}
    for artifacts in ({}, None):
        body = instance_body(target)
        body.artifacts = artifacts
        request = CreateInstanceRequest(body=body, **ids)
        refused(lambda request=request: client.create_instance(request), 400, "SVCSTG.00100425")
    change = InstanceModify(version="1.0.9", artifacts={})
    refused(
        lambda: client.change_instance(ChangeInstanceRequest(instance_id=deployed, body=change, **target.ids())), 400, "SVCSTG.00100425"
    )


def test_enums_follow_the_sdk(client, target):
    dubbo = ComponentCreate(name=unique("comp"), runtime="Java8", category="MicroService", sub_category="Dubbo")
    refused(
        lambda: client.create_component(CreateComponentRequest(application_id=target.application_id, body=dubbo)), 400, "SVCSTG.00100625"
    )
    # base resources are cce, ecs, as (cci is an optional resource)
    refused(lambda: environment(client, base=[Resource(id="cci-1", type="cci")]), 400, "SVCSTG.00100400")
    for kind in ("ecs", "as"):
        assert environment(client, base=[Resource(id=f"{kind}-1", type=kind)]).id
    body = EnvironmentCreate(
        name=unique("env"),
        deploy_mode="container",
        vpc_id="vpc-1",
        base_resources=[Resource(id=CLUSTER, type="cce")],
        optional_resources=[Resource(id="cci-1", type="cci")],
    )
    created = client.create_environment(CreateEnvironmentRequest(body=body))
    shown = client.show_environment_detail(ShowEnvironmentDetailRequest(environment_id=created.id))
    assert [r.type for r in shown.optional_resources] == ["cci"]


def test_paging_limits_are_0_to_100(client, target, deployed):
    ids = target.ids()
    lists = (
        lambda limit: client.list_environments(ListEnvironmentsRequest(limit=limit)),
        lambda limit: client.list_applications(ListApplicationsRequest(limit=limit)),
        lambda limit: client.list_components(ListComponentsRequest(application_id=target.application_id, limit=limit)),
        lambda limit: client.list_component_overviews(ListComponentOverviewsRequest(application_id=target.application_id, limit=limit)),
        lambda limit: client.list_instances(ListInstancesRequest(limit=limit, **ids)),
        lambda limit: client.list_instance_snapshots(ListInstanceSnapshotsRequest(instance_id=deployed, limit=limit, **ids)),
    )
    for call in lists:
        assert call(100).count >= 1 and call(0).count >= 1
        err = refused(lambda call=call: call(101), 400, "SVCSTG.00100400")
        assert "limit" in err.error_msg


# --- deleting what still has instances ------------------------------------------------------------
def test_a_component_or_environment_with_instances_is_00100402(client, target, deployed):
    refused(lambda: client.delete_component(DeleteComponentRequest(**target.ids())), 400, "SVCSTG.00100402")
    refused(lambda: client.delete_component(DeleteComponentRequest(force=False, **target.ids())), 400, "SVCSTG.00100402")
    refused(lambda: client.delete_environment(DeleteEnvironmentRequest(environment_id=target.environment_id)), 400, "SVCSTG.00100402")
    assert show_instance(client, target, deployed).status_detail.status == "RUNNING"  # nothing changed


def test_a_forced_delete_deletes_the_instances_through_their_jobs_then_the_component(sdk_factory, running):
    project = f"errforce{uuid.uuid4().hex[:6]}"
    client = sdk_factory(project)
    t = Target(client)
    idle = client.create_instance(CreateInstanceRequest(body=instance_body(t), **t.ids()))
    assert wait_job(client, idle.job_id).job.execution_status == "SUCCEEDED"
    deploying = client.create_instance(CreateInstanceRequest(body=instance_body(t, replica=3), **t.ids()))

    client.delete_component(DeleteComponentRequest(force=True, **t.ids()))  # 204: accepted

    # the caller follows the instances' delete jobs: their job.submitted events (and each instance's
    # status_detail.last_job_id), then GET /v2/{project_id}/cas/jobs/{job_id}
    def lifecycle_events() -> list[dict]:
        found = asyncio.run(read_events(running.nats_url, f"openstage.evt.{project}.lifecycle.>", idle_timeout=0.5))
        return [f["event"] for f in found]

    types = [e["type"].removeprefix("io.openstage.lifecycle.") for e in lifecycle_events()]
    assert "component.deleting" in types
    marked = types.index("component.deleting")
    submitted = [e["data"] for e in lifecycle_events()[marked:] if e["type"] == "io.openstage.lifecycle.job.submitted"]
    assert {d["instance_id"] for d in submitted} == {idle.instance_id, deploying.instance_id}
    for data in submitted:
        job = wait_job(client, data["job_id"])
        assert job.job.execution_status == "SUCCEEDED" and job.job.job_type == "DEPROVISION"
        assert job.job.service_instance_id == data["instance_id"]
    assert wait_job(client, deploying.job_id).job.execution_status in ("CANCELLED", "SUCCEEDED")

    # the component went with its last instance
    refused(lambda: client.show_component_detail(ShowComponentDetailRequest(**t.ids())), 404, "SVCSTG.00100404")
    for iid in (idle.instance_id, deploying.instance_id):
        refused(lambda iid=iid: show_instance(client, t, iid), 404, "SVCSTG.00100412")
    app = client.show_application_detail(ShowApplicationDetailRequest(application_id=t.application_id))
    assert app.component_count == 0
    assert lifecycle_events()[-1]["type"] == "io.openstage.lifecycle.component.deleted"
    client.delete_environment(DeleteEnvironmentRequest(environment_id=t.environment_id))  # nothing deployed in it


# --- openstage's own generic codes (numbers the table does not assign) ---------------------------
def test_generic_codes(signed, sdk_factory):
    r = signed.get(f"/v2/{PROJECT}/cas/no-such-api")
    assert (r.status_code, r.json()["error_code"]) == (404, "SVCSTG.00100704")
    assert set(r.json()) == {"error_code", "error_msg"}
    r = signed.post(f"/v2/{PROJECT}/cas/environments", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["error_code"]) == (400, "SVCSTG.00100400")
