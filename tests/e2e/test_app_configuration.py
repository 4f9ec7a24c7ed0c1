"""Per-environment application configuration (the config worker) through the official SDK."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import (
    ApplicationConfigModify,
    ApplicationConfigModifyConfiguration,
    ApplicationConfigModifyConfigurationEnv,
    ApplicationCreate,
    ChangeApplicationConfigurationRequest,
    CreateApplicationRequest,
    CreateEnvironmentRequest,
    DeleteApplicationConfigurationRequest,
    DeleteApplicationRequest,
    DeleteEnvironmentRequest,
    EnvironmentCreate,
    Resource,
    ShowApplicationConfigurationRequest,
)

from services.contracts.events import CloudEvent
from tests.support.events import read_events
from tests.support.system import TENANT_A, TENANT_B


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_app(client) -> str:
    return client.create_application(CreateApplicationRequest(body=ApplicationCreate(name=unique("app")))).id


def new_env(client) -> str:
    return client.create_environment(
        CreateEnvironmentRequest(
            body=EnvironmentCreate(
                name=unique("env"), deploy_mode="container", vpc_id="vpc-1", base_resources=[Resource(id="cce-1", type="cce")]
            )
        )
    ).id


def put(client, app_id: str, env_id: str, variables: dict[str, str] | list[tuple[str, str]]):
    items = variables.items() if isinstance(variables, dict) else variables
    return client.change_application_configuration(
        ChangeApplicationConfigurationRequest(
            application_id=app_id,
            body=ApplicationConfigModify(
                environment_id=env_id,
                configuration=ApplicationConfigModifyConfiguration(
                    env=[ApplicationConfigModifyConfigurationEnv(name=n, value=v) for n, v in items]
                ),
            ),
        )
    )


def get(client, app_id: str, env_id: str | None = None):
    return client.show_application_configuration(
        ShowApplicationConfigurationRequest(application_id=app_id, environment_id=env_id)
    ).configuration


def variables(item) -> list[tuple[str, str]]:
    return [(v.name, v.value) for v in item.configuration.env]


def config_events(running, project: str) -> list[dict]:
    return asyncio.run(read_events(running.nats_url, f"openstage.evt.{project}.config.>"))


def test_three_puts_get_delete_and_revision_events(sdk_factory, running):
    project = f"cfg{uuid.uuid4().hex[:8]}"
    client = sdk_factory(project)
    app_id, env_id = new_app(client), new_env(client)

    answers = [put(client, app_id, env_id, {"LOG_LEVEL": level, "REGION": "eu"}) for level in ("debug", "info", "warn")]
    for answer in answers:
        assert answer.application_id == app_id and answer.environment_id == env_id
    assert variables(answers[-1]) == [("LOG_LEVEL", "warn"), ("REGION", "eu")]

    [latest] = get(client, app_id, env_id)
    assert latest.application_id == app_id and latest.environment_id == env_id
    assert variables(latest) == [("LOG_LEVEL", "warn"), ("REGION", "eu")]
    assert [latest.to_dict()] == [c.to_dict() for c in get(client, app_id)]  # the only environment

    got = config_events(running, project)
    assert [g["event"]["data"]["revision"] for g in got] == [1, 2, 3]
    for g, level in zip(got, ("debug", "info", "warn"), strict=True):
        evt = CloudEvent.model_validate(g["event"])
        assert evt.type == "io.openstage.config.app_configuration.updated" and evt.source == "/openstage/config"
        assert g["subject"] == f"openstage.evt.{project}.config.app_configuration.updated" == evt.openstagesubject
        assert g["headers"].get("Nats-Msg-Id") == evt.id and evt.openstageproject == project
        assert evt.data["application_id"] == app_id and evt.data["environment_id"] == env_id
        assert evt.data["action"] == "put"
        assert evt.data["configuration"]["env"] == [{"name": "LOG_LEVEL", "value": level}, {"name": "REGION", "value": "eu"}]
        assert evt.subject.startswith(f"/v2/{project}/cas/applications/{app_id}/configuration")

    # the same variables again change nothing: no revision, no event
    again = put(client, app_id, env_id, {"LOG_LEVEL": "warn", "REGION": "eu"})
    assert variables(again) == [("LOG_LEVEL", "warn"), ("REGION", "eu")]
    assert len(config_events(running, project)) == 3

    client.delete_application_configuration(DeleteApplicationConfigurationRequest(application_id=app_id, environment_id=env_id))
    assert get(client, app_id, env_id) == [] and get(client, app_id) == []  # documented answer: an empty list
    with pytest.raises(ClientRequestException) as err:
        client.delete_application_configuration(DeleteApplicationConfigurationRequest(application_id=app_id, environment_id=env_id))
    assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100651"

    deleted = config_events(running, project)[-1]["event"]
    assert deleted["type"] == "io.openstage.config.app_configuration.deleted"
    assert deleted["data"]["revision"] == 4 and deleted["data"]["configuration"] is None

    # revisions go on after a deletion, and the history keeps every one
    put(client, app_id, env_id, {"LOG_LEVEL": "error"})
    assert config_events(running, project)[-1]["event"]["data"]["revision"] == 5


def test_history_extension(sdk_factory, signed):
    client = sdk_factory("cfghist")
    app_id, env_id = new_app(client), new_env(client)
    put(client, app_id, env_id, {"A": "1"})
    put(client, app_id, env_id, {"A": "2"})
    client.delete_application_configuration(DeleteApplicationConfigurationRequest(application_id=app_id, environment_id=env_id))
    r = signed.get(f"/v2/cfghist/cas/applications/{app_id}/configuration/history", params={"environment_id": env_id})
    assert r.status_code == 200, r.text
    history = r.json()
    assert history["count"] == 3
    assert [(h["revision"], h["action"]) for h in history["revisions"]] == [(1, "put"), (2, "put"), (3, "delete")]
    assert history["revisions"][1]["configuration"] == {"env": [{"name": "A", "value": "2"}]}
    r = signed.get(f"/v2/cfghist/cas/applications/{app_id}/configuration/history")
    assert r.status_code == 400


def test_environments_are_separate_and_duplicate_names_keep_the_last_value(sdk_factory):
    client = sdk_factory("cfgmulti")
    app_id, env_a, env_b = new_app(client), new_env(client), new_env(client)
    put(client, app_id, env_a, [("X", "1"), ("Y", "2"), ("X", "3")])
    put(client, app_id, env_b, {"Z": "9"})
    assert variables(get(client, app_id, env_a)[0]) == [("X", "3"), ("Y", "2")]
    assert variables(get(client, app_id, env_b)[0]) == [("Z", "9")]
    everything = {c.environment_id: variables(c) for c in get(client, app_id)}
    assert everything == {env_a: [("X", "3"), ("Y", "2")], env_b: [("Z", "9")]}
    # a PUT replaces that environment's variables (no merge)
    put(client, app_id, env_a, {"Y": "5"})
    assert variables(get(client, app_id, env_a)[0]) == [("Y", "5")]
    # an empty list is a configuration without variables
    assert variables(put(client, app_id, env_b, {})) == []
    assert variables(get(client, app_id, env_b)[0]) == []
    # an environment never configured answers an empty list
    assert get(client, app_id, new_env(client)) == []


def test_unknown_application_or_environment(sdk_factory):
    client = sdk_factory("cfgref")
    app_id, env_id = new_app(client), new_env(client)
    for call, code in (
        (lambda: put(client, "nosuchapp", env_id, {"A": "1"}), "SVCSTG.00100403"),
        (lambda: put(client, app_id, "nosuchenv", {"A": "1"}), "SVCSTG.00100411"),
        (lambda: put(client, "nosuchapp", "nosuchenv", {"A": "1"}), "SVCSTG.00100403"),
        (lambda: get(client, "nosuchapp"), "SVCSTG.00100403"),
        (lambda: get(client, app_id, "nosuchenv"), "SVCSTG.00100411"),
        (
            lambda: client.delete_application_configuration(
                DeleteApplicationConfigurationRequest(application_id="nosuchapp", environment_id=env_id)
            ),
            "SVCSTG.00100403",
        ),
        (
            lambda: client.delete_application_configuration(
                DeleteApplicationConfigurationRequest(application_id=app_id, environment_id=env_id)
            ),
            "SVCSTG.00100651",
        ),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 404 and err.value.error_code == code
    assert get(client, app_id) == []


def test_configurations_of_deleted_applications_and_environments_are_removed(sdk_factory, running):
    project = f"cfgdel{uuid.uuid4().hex[:8]}"
    client = sdk_factory(project)
    app_id, env_a, env_b = new_app(client), new_env(client), new_env(client)
    put(client, app_id, env_a, {"A": "1"})
    put(client, app_id, env_b, {"B": "1"})
    other_app = new_app(client)
    put(client, other_app, env_a, {"C": "1"})

    def deletions_after(action, expected: int) -> list[dict]:
        action()
        deadline = time.monotonic() + 15
        while True:
            found = [
                g["event"]["data"] for g in config_events(running, project) if g["event"]["type"].endswith("app_configuration.deleted")
            ]
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.3)

    # one deletion after the other, each followed by the config worker's purge
    deletions_after(lambda: client.delete_environment(DeleteEnvironmentRequest(environment_id=env_b)), 1)
    deletions = deletions_after(lambda: client.delete_application(DeleteApplicationRequest(application_id=app_id)), 2)
    assert sorted((d["application_id"], d["environment_id"], d["revision"]) for d in deletions) == sorted(
        [(app_id, env_a, 2), (app_id, env_b, 2)]
    )
    assert {d["reason"] for d in deletions} == {f"application {app_id} deleted", f"environment {env_b} deleted"}
    # the other application's configuration is untouched
    assert variables(get(client, other_app, env_a)[0]) == [("C", "1")]


def test_cross_project_isolation(sdk_factory):
    a = sdk_factory("tenanta", TENANT_A)
    app_id, env_id = new_app(a), new_env(a)
    put(a, app_id, env_id, {"SECRET": "a"})
    b_on_a = sdk_factory("tenanta", TENANT_B)
    for call in (
        lambda: get(b_on_a, app_id),
        lambda: put(b_on_a, app_id, env_id, {"SECRET": "b"}),
        lambda: b_on_a.delete_application_configuration(
            DeleteApplicationConfigurationRequest(application_id=app_id, environment_id=env_id)
        ),
    ):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 403
    b = sdk_factory("tenantb", TENANT_B)
    for call in (lambda: get(b, app_id), lambda: put(b, app_id, env_id, {"SECRET": "b"})):
        with pytest.raises(ClientRequestException) as err:
            call()
        assert err.value.status_code == 404
    # B's own application cannot point at A's environment either
    b_app = new_app(b)
    with pytest.raises(ClientRequestException) as err:
        put(b, b_app, env_id, {"SECRET": "b"})
    assert err.value.status_code == 404 and err.value.error_code == "SVCSTG.00100411"
    assert variables(get(a, app_id, env_id)[0]) == [("SECRET", "a")]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"configuration": {"env": []}}, "environment_id"),
        ({"environment_id": "ENV"}, "configuration"),
        ({"environment_id": "ENV", "configuration": {}}, "env"),
        ({"environment_id": "ENV", "configuration": {"env": [{"name": "1ABC", "value": "x"}]}}, "name"),
        ({"environment_id": "ENV", "configuration": {"env": [{"name": "A B", "value": "x"}]}}, "name"),
        ({"environment_id": "ENV", "configuration": {"env": [{"name": "N" * 10240, "value": "x"}]}}, "name"),
        ({"environment_id": "ENV", "configuration": {"env": [{"name": "A"}]}}, "value"),
        ({"environment_id": "ENV", "configuration": {"env": [{"name": "A", "value": {"$gt": ""}}]}}, "value"),
        ({"environment_id": {"$ne": ""}, "configuration": {"env": []}}, "environment_id"),
        ({"environment_id": "a.b", "configuration": {"env": []}}, "environment_id"),
        ([], ""),
    ],
)
def test_bad_bodies_are_400_and_store_nothing(sdk_factory, signed, body, fragment):
    client = sdk_factory("cfgbad")
    app_id, env_id = new_app(client), new_env(client)
    if isinstance(body, dict) and body.get("environment_id") == "ENV":
        body = {**body, "environment_id": env_id}
    r = signed.put(f"/v2/cfgbad/cas/applications/{app_id}/configuration", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"].startswith("SVCSTG.00100") and fragment in r.json()["error_msg"]
    assert get(client, app_id) == []


def test_non_json_and_missing_environment(sdk_factory, signed):
    client = sdk_factory("cfgbad")
    app_id = new_app(client)
    r = signed.put(f"/v2/cfgbad/cas/applications/{app_id}/configuration", content=b"env=1")
    assert r.status_code == 400 and r.json()["error_code"] == "SVCSTG.00100400"
    r = signed.delete(f"/v2/cfgbad/cas/applications/{app_id}/configuration")
    assert r.status_code == 400 and "environment_id" in r.json()["error_msg"]
    r = signed.get(f"/v2/cfgbad/cas/applications/{app_id}/configuration", params={"environment_id": "a$b"})
    assert r.status_code == 400
    assert get(client, app_id) == []
