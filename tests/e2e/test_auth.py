"""Authentication and tenancy at the edge, with requests signed by the official SDK signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkservicestage.v2.model import ListEnvironmentsRequest

from tests.support.signing import SignedClient
from tests.support.system import ADMIN, TENANT_A, TOKEN_A, Cred


def test_wrong_secret_is_401(sdk_factory):
    client = sdk_factory("authproj", Cred(ADMIN.ak, "not-the-secret", ("*",)))
    with pytest.raises(ClientRequestException) as err:
        client.list_environments(ListEnvironmentsRequest())
    assert err.value.status_code == 401 and err.value.error_code == "SVCSTG.00100701"


def test_unknown_access_key_is_401(running):
    client = SignedClient(running.base_url, "UNKNOWNAKUNKNOWNAK00", "whatever")
    assert client.get("/v2/authproj/cas/environments").status_code == 401


def test_unsigned_is_401(running):
    r = httpx.get(f"{running.base_url}/v2/authproj/cas/environments")
    assert r.status_code == 401 and r.json()["error_code"] == "SVCSTG.00100701"
    # an unsigned request with a broken body is still 401, not 400
    r = httpx.post(f"{running.base_url}/v2/authproj/cas/environments", content=b"{oops")
    assert r.status_code == 401


def test_stale_sdk_date_is_401(running):
    client = SignedClient(running.base_url, ADMIN.ak, ADMIN.sk)
    stale = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    r = client.get("/v2/authproj/cas/environments", headers={"X-Sdk-Date": stale})
    assert r.status_code == 401
    fresh = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")
    assert client.get("/v2/authproj/cas/environments", headers={"X-Sdk-Date": fresh}).status_code == 200


def test_tampered_request_is_401(running):
    client = SignedClient(running.base_url, ADMIN.ak, ADMIN.sk)
    ok = client.get("/v2/authproj/cas/environments", params={"limit": "5"})
    assert ok.status_code == 200
    # replay the signed headers against another query: the signature no longer matches
    r = httpx.get(f"{running.base_url}/v2/authproj/cas/environments?limit=6", headers=dict(ok.request.headers))
    assert r.status_code == 401


def test_other_project_is_403(sdk_factory):
    with pytest.raises(ClientRequestException) as err:
        sdk_factory("tenantb", TENANT_A).list_environments(ListEnvironmentsRequest())
    assert err.value.status_code == 403 and err.value.error_code == "SVCSTG.00100703"


def test_token_auth(running):
    url = f"{running.base_url}/v2/tenanta/cas/environments"
    assert httpx.get(url, headers={"X-Auth-Token": TOKEN_A}).status_code == 200
    assert httpx.get(url, headers={"X-Auth-Token": "wrong"}).status_code == 401
    other = f"{running.base_url}/v2/tenantb/cas/environments"
    assert httpx.get(other, headers={"X-Auth-Token": TOKEN_A}).status_code == 403


def test_health_endpoints_need_no_auth(running):
    assert httpx.get(f"{running.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{running.base_url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
