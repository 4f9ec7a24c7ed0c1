"""The registry's authentication modes (api_edge/registry_tokens.py) and how the auth middleware
applies them: Service-Center's RBAC token flow, AK/SK, open; without processes."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from api_edge.auth import Authenticator, AuthError, Token
from api_edge.auth_middleware import AuthMiddleware
from api_edge.registry_tokens import (
    RegistryAccount,
    RegistryAuth,
    RegistryTokens,
    hash_password,
    is_probe_path,
    load_registry_accounts_json,
    load_registry_auth,
    parse_duration,
    parse_modes,
    token_secret,
    verify_password,
)
from api_edge.routers import registry_auth
from services.settings import Settings

SECRET = b"s" * 32
ALICE = RegistryAccount(name="alice", password="alice-password-1", projects=["tenanta"])
ROOT = RegistryAccount(name="root", password=hash_password("root-password-1"), projects=["*"])


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def issuer(accounts=(ALICE, ROOT), clock=None, secret=SECRET) -> RegistryTokens:
    return RegistryTokens(list(accounts), secret, clock=clock or Clock())


def code_of(exc: pytest.ExceptionInfo[AuthError]) -> tuple[int, str | None]:
    return exc.value.status, exc.value.code


# --- passwords -------------------------------------------------------------------------------------


def test_pbkdf2_hash_round_trip_and_wrong_password():
    stored = hash_password("pw-1")
    assert stored.startswith("pbkdf2_sha256$")
    assert verify_password(stored, "pw-1")
    assert not verify_password(stored, "pw-2")


def test_scrypt_hash_made_with_hashlib_is_accepted():
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"pw-3", salt=salt, n=2**14, r=8, p=1, dklen=32)
    stored = f"scrypt${2**14}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    [account] = load_registry_accounts_json(json.dumps([{"name": "s", "password": stored, "projects": ["p"]}]))
    assert verify_password(account.password, "pw-3")
    assert not verify_password(account.password, "pw-4")
    assert issuer([account]).login("s", "pw-3")


def test_plain_passwords_are_hashed_when_loaded():
    tokens = issuer([ALICE])
    entry = tokens._accounts["alice"]
    assert entry.password_hash.startswith("pbkdf2_sha256$") and "alice-password-1" not in entry.password_hash


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[1]",
        '[{"name": "a", "password": "p"}]',
        '[{"name": "a", "password": "p", "projects": ["x"], "roles": []}]',
        '[{"name": "a", "password": "p", "projects": ["x"]}, {"name": "a", "password": "q", "projects": ["y"]}]',
        '[{"name": "a", "password": "pbkdf2_sha256$x$AA==$AA==", "projects": ["x"]}]',
        '[{"name": "a", "password": "scrypt$3$8$1$AA==$AA==", "projects": ["x"]}]',
    ],
)
def test_malformed_accounts_are_refused_without_echoing_passwords(text):
    with pytest.raises(ValueError) as exc:
        load_registry_accounts_json(text)
    assert "OPENSTAGE_REGISTRY_ACCOUNTS" in str(exc.value)
    assert '"p"' not in str(exc.value) and "'q'" not in str(exc.value)


def test_empty_accounts():
    assert load_registry_accounts_json(None) == [] and load_registry_accounts_json(" ") == []


# --- durations (Go's time.ParseDuration) -------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("12h", 43200), ("15m", 900), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "12", "h", "1d", "1h 2m", "-1h"])
def test_parse_duration_malformed(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# --- tokens --------------------------------------------------------------------------------------


def test_login_issues_a_jwt_that_verifies_to_the_accounts_projects():
    tokens = issuer()
    token = tokens.login("alice", "alice-password-1")
    header, payload, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert claims["account"] == "alice" and claims["projects"] == ["tenanta"]
    assert claims["exp"] - claims["iat"] == 12 * 3600  # Service-Center's default expiration
    assert "alice-password-1" not in token
    principal = tokens.verify(token)
    assert (principal.kind, principal.key_id, principal.projects) == ("rbac", "rbac:alice", ["tenanta"])


def test_a_hashed_password_account_logs_in():
    assert issuer().verify(issuer().login("root", "root-password-1")).projects == ["*"]


def test_another_process_with_the_same_secret_and_accounts_verifies_the_token():
    token = issuer().login("alice", "alice-password-1")
    assert issuer().verify(token).key_id == "rbac:alice"  # its own hash salts, same fingerprint


def test_wrong_password_and_unknown_account_get_401202():
    tokens = issuer()
    for name, password in (("alice", "wrong"), ("nobody", "alice-password-1")):
        with pytest.raises(AuthError) as exc:
            tokens.login(name, password)
        assert code_of(exc) == (401, "401202")
        assert exc.value.message == "User name or password is wrong"


@pytest.mark.parametrize(
    ("name", "password", "expiration"),
    [
        ("", "x", None),
        ("alice", "", None),
        ("alice", "alice-password-1", "14m"),
        ("alice", "alice-password-1", "25h"),
        ("alice", "alice-password-1", "soon"),
    ],
)
def test_bad_login_parameters_get_400001(name, password, expiration):
    with pytest.raises(AuthError) as exc:
        issuer().login(name, password, expiration)
    assert code_of(exc) == (400, "400001")


def test_token_expires_at_its_expiration():
    clock = Clock()
    tokens = issuer(clock=clock)
    token = tokens.login("alice", "alice-password-1", "15m")
    clock.now += 15 * 60 - 1
    assert tokens.verify(token)
    clock.now += 1
    with pytest.raises(AuthError) as exc:
        tokens.verify(token)
    assert code_of(exc) == (401, "401205")


def test_removing_the_account_revokes_its_tokens_with_401206():
    token = issuer().login("alice", "alice-password-1")
    with pytest.raises(AuthError) as exc:
        issuer(accounts=[ROOT]).verify(token)
    assert code_of(exc) == (401, "401206")
    assert exc.value.detail == "account [alice] is deleted"


def test_changing_the_password_revokes_its_tokens():
    token = issuer().login("alice", "alice-password-1")
    changed = RegistryAccount(name="alice", password="alice-password-2", projects=["tenanta"])
    with pytest.raises(AuthError) as exc:
        issuer(accounts=[changed]).verify(token)
    assert code_of(exc) == (401, "401201")


def test_narrowing_an_accounts_projects_applies_to_its_tokens_at_once():
    token = issuer().login("alice", "alice-password-1")
    narrowed = RegistryAccount(name="alice", password="alice-password-1", projects=["other"])
    assert issuer(accounts=[narrowed]).verify(token).projects == ["other"]


@pytest.mark.parametrize("mutate", ["segments", "signature", "payload", "secret", "header", "non-ascii", "non-ascii-payload"])
def test_malformed_or_forged_tokens_get_401201(mutate):
    tokens = issuer()
    token = tokens.login("alice", "alice-password-1")
    header, payload, signature = token.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_claims["projects"] = ["*"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    bad = {
        "segments": f"{header}.{payload}",
        "signature": f"{header}.{payload}.{signature[:-2]}AA",
        "payload": f"{header}.{forged_payload}.{signature}",
        "secret": issuer(secret=b"t" * 32).login("alice", "alice-password-1"),
        "header": f"{none_header}.{payload}.{signature}",
        "non-ascii": f"{header}.{payload}.{signature[:-1]}\xe9",
        "non-ascii-payload": f"{header}.{payload}\xe9.{signature}",
    }[mutate]
    with pytest.raises(AuthError) as exc:
        tokens.verify(bad)
    assert code_of(exc) == (401, "401201")


# --- modes ---------------------------------------------------------------------------------------


def aksk_ok():
    from api_edge.auth import Principal

    return Principal(kind="token", key_id="t", projects=["tenanta"])


def aksk_refuses():
    raise AuthError(401, "missing credentials: sign the request (AK/SK) or send X-Auth-Token")


def test_modes_parse_and_unknown_modes_are_refused():
    assert parse_modes(" RBAC, aksk ,") == {"rbac", "aksk"}
    with pytest.raises(ValueError):
        RegistryAuth({"rbac", "ldap"}, issuer())
    with pytest.raises(ValueError):
        RegistryAuth(set())


def test_rbac_without_a_header_is_401204_and_a_foreign_scheme_401201():
    auth = RegistryAuth({"rbac"}, issuer())
    with pytest.raises(AuthError) as exc:
        auth.authenticate({}, aksk_ok)
    assert code_of(exc) == (401, "401204")
    for header in ("SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=x", "Bearer a b", "Bearer"):
        with pytest.raises(AuthError) as exc:
            auth.authenticate({"authorization": header}, aksk_ok)
        assert code_of(exc) == (401, "401201")
    with pytest.raises(AuthError):
        auth.authenticate({"x-auth-token": "t"}, aksk_ok)  # aksk off: a static token is not accepted


def test_rbac_and_aksk_together():
    tokens = issuer()
    auth = RegistryAuth({"rbac", "aksk"}, tokens)
    bearer = {"authorization": "Bearer " + tokens.login("alice", "alice-password-1")}
    assert auth.authenticate(bearer, aksk_refuses).kind == "rbac"
    assert auth.authenticate({"x-auth-token": "t"}, aksk_ok).kind == "token"
    with pytest.raises(AuthError) as exc:
        auth.authenticate({}, aksk_ok)
    assert code_of(exc) == (401, "401204")


def test_aksk_only_keeps_todays_answers():
    auth = RegistryAuth({"aksk"})
    with pytest.raises(AuthError) as exc:
        auth.authenticate({}, aksk_refuses)
    assert exc.value.code is None and exc.value.message.startswith("missing credentials")
    assert auth.authenticate({"authorization": "Bearer x"}, aksk_ok).kind == "token"  # the AK/SK check decides


def test_open_alone_reads_no_credential_and_open_with_rbac_checks_a_presented_token():
    assert RegistryAuth({"open"}).authenticate({"authorization": "Bearer junk"}, aksk_refuses).kind == "open"
    auth = RegistryAuth({"open", "rbac"}, issuer())
    assert auth.authenticate({}, aksk_refuses).projects == ["*"]
    with pytest.raises(AuthError):
        auth.authenticate({"authorization": "Bearer junk"}, aksk_refuses)


def test_open_config_opens_only_the_config_surfaces():
    auth = RegistryAuth({"rbac", "open-config"}, issuer())
    assert auth.authenticate({}, aksk_refuses, config_surface=True).kind == "open"
    with pytest.raises(AuthError) as exc:
        auth.authenticate({}, aksk_refuses)  # /v4 still needs a token
    assert code_of(exc) == (401, "401204")
    with pytest.raises(AuthError):
        auth.authenticate({"authorization": "Bearer junk"}, aksk_refuses, config_surface=True)  # a token shown is checked
    with pytest.raises(ValueError, match="open-config only opens"):
        RegistryAuth({"open-config"})


def test_an_account_acts_only_on_its_projects():
    tokens = issuer()
    auth = RegistryAuth({"rbac"}, tokens)
    principal = tokens.verify(tokens.login("alice", "alice-password-1"))
    auth.authorize(principal, "tenanta")
    with pytest.raises(AuthError) as exc:
        auth.authorize(principal, "tenantb")
    assert code_of(exc) == (403, "403205")


@pytest.mark.parametrize(
    ("path", "probe"),
    [
        ("/v4/default/registry/health", True),
        ("/v4/default/registry/health/readiness", True),
        ("/v4/x/registry/version", True),
        ("/v3/default/configuration/health", True),
        ("/v1/health", True),  # Kie's probe (servicecomb-kie server/resource/v1/admin_resource.go): no project in the path
        ("/v4/default/registry/microservices", False),
        ("/v4/default/registry/healthz", False),
        ("/v2/default/registry/health", False),
    ],
)
def test_probe_paths(path, probe):
    assert is_probe_path(path) is probe


# --- settings ------------------------------------------------------------------------------------


def test_every_edge_process_of_a_data_dir_gets_the_same_secret(tmp_path):
    settings = Settings(data_dir=tmp_path / "d")
    secrets_seen: list[bytes] = []
    threads = [threading.Thread(target=lambda: secrets_seen.append(token_secret(settings))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(secrets_seen)) == 1 and len(secrets_seen[0]) >= 32
    assert (tmp_path / "d" / "registry-token.key").stat().st_mode & 0o777 == 0o600
    assert token_secret(Settings(data_dir=tmp_path, registry_token_secret="x" * 20)) == b"x" * 20


def test_load_registry_auth_from_settings_and_the_generated_account_file(tmp_path):
    accounts = json.dumps([{"name": "alice", "password": "alice-password-1", "projects": ["tenanta"]}])
    auth = load_registry_auth(Settings(data_dir=tmp_path, registry_accounts=accounts))
    assert auth.modes == {"rbac", "aksk"} and auth.tokens.login("alice", "alice-password-1")
    (tmp_path / "registry-account.json").write_text(accounts)
    assert load_registry_auth(Settings(data_dir=tmp_path)).tokens.login("alice", "alice-password-1")
    assert load_registry_auth(Settings(data_dir=tmp_path, registry_auth="aksk")).tokens is None


@pytest.mark.parametrize(
    ("host", "warned"), [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True), ("10.1.2.3", True)]
)
def test_open_mode_warns_when_bound_beyond_loopback(tmp_path, caplog, host, warned):
    with caplog.at_level(logging.WARNING, logger="openstage.edge.auth"):
        load_registry_auth(Settings(data_dir=tmp_path, registry_auth="open", host=host))
    assert any("'open'" in r.getMessage() for r in caplog.records) is warned


def test_open_mode_is_off_unless_chosen():
    assert "open" not in parse_modes(Settings().registry_auth)


# --- through the middleware ----------------------------------------------------------------------


def edge(auth: RegistryAuth) -> TestClient:
    app = FastAPI()
    app.include_router(registry_auth.router)

    @app.get("/{version}/{project}/{rest:path}")
    async def echo(request: Request, project: str):
        p = request.scope["state"]["principal"]
        return {"kind": p.kind, "project": project}

    app.add_middleware(
        AuthMiddleware,
        authenticator=Authenticator([], [Token(token="static-token-1", projects=["tenanta"])]),
        max_body_bytes=1 << 20,
        registry_auth=auth,
    )
    return TestClient(app)


def test_token_flow_through_the_edge():
    client = edge(RegistryAuth({"rbac", "aksk"}, issuer()))
    r = client.post("/v4/token", json={"name": "alice", "password": "alice-password-1"})
    assert r.status_code == 200, r.text
    bearer = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/v4/tenanta/registry/microservices", headers=bearer).json() == {"kind": "rbac", "project": "tenanta"}
    assert client.get("/v1/tenanta/kie/kv", headers=bearer).status_code == 200
    assert client.get("/v3/tenanta/configuration/items", headers=bearer).status_code == 200

    r = client.get("/v4/tenantb/registry/microservices", headers=bearer)
    assert r.status_code == 403 and r.json()["errorCode"] == "403205"
    r = client.get("/v4/tenanta/registry/microservices")
    assert r.status_code == 401 and r.json() == {
        "errorCode": "401204",
        "errorMessage": "No authorization header",
        "detail": "No authorization header",
    }
    # /v2 takes no bearer token
    assert client.get("/v2/tenanta/cas/environments", headers=bearer).status_code == 401
    # the static token still works on the registry
    assert client.get("/v4/tenanta/registry/microservices", headers={"X-Auth-Token": "static-token-1"}).json()["kind"] == "token"


def test_login_errors_through_the_edge():
    client = edge(RegistryAuth({"rbac"}, issuer()))
    r = client.post("/v4/token", json={"name": "alice", "password": "nope"})
    assert (r.status_code, r.json()["errorCode"], r.json()["errorMessage"]) == (401, "401202", "User name or password is wrong")
    r = client.post("/v4/token", json={"name": "ghost", "password": "nope"})
    assert (r.status_code, r.json()["errorCode"]) == (401, "401202")
    r = client.post("/v4/token", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "400001")
    # as Service-Center, the body is read as JSON whatever the Content-Type (curl -d sends a form's)
    r = client.post("/v4/token", content=b'{"name": "alice", "password": "alice-password-1"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["token"]
    r = client.post("/v4/token", json={"name": "alice", "password": "alice-password-1", "tokenExpirationTime": "1m"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "400001")


def test_probes_pass_with_another_projects_token_or_none():
    tokens = issuer()
    client = edge(RegistryAuth({"rbac", "aksk"}, tokens))
    bearer = {"Authorization": f"Bearer {tokens.login('alice', 'alice-password-1')}"}
    for headers in (bearer, {}, {"Authorization": "Bearer junk"}):
        assert client.get("/v4/default/registry/health/readiness", headers=headers).status_code == 200
        assert client.get("/v4/default/registry/version", headers=headers).status_code == 200
        assert client.get("/v3/default/configuration/health", headers=headers).status_code == 200


def test_no_token_endpoint_when_rbac_is_off_and_open_mode():
    client = edge(RegistryAuth({"open"}))
    assert client.post("/v4/token", json={"name": "a", "password": "b"}).status_code == 404
    assert client.get("/v4/anyproject/registry/microservices").json() == {"kind": "open", "project": "anyproject"}
    assert client.get("/v2/anyproject/cas/environments").status_code == 401  # /v2 is never open


def test_failed_logins_block_the_name_and_address_as_service_center():
    clock = Clock()
    tokens = issuer(clock=clock)
    for _ in range(3):  # two attempts in the bucket; the third failure blocks
        with pytest.raises(AuthError) as exc:
            tokens.login("alice", "wrong", client="10.0.0.1")
        assert code_of(exc) == (401, "401202")
    with pytest.raises(AuthError) as exc:
        tokens.login("alice", "alice-password-1", client="10.0.0.1")  # even the right password
    assert code_of(exc) == (403, "403201") and exc.value.message == "Account blocked"
    assert tokens.login("alice", "alice-password-1", client="10.0.0.2")  # another address
    assert tokens.login("root", "root-password-1", client="10.0.0.1")  # another account
    clock.now += 15 * 60
    assert tokens.login("alice", "alice-password-1", client="10.0.0.1")


def test_an_unwritable_data_dir_falls_back_to_a_secret_of_this_process(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="openstage.edge.auth"):
        secret = token_secret(Settings(data_dir=blocker / "data"))
    assert len(secret) == 32 and "OPENSTAGE_REGISTRY_TOKEN_SECRET" in caplog.text
