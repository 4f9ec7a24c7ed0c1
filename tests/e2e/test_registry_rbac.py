"""Registry authentication end to end (api_edge/registry_tokens.py): Service-Center's RBAC token
flow as go-chassis' sc-client and java-chassis use it (POST /v4/token, then Authorization: Bearer),
next to AK/SK, across two edge processes (tokens need no shared state), revocation when the
accounts change, the open mode, and the account `openstage up` generates. One system of its own
(registry and config workers)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from api_edge.registry_tokens import hash_password
from openstage.processes import free_port, stop
from tests.support.signing import SignedClient
from tests.support.system import ADMIN, TOKEN_A, start_system
from tests.support.up_command import UpRuns, wait_ready

ALICE = {"name": "alice", "password": "alice-password-1", "projects": ["tenanta"]}
ROOT = {"name": "root", "password": "root-password-1", "projects": ["*"]}


def accounts_env(*accounts: dict) -> str:
    # root's password is configured hashed, alice's plain (hashed when the edge loads it)
    return json.dumps([{**a, "password": hash_password(a["password"])} if a["name"] == "root" else a for a in accounts])


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    env = {"OPENSTAGE_REGISTRY_ACCOUNTS": accounts_env(ALICE, ROOT), "OPENSTAGE_EDGE_WORKERS": "2"}
    rs = start_system(tmp_path_factory.mktemp("registry-rbac"), ["registry", "config"], extra_env=env)
    yield rs
    rs.system.stop()


@pytest.fixture(scope="module")
def http(system):
    with httpx.Client(base_url=system.base_url, timeout=10) as client:
        yield client


def login(http: httpx.Client, account: dict, **extra) -> str:
    r = http.post("/v4/token", json={"name": account["name"], "password": account["password"], **extra})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"token"}
    return r.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def restart_edge(system, **env: str) -> None:
    stop(system.system.children["edge"])
    system.system.env.update(env)
    system.system.start_edge()
    system.system.wait_ready(60)


def register(http: httpx.Client, project: str, headers: dict) -> httpx.Response:
    service = {"serviceName": f"rbac{uuid.uuid4().hex[:8]}", "appId": "shop", "version": "1.0.0"}
    return http.post(f"/v4/{project}/registry/microservices", json={"service": service}, headers=headers)


def test_token_flow_as_the_service_comb_clients_use_it(http):
    token = login(http, ALICE)
    r = register(http, "tenanta", bearer(token))
    assert r.status_code == 200, r.text
    sid = r.json()["serviceId"]
    # every call with the token, on whichever edge process takes it
    for _ in range(20):
        r = http.get(f"/v4/tenanta/registry/microservices/{sid}", headers=bearer(token))
        assert r.status_code == 200, r.text
    r = http.get("/v3/tenanta/configuration/items", params={"dimensionsInfo": "shop@default#1.0.0"}, headers=bearer(token))
    assert r.status_code == 200, r.text


def test_a_chosen_expiration_and_a_hashed_password_account(http):
    token = login(http, ROOT, tokenExpirationTime="30m")
    assert register(http, "anyproject", bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "alice", "password": "wrong-password"}, 401, "401202"),
        ({"name": "nobody", "password": "alice-password-1"}, 401, "401202"),
        ({"name": "alice"}, 400, "400001"),
        ({"name": "alice", "password": "alice-password-1", "tokenExpirationTime": "48h"}, 400, "400001"),
    ],
)
def test_login_failures_in_service_centers_shape(http, body, status, code):
    r = http.post("/v4/token", json=body)
    assert (r.status_code, r.json()["errorCode"]) == (status, code), r.text
    assert set(r.json()) == {"errorCode", "errorMessage", "detail"}


def test_login_with_a_body_that_is_not_json(http):
    r = http.post("/v4/token", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "400001"), r.text


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "401204"),
        ({"Authorization": "Bearer not.a.token"}, "401201"),
        ({"Authorization": "Bearer abc"}, "401201"),
        ({"Authorization": "Bearer"}, "401201"),
    ],
)
def test_missing_or_malformed_tokens(http, headers, code):
    r = http.get("/v4/tenanta/registry/microservices", headers=headers)
    assert (r.status_code, r.json()["errorCode"]) == (401, code), r.text


def test_another_projects_token_is_refused_but_the_probes_answer(http):
    token = login(http, ALICE)
    r = register(http, "tenantb", bearer(token))
    assert (r.status_code, r.json()["errorCode"]) == (403, "403205"), r.text
    # java-chassis probes project "default" whatever its own project (ServiceCenterRawClient.java)
    for path in ("/v4/default/registry/health/readiness", "/v4/default/registry/health", "/v4/default/registry/version"):
        for headers in (bearer(token), {}):
            r = http.get(path, headers=headers)
            assert r.status_code not in (401, 403), (path, r.status_code, r.text)


def test_ak_sk_and_static_tokens_still_work_and_v2_takes_no_bearer(system, http):
    signed = SignedClient(system.base_url, ADMIN.ak, ADMIN.sk)
    try:
        assert register(signed, "tenanta", {}).status_code == 200
    finally:
        signed.close()
    assert register(http, "tenanta", {"X-Auth-Token": TOKEN_A}).status_code == 200
    r = http.get("/v2/tenanta/cas/environments", headers=bearer(login(http, ROOT)))
    assert r.status_code == 401 and "error_code" in r.json()


def test_changing_the_accounts_revokes_their_tokens_and_keeps_the_others(system, http):
    alice, root = login(http, ALICE), login(http, ROOT)
    changed_root = {**ROOT, "password": "root-password-2"}
    restart_edge(system, OPENSTAGE_REGISTRY_ACCOUNTS=accounts_env(changed_root))
    r = http.get("/v4/tenanta/registry/microservices", headers=bearer(alice))
    assert (r.status_code, r.json()["errorCode"]) == (401, "401206"), r.text  # alice removed
    r = http.get("/v4/tenanta/registry/microservices", headers=bearer(root))
    assert (r.status_code, r.json()["errorCode"]) == (401, "401201"), r.text  # root's password changed
    # a token issued before a restart with the same accounts stays valid (the secret is in the data dir)
    root2 = login(http, changed_root)
    restart_edge(system, OPENSTAGE_EDGE_WORKERS="1")
    assert http.get("/v4/tenanta/registry/microservices", headers=bearer(root2)).status_code == 200


def test_open_mode_only_when_configured(system, http):
    assert http.get("/v4/tenanta/registry/microservices").status_code == 401
    restart_edge(system, OPENSTAGE_REGISTRY_AUTH="open")
    try:
        assert register(http, "tenanta", {}).status_code == 200
        assert http.post("/v4/token", json=ALICE).status_code == 404  # RBAC off, as java-chassis expects then
        assert http.get("/v2/tenanta/cas/environments").status_code == 401  # /v2 is never open
    finally:
        restart_edge(system, OPENSTAGE_REGISTRY_AUTH="rbac,aksk")


def test_openstage_up_generates_a_registry_account_next_to_the_ak_sk(tmp_path):
    runs = UpRuns()
    try:
        data_dir, port = tmp_path / "data", free_port()
        output = "".join(wait_ready(runs.start(data_dir, port)))
        account_file = data_dir / "registry-account.json"
        assert oct(account_file.stat().st_mode & 0o777) == "0o600"
        [account] = json.loads(account_file.read_text())
        assert f"account={account['name']} password={account['password']}" in output and "registry auth: rbac,aksk" in output
        assert account["projects"] == ["*"]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            token = login(client, account)
            assert register(client, "upproject", bearer(token)).status_code == 200
        [cred] = json.loads((data_dir / "credentials.json").read_text())
        signed = SignedClient(f"http://127.0.0.1:{port}", cred["ak"], cred["sk"])
        try:
            assert register(signed, "upproject", {}).status_code == 200
        finally:
            signed.close()
    finally:
        runs.cleanup()
