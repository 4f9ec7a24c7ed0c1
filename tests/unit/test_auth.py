"""Unit tests for api_edge.auth, using the official SDK signer to sign requests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from api_edge.auth import (
    Authenticator,
    AuthError,
    Credential,
    Principal,
    Token,
    canonical_query_string,
    canonical_uri,
    load_credentials_json,
    load_tokens_json,
)

AK = "HPUAEXAMPLEAK0000001"
SK = "s3cr3t-SK-do-not-leak-0123456789abcdefXYZ"
OTHER_AK = "HPUAEXAMPLEAK0000002"
OTHER_SK = "another-secret-key-0000000000000000000000"
TOKEN = "tok-MIIZ-very-secret-token-value-0123456789"
HOST = "servicestage.openstage.test"
PROJECT = "0123456789abcdef0123456789abcdef"

NOW = datetime(2024, 5, 17, 12, 30, 0, tzinfo=UTC)
SDK_DATE = NOW.strftime("%Y%m%dT%H%M%SZ")


def make_auth(now: datetime = NOW, **kwargs) -> Authenticator:
    return Authenticator(
        credentials=[Credential(ak=AK, sk=SK, projects=[PROJECT]), Credential(ak=OTHER_AK, sk=OTHER_SK, projects=["*"])],
        tokens=[Token(token=TOKEN, projects=[PROJECT, "p2"])],
        clock=lambda: now,
        **kwargs,
    )


class Wire:
    """A request exactly as the SDK's HTTP layer (requests) puts it on the wire."""

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def verify(self, auth: Authenticator | None = None, **overrides) -> Principal:
        args = dict(method=self.method, path=self.path, query_string=self.query, headers=self.headers, body=self.body)
        args.update(overrides)
        return (auth or make_auth()).authenticate(**args)


def sdk_sign(
    method: str = "GET",
    resource_path: str = f"/v2/{PROJECT}/cas/applications",
    query: list | None = None,
    body: str | bytes | None = None,
    headers: dict | None = None,
    ak: str = AK,
    sk: str = SK,
    date: str | None = SDK_DATE,
    signer_cls: type[Signer] = Signer,
) -> Wire:
    header_params = dict(headers or {})
    if date is not None:
        header_params["X-Sdk-Date"] = date  # the SDK keeps a preset date
    req = SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=resource_path,
        query_params=list(query or []),  # the SDK signer crashes on None
        header_params=header_params,
        body=body,
    )
    signer_cls(BasicCredentials(ak, sk)).sign(req)
    # What huaweicloudsdkcore.http.http_client does: session.<method>(request.url,
    # headers=request.header_params, data=request.body). Let requests prepare it.
    prepared = requests.Request(method=req.method, url=req.url, headers=req.header_params, data=req.body).prepare()
    split = urlsplit(prepared.url)
    # Servers decode header bytes as latin-1; requests encodes str values as latin-1.
    wire_headers = {k: (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in prepared.headers.items()}
    raw_body = prepared.body or b""
    if isinstance(raw_body, str):
        raw_body = raw_body.encode("utf-8")
    return Wire(prepared.method, split.path, split.query, wire_headers, raw_body)


def assert_401(fn, *args, **kwargs) -> AuthError:
    with pytest.raises(AuthError) as ei:
        fn(*args, **kwargs)
    assert ei.value.status == 401
    for secret in (SK, OTHER_SK, TOKEN):
        assert secret not in ei.value.message
        assert secret not in str(ei.value)
    return ei.value


# --------------------------------------------------------------------------
# Successful verification of SDK-signed requests
# --------------------------------------------------------------------------


def test_get_without_query():
    w = sdk_sign("GET")
    p = w.verify()
    assert p == Principal(kind="aksk", key_id=AK, projects=[PROJECT])
    assert "host" in w.headers["Authorization"] and "x-sdk-date" in w.headers["Authorization"]


ODD_QUERY = [
    ("name", "a b+c/d=e:f@g$h{i}j&k?l#m%n"),
    ("name", "ünïcødé 名字"),
    ("tag", "zeta"),
    ("tag", "alpha"),
    ("tag", "alpha"),
    ("empty", ""),
    ("flag", True),
    ("off", False),
    ("limit", 10),
    ("key with space", "v"),
    ("k+plus", "~tilde-._"),
]


def test_get_with_odd_query_and_repeated_keys():
    w = sdk_sign("GET", query=ODD_QUERY)
    # The SDK sends its (sorted, percent-encoded) canonical query on the wire.
    assert "+" not in w.query and " " not in w.query
    assert "flag=true" in w.query and "off=false" in w.query
    assert w.query.count("tag=") == 3
    assert w.verify().key_id == AK


def test_query_order_on_wire_does_not_matter_for_string_values():
    w = sdk_sign("GET", query=ODD_QUERY)
    reordered = "&".join(reversed(w.query.split("&")))
    assert reordered != w.query
    assert w.verify(query_string=reordered).key_id == AK


def test_repeated_integer_query_values_sorted_numerically_by_sdk():
    # The SDK sorts the Python values (9 < 10) while a string sort puts "10" first.
    w = sdk_sign("GET", query=[("n", 10), ("n", 9), ("m", [3, 20, 100])])
    assert w.query == "m=3&m=20&m=100&n=9&n=10"
    assert w.verify().key_id == AK


def test_post_json_body():
    body = json.dumps({"name": "my-app", "description": "déjà vu ✓", "n": [1, 2]})
    w = sdk_sign("POST", body=body, headers={"Content-Type": "application/json;charset=UTF-8"})
    assert "X-Sdk-Content-Sha256" not in w.headers
    assert w.body == body.encode("utf-8")
    assert w.verify().key_id == AK


def test_put_and_delete():
    path = f"/v2/{PROJECT}/cas/applications/app-1"
    w = sdk_sign("PUT", path, body='{"name": "x"}', headers={"Content-Type": "application/json"})
    assert w.method == "PUT"
    assert w.verify().key_id == AK
    w = sdk_sign("DELETE", path, query=[("force", True)])
    assert w.method == "DELETE"
    assert w.verify().key_id == AK


@pytest.mark.parametrize("path_param", ["a b", "a/b", "50%off", "ä-名字", "x~y._-", "q?x#y", "plus+eq=at@", "%2F"])
def test_path_with_encoded_characters(path_param):
    # Path params are quoted the way the SDK client does it (quote(str(v), safe='')).
    path = f"/v2/{PROJECT}/cas/applications/{quote(path_param, safe='')}/envs"
    w = sdk_sign("GET", path)
    assert w.verify().key_id == AK


def test_path_trailing_slash_and_root():
    assert sdk_sign("GET", f"/v2/{PROJECT}/cas/applications/").verify().key_id == AK
    assert sdk_sign("GET", "/").verify().key_id == AK


def test_non_json_content_type_uses_unsigned_payload():
    w = sdk_sign("POST", body=b"\x00\x01binary", headers={"Content-Type": "application/octet-stream"})
    assert w.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert w.verify().key_id == AK
    # By design of the SDK, the body is then not covered by the signature.
    assert w.verify(body=b"something else").key_id == AK


def test_unsigned_payload_header_with_empty_body_hashes_empty_body():
    w = sdk_sign("POST", body=b"", headers={"Content-Type": "text/plain"})
    assert w.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert w.verify().key_id == AK


def test_declared_content_sha256_must_match_body():
    body = b'{"a": 1}'
    digest = hashlib.sha256(body).hexdigest()
    w = sdk_sign("POST", body=body, headers={"Content-Type": "application/json", "X-Sdk-Content-Sha256": digest})
    assert w.verify().key_id == AK
    bogus = "0" * 64
    w = sdk_sign("POST", body=body, headers={"Content-Type": "application/json", "X-Sdk-Content-Sha256": bogus})
    assert_401(w.verify)


def test_non_ascii_and_padded_header_values():
    w = sdk_sign("GET", headers={"X-Project-Name": "  项目 à", "X-Request-Id": " abc  ", "X_Not_Signed": "whatever"})
    auth_header = w.headers["Authorization"]
    assert "x-project-name" in auth_header and "x_not_signed" not in auth_header
    # On the wire (as the server decodes it) the value is UTF-8 bytes read as latin-1.
    assert w.headers["X-Project-Name"] == "项目 à".encode().decode("latin-1")
    assert w.verify().key_id == AK
    # Unsigned headers may change freely.
    assert w.verify(headers={**w.headers, "X_Not_Signed": "other"}).key_id == AK
    # A server that already decoded the header as UTF-8 is accepted too.
    assert w.verify(headers={**w.headers, "X-Project-Name": "项目 à"}).key_id == AK


def test_header_lookup_is_case_insensitive():
    w = sdk_sign("GET")
    upper = {k.upper(): v for k, v in w.headers.items()}
    lower = {k.lower(): v for k, v in w.headers.items()}
    assert w.verify(headers=upper).key_id == AK
    assert w.verify(headers=lower).key_id == AK


def test_real_client_style_request():
    # Headers as added by BasicCredentials.sign_request / the client.
    w = sdk_sign(
        "GET",
        query=[("limit", 100), ("offset", 0)],
        headers={"X-Project-Id": PROJECT, "User-Agent": "huaweicloud-usdk-python/3.0", "Content-Type": "application/json"},
    )
    assert w.verify().key_id == AK


def test_other_credential_with_all_projects():
    w = sdk_sign("GET", ak=OTHER_AK, sk=OTHER_SK)
    p = w.verify()
    assert p.key_id == OTHER_AK and p.allows("anything")


# --------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------


def test_wrong_sk():
    w = sdk_sign("GET", sk="not-the-right-secret")
    err = assert_401(w.verify)
    assert "signature" in err.message
    sig = w.headers["Authorization"].rsplit("Signature=", 1)[1]
    assert sig not in err.message


def test_unknown_ak():
    w = sdk_sign("GET", ak="UNKNOWNAK", sk=SK)
    assert_401(w.verify)


def test_tampered_method():
    w = sdk_sign("GET")
    assert_401(w.verify, method="DELETE")


def test_tampered_path():
    w = sdk_sign("GET", f"/v2/{PROJECT}/cas/applications")
    assert_401(w.verify, path=f"/v2/{PROJECT}/cas/environments")
    assert_401(w.verify, path="/v2/otherproject/cas/applications")


def test_tampered_query():
    w = sdk_sign("GET", query=[("limit", 10), ("name", "a")])
    assert_401(w.verify, query_string=w.query.replace("limit=10", "limit=11"))
    assert_401(w.verify, query_string=w.query + "&extra=1")
    assert_401(w.verify, query_string="name=a")
    assert_401(w.verify, query_string="")


def test_tampered_body():
    w = sdk_sign("POST", body='{"name": "a"}', headers={"Content-Type": "application/json"})
    assert_401(w.verify, body=b'{"name": "b"}')
    assert_401(w.verify, body=b"")


def test_tampered_signed_header():
    w = sdk_sign("GET", headers={"X-Project-Id": PROJECT, "Content-Type": "application/json"})
    assert_401(w.verify, headers={**w.headers, "X-Project-Id": "other"})
    assert_401(w.verify, headers={**w.headers, "Host": "evil.example"})
    assert_401(w.verify, headers={**w.headers, "Content-Type": "text/plain"})


def test_signed_header_missing():
    w = sdk_sign("GET", headers={"X-Project-Id": PROJECT})
    headers = {k: v for k, v in w.headers.items() if k != "X-Project-Id"}
    err = assert_401(w.verify, headers=headers)
    assert "missing" in err.message


def test_unsigned_request():
    w = sdk_sign("GET")
    headers = {k: v for k, v in w.headers.items() if k != "Authorization"}
    err = assert_401(w.verify, headers=headers)
    assert "missing" in err.message
    assert_401(make_auth().authenticate, "GET", "/", "", {}, b"")


@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer abc",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 garbage",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature=abc",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={'z' * 64}",
        f"SDK-HMAC-SHA256 Access=, SignedHeaders=host;x-sdk-date, Signature={'a' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=Host;X-Sdk-Date, Signature={'a' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;;x-sdk-date, Signature={'a' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;host;x-sdk-date, Signature={'a' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, Access={AK}, SignedHeaders=host;x-sdk-date, Signature={'a' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={'a' * 64}, Extra=1",
        f"SDK-HMAC-SM3 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={'a' * 64}",
    ],
)
def test_malformed_authorization(value):
    w = sdk_sign("GET")
    assert_401(w.verify, headers={**w.headers, "Authorization": value})


class _NoHostSigner(Signer):
    @classmethod
    def _process_signed_headers(cls, request):
        return [h for h in super()._process_signed_headers(request) if h != "host"]


class _NoDateSigner(Signer):
    @classmethod
    def _process_signed_headers(cls, request):
        return [h for h in super()._process_signed_headers(request) if h != "x-sdk-date"]


@pytest.mark.parametrize("signer_cls", [_NoHostSigner, _NoDateSigner])
def test_host_and_date_must_be_signed(signer_cls):
    # These signatures are cryptographically valid, but policy refuses them.
    w = sdk_sign("GET", signer_cls=signer_cls)
    err = assert_401(w.verify)
    assert "host" in err.message and "x-sdk-date" in err.message


@pytest.mark.parametrize("minutes", [16, -16, 60 * 24])
def test_stale_or_future_date(minutes):
    w = sdk_sign("GET")
    # Request signed at NOW; server clock is `minutes` later (or earlier).
    err = assert_401(w.verify, auth=make_auth(now=NOW + timedelta(minutes=minutes)))
    assert "X-Sdk-Date" in err.message


@pytest.mark.parametrize("minutes", [14, -14, 0])
def test_date_within_skew(minutes):
    w = sdk_sign("GET")
    assert w.verify(auth=make_auth(now=NOW + timedelta(minutes=minutes))).key_id == AK


def test_date_presigned_in_the_past_by_sdk():
    old = (NOW - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    w = sdk_sign("GET", date=old)
    assert w.headers["X-Sdk-Date"] == old
    assert_401(w.verify)
    recent = (NOW - timedelta(minutes=14)).strftime("%Y%m%dT%H%M%SZ")
    assert sdk_sign("GET", date=recent).verify().key_id == AK


def test_custom_max_skew():
    w = sdk_sign("GET")
    auth = make_auth(now=NOW + timedelta(seconds=61), max_skew_seconds=60)
    assert_401(w.verify, auth=auth)
    auth = make_auth(now=NOW + timedelta(seconds=60), max_skew_seconds=60)
    assert w.verify(auth=auth).key_id == AK


def test_sdk_generated_date_with_real_clock():
    w = sdk_sign("GET", date=None)  # SDK stamps utcnow()
    assert (
        Authenticator(credentials=[Credential(ak=AK, sk=SK, projects=["*"])])
        .authenticate(w.method, w.path, w.query, w.headers, w.body)
        .key_id
        == AK
    )


@pytest.mark.parametrize("value", [None, "", "yesterday", "2024-05-17T12:30:00Z", "20241317T123000Z", "20240517T123000"])
def test_missing_or_unparseable_date(value):
    w = sdk_sign("GET")
    headers = {k: v for k, v in w.headers.items() if k != "X-Sdk-Date"}
    if value is not None:
        headers["X-Sdk-Date"] = value
    assert_401(w.verify, headers=headers)


def test_tampered_date_within_skew():
    w = sdk_sign("GET")
    later = (NOW + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    assert_401(w.verify, headers={**w.headers, "X-Sdk-Date": later})


# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------


def test_token_valid():
    auth = make_auth()
    p = auth.authenticate("GET", f"/v2/{PROJECT}/cas/applications", "", {"X-Auth-Token": TOKEN}, b"")
    assert p.kind == "token"
    assert p.projects == [PROJECT, "p2"]
    assert p.key_id == hashlib.sha256(TOKEN.encode()).hexdigest()[:8]
    assert TOKEN not in p.key_id and TOKEN not in repr(p)


@pytest.mark.parametrize("token", [TOKEN + "x", TOKEN[:-1], "x", TOKEN.upper()])
def test_token_invalid(token):
    auth = make_auth()
    err = assert_401(auth.authenticate, "GET", "/", "", {"x-auth-token": token}, b"")
    assert token not in err.message


def test_signature_wins_over_token():
    w = sdk_sign("GET")
    p = w.verify(headers={**w.headers, "X-Auth-Token": "not-a-valid-token"})
    assert p.kind == "aksk"
    bad = sdk_sign("GET", sk="wrong")
    assert_401(bad.verify, headers={**bad.headers, "X-Auth-Token": TOKEN})


# --------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------


def test_authorize():
    auth = make_auth()
    p = sdk_sign("GET").verify(auth=auth)
    auth.authorize(p, PROJECT)
    with pytest.raises(AuthError) as ei:
        auth.authorize(p, "someone-elses-project")
    assert ei.value.status == 403
    assert not p.allows("someone-elses-project")

    star = sdk_sign("GET", ak=OTHER_AK, sk=OTHER_SK).verify(auth=auth)
    auth.authorize(star, PROJECT)
    auth.authorize(star, "any-project-at-all")

    tok = auth.authenticate("GET", "/", "", {"X-Auth-Token": TOKEN}, b"")
    auth.authorize(tok, "p2")
    with pytest.raises(AuthError) as ei:
        auth.authorize(tok, "p3")
    assert ei.value.status == 403


# --------------------------------------------------------------------------
# Canonicalisation helpers agree with the SDK
# --------------------------------------------------------------------------


def test_canonical_helpers_match_sdk():
    query = [("b", "x y"), ("a", "ü"), ("a", "+/="), ("c", "")]
    req = SdkRequest(method="GET", schema="https", host=HOST, resource_path="/v1/a%20b/c~d", query_params=query, header_params={})
    signer = Signer(BasicCredentials(AK, SK))
    assert canonical_query_string(Signer.process_canonical_query_string(req)) == Signer.process_canonical_query_string(req)
    assert canonical_uri("/v1/a%20b/c~d") == signer._process_canonical_uri(req)
    assert canonical_uri("/v1/a%20b/c~d") == "/v1/a%20b/c~d/"


# --------------------------------------------------------------------------
# Config loading / models
# --------------------------------------------------------------------------


def test_load_credentials_json():
    text = json.dumps([{"ak": AK, "sk": SK, "projects": [PROJECT]}, {"ak": "B", "sk": "b", "projects": ["*"]}])
    creds = load_credentials_json(text)
    assert [c.ak for c in creds] == [AK, "B"]
    assert creds[0].sk == SK and creds[1].projects == ["*"]
    assert SK not in repr(creds[0])
    assert load_credentials_json("") == [] and load_credentials_json(None) == []


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"ak": "A", "sk": "S", "projects": []}',
        '["A"]',
        '[{"ak": "A", "projects": ["p"]}]',
        '[{"ak": "A", "sk": "", "projects": ["p"]}]',
        '[{"ak": "A", "sk": "' + SK + '", "projects": "p"}]',
        '[{"ak": "A", "sk": "' + SK + '", "projects": ["p"], "project": "typo"}]',
        '[{"ak": "A", "sk": 12345, "projects": ["p"]}]',
        '[{"ak": "A", "sk": "1", "projects": ["p"]}, {"ak": "A", "sk": "2", "projects": ["p"]}]',
    ],
)
def test_load_credentials_json_errors(text):
    with pytest.raises(ValueError) as ei:
        load_credentials_json(text)
    msg = str(ei.value)
    assert "OPENSTAGE_CREDENTIALS" in msg
    assert SK not in msg and "12345" not in msg


def test_load_tokens_json():
    tokens = load_tokens_json(json.dumps([{"token": TOKEN, "projects": ["*"]}]))
    assert tokens == [Token(token=TOKEN, projects=["*"])]
    assert TOKEN not in repr(tokens[0])
    for bad in [
        "[1]",
        '{"token": "t"}',
        '[{"token": "t"}]',
        '[{"token": "t", "projects": ["p"]}, {"token": "t", "projects": ["q"]}]',
        "[{",
    ]:
        with pytest.raises(ValueError) as ei:
            load_tokens_json(bad)
        assert "OPENSTAGE_TOKENS" in str(ei.value)


def test_duplicate_ak_in_authenticator():
    with pytest.raises(ValueError):
        Authenticator(credentials=[Credential(ak="A", sk="1", projects=["*"]), Credential(ak="A", sk="2", projects=["*"])], tokens=[])


def test_auth_error_carries_an_optional_api_code_and_detail():
    plain = AuthError(401, "invalid token")
    assert (plain.status, plain.message, plain.code, plain.detail) == (401, "invalid token", None, "")
    rbac = AuthError(401, "Token is expired", code="401205", detail="")
    assert rbac.code == "401205" and "Token is expired" in repr(rbac)


def test_registry_principals_are_scoped_like_the_others():
    assert Principal(kind="rbac", key_id="rbac:alice", projects=["p1"]).allows("p1")
    assert not Principal(kind="rbac", key_id="rbac:alice", projects=["p1"]).allows("p2")
    assert Principal(kind="open", key_id="open", projects=["*"]).allows("anything")
    authenticator = Authenticator([], [])
    with pytest.raises(AuthError) as exc:
        authenticator.authenticate("GET", "/v4/p/registry/microservices", "", {"Authorization": "Bearer abc"}, b"")
    assert exc.value.status == 401 and exc.value.code is None  # AK/SK alone knows no bearer tokens
