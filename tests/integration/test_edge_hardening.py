"""Edge hardening on its own small system: per-credential rate limit (429 + Retry-After) and
secrets never written to any log."""

from __future__ import annotations

import httpx
import pytest

from tests.support.signing import SignedClient
from tests.support.system import ADMIN, TENANT_A, TENANT_B, TOKEN_A, start_system


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    rs = start_system(
        tmp_path_factory.mktemp("limited"),
        ["lifecycle"],
        extra_env={"OPENSTAGE_RATE_LIMIT_PER_SECOND": "1", "OPENSTAGE_RATE_LIMIT_BURST": "3", "OPENSTAGE_LOG_LEVEL": "DEBUG"},
    )
    yield rs
    rs.system.stop()


def test_rate_limit_per_credential(limited):
    a = SignedClient(limited.base_url, TENANT_A.ak, TENANT_A.sk)
    statuses = [a.get("/v2/tenanta/cas/environments").status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    refused = a.get("/v2/tenanta/cas/environments")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error_code"] == "SVCSTG.00100729"
    # another credential has its own budget
    b = SignedClient(limited.base_url, TENANT_B.ak, TENANT_B.sk)
    assert b.get("/v2/tenantb/cas/environments").status_code == 200
    # v4 paths answer in Service-Center's shape
    r = a.get("/v4/tenanta/registry/microservices")
    assert r.status_code == 429 and "errorCode" in r.json()


def test_secrets_never_logged(limited):
    for sk in ("wrong-secret-zzz", ADMIN.sk):
        SignedClient(limited.base_url, ADMIN.ak, sk).get("/v2/logproj/cas/environments")
    httpx.get(f"{limited.base_url}/v2/tenanta/cas/environments", headers={"X-Auth-Token": TOKEN_A})
    httpx.get(f"{limited.base_url}/v2/tenanta/cas/environments", headers={"X-Auth-Token": "guess-token-zzz"})
    logs = "".join(p.read_text(errors="replace") for p in (limited.system.log_dir).glob("*.log"))
    assert logs  # the processes did log
    for secret in (ADMIN.sk, TENANT_A.sk, TENANT_B.sk, TOKEN_A, "wrong-secret-zzz", "guess-token-zzz"):
        assert secret not in logs
