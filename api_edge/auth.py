"""AK/SK (SDK-HMAC-SHA256) and token authentication for the HTTP edge.

Pure code: no web framework, no I/O. The HTTP layer extracts the request
parts and calls :meth:`Authenticator.authenticate`, then
:meth:`Authenticator.authorize` for the project in the URL.

The verifier reproduces, byte for byte, the canonical request that the
official Huawei Cloud Python SDK (``huaweicloudsdkcore.signer.Signer``)
signs::

    METHOD\\n
    canonical_uri\\n          unquote(path), split on '/', quote(seg, safe='~'), trailing '/'
    canonical_query\\n        (key, value) pairs sorted, quote(.., safe='~'), joined by '&'
    canonical_headers\\n      "name:value.strip()\\n" for every signed header
    signed_headers\\n         "a;b;c" exactly as listed in the Authorization header
    payload_hash             sha256 hex of the body (see ``_payload_hash``)

    string_to_sign = "SDK-HMAC-SHA256\\n" + X-Sdk-Date + "\\n" + sha256hex(canonical_request)
    signature      = hex(HMAC-SHA256(sk, string_to_sign))

Inputs expected by ``authenticate``:

* ``path``: the *raw* (still percent-encoded) request path, e.g. ASGI
  ``scope["raw_path"]``. A decoded path also works unless it contains a
  literal ``%``.
* ``query_string``: the raw query string without the leading ``?`` (ASGI
  ``scope["query_string"]`` decoded as latin-1/ascii).
* ``headers``: any mapping; header values as the server decoded them from
  the wire, i.e. latin-1 (what ASGI servers / Starlette give you). The SDK
  sends non-ASCII header values as UTF-8 bytes; they are re-assembled here.
* ``body``: the raw request body bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, TypeVar
from urllib.parse import parse_qsl, quote, unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["ALGORITHM", "AuthError", "Authenticator", "Credential", "Principal", "Token", "load_credentials_json", "load_tokens_json"]

ALGORITHM = "SDK-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
ALL_PROJECTS = "*"

_HEADER_DATE = "x-sdk-date"
_HEADER_HOST = "host"
_HEADER_CONTENT_SHA256 = "x-sdk-content-sha256"
_HEADER_AUTHORIZATION = "authorization"
_HEADER_TOKEN = "x-auth-token"

_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_DATE_RE = re.compile(r"\d{8}T\d{6}Z")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")
# RFC 7230 token characters, lower-case only (the SDK lower-cases names).
_HEADER_NAME_RE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_NonEmptyStr = Annotated[str, Field(min_length=1)]


# --------------------------------------------------------------------------
# Configuration models
# --------------------------------------------------------------------------


class Credential(BaseModel):
    """An access key / secret key pair and the projects it may act on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ak: _NonEmptyStr
    sk: _NonEmptyStr = Field(repr=False)
    projects: list[_NonEmptyStr]


class Token(BaseModel):
    """A static bearer token (sent as ``X-Auth-Token``) and its projects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: _NonEmptyStr = Field(repr=False)
    projects: list[_NonEmptyStr]


class AuthError(Exception):
    """Authentication (401) or authorization (403) failure.

    ``message`` is safe to return to the client: it never contains secrets.
    """

    def __init__(self, status: int, message: str, code: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code  # the API's own error code (Service-Center's for the registry's RBAC); None: the default
        self.detail = detail

    def __repr__(self) -> str:
        return f"AuthError({self.status}, {self.message!r})"


class Principal(BaseModel):
    """The authenticated caller."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["aksk", "token", "rbac", "open"]
    # the AK, the first 8 hex chars of sha256(token), "rbac:<account>" (api_edge/registry_tokens.py), or "open"
    key_id: str
    projects: list[str]

    def allows(self, project_id: str) -> bool:
        return ALL_PROJECTS in self.projects or project_id in self.projects


# --------------------------------------------------------------------------
# JSON loaders (OPENSTAGE_CREDENTIALS / OPENSTAGE_TOKENS)
# --------------------------------------------------------------------------


def _describe_validation_error(exc: ValidationError) -> str:
    # Never echo the input values: they may contain secrets.
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ())) or "<object>"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


Item = TypeVar("Item", bound=BaseModel)


def _load_json_list(
    text: str | bytes | None, model: type[Item], what: str, identity: Callable[[Item], Hashable], duplicate: Callable[[Item], str]
) -> list[Item]:
    """``text``: a JSON list of ``model`` objects whose ``identity`` is unique (``duplicate`` says
    which one is not, without echoing a secret). Empty or ``None`` yields ``[]``."""
    if text is None:
        return []
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: invalid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise ValueError(f"{what}: expected a JSON list of objects, got {type(data).__name__}")
    items: list[Item] = []
    seen: set[Hashable] = set()
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise ValueError(f"{what}[{i}]: expected an object, got {type(entry).__name__}")
        try:
            item = model.model_validate(entry)
        except ValidationError as exc:
            raise ValueError(f"{what}[{i}]: {_describe_validation_error(exc)}") from None
        items.append(item)
    for i, item in enumerate(items):
        key = identity(item)
        if key in seen:
            raise ValueError(f"{what}[{i}]: {duplicate(item)}")
        seen.add(key)
    return items


def load_credentials_json(text: str | bytes | None) -> list[Credential]:
    """Parse ``OPENSTAGE_CREDENTIALS``: ``[{"ak": .., "sk": .., "projects": [..]}, ...]``.

    Empty / ``None`` input yields ``[]``. Raises ``ValueError`` (without
    echoing secrets) on malformed input or duplicate AKs.
    """
    return _load_json_list(text, Credential, "OPENSTAGE_CREDENTIALS", identity=lambda c: c.ak, duplicate=lambda c: f"duplicate ak {c.ak!r}")


def load_tokens_json(text: str | bytes | None) -> list[Token]:
    """Parse ``OPENSTAGE_TOKENS``: ``[{"token": .., "projects": [..]}, ...]``.

    Empty / ``None`` input yields ``[]``. Raises ``ValueError`` (without
    echoing secrets) on malformed input or duplicate tokens.
    """
    return _load_json_list(
        text,
        Token,
        "OPENSTAGE_TOKENS",
        identity=lambda t: hashlib.sha256(t.token.encode("utf-8")).digest(),
        duplicate=lambda t: "duplicate token",
    )


# --------------------------------------------------------------------------
# Canonicalisation helpers (mirror huaweicloudsdkcore.signer.Signer)
# --------------------------------------------------------------------------


def _quote(s: str) -> str:
    return quote(s, safe="~")


def canonical_uri(path: str) -> str:
    """``unquote(path)`` split on '/', each segment quoted (safe='~'), trailing '/'."""
    segments = unquote(path).split("/")
    uri = "/".join(_quote(seg) for seg in segments)
    if not uri.endswith("/"):
        uri += "/"
    return uri


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    # The SDK always percent-encodes (quote(safe='~')), so a literal '+' never
    # appears in what it sends; decoding '+' as space (as the application
    # framework will) keeps "what is verified" == "what the app sees".
    return parse_qsl(query_string, keep_blank_values=True)


def _join_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)


def canonical_query_string(query_string: str) -> str:
    """Query parameters sorted by (key, value), each part quoted (safe='~')."""
    return _join_query(sorted(_query_pairs(query_string)))


def _header_value_bytes(value: str) -> bytes:
    """Canonical header value bytes for a value as received from the wire.

    The SDK strips the *unicode* value, puts UTF-8 bytes on the wire (by
    handing the HTTP library ``value.encode('utf-8').decode('latin-1')``)
    and hashes the UTF-8 encoding. Servers decode header bytes as latin-1,
    so: back to bytes via latin-1, decode UTF-8, strip, re-encode.
    """
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # the caller already decoded as UTF-8
        return value.strip().encode("utf-8")
    try:
        return raw.decode("utf-8").strip().encode("utf-8")
    except UnicodeDecodeError:  # not something the SDK could have sent
        return raw.strip(b" \t")


def _parse_authorization(value: str) -> tuple[str, list[str], str]:
    """Parse ``SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex``."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ALGORITHM:
        raise AuthError(401, f"unsupported authorization scheme; expected {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, val = part.strip().partition("=")
        name = name.strip()
        if not sep or name in fields:
            raise AuthError(401, "malformed Authorization header")
        fields[name] = val.strip()
    if set(fields) != {"Access", "SignedHeaders", "Signature"}:
        raise AuthError(401, "malformed Authorization header: expected Access, SignedHeaders and Signature")
    access, signed, signature = fields["Access"], fields["SignedHeaders"], fields["Signature"]
    if not access:
        raise AuthError(401, "malformed Authorization header: empty Access")
    if not _SIGNATURE_RE.fullmatch(signature):
        raise AuthError(401, "malformed Authorization header: Signature must be 64 hex characters")
    names = signed.split(";")
    if not all(_HEADER_NAME_RE.fullmatch(n) for n in names) or len(set(names)) != len(names):
        raise AuthError(401, "malformed Authorization header: SignedHeaders must be distinct lower-case names")
    return access, names, signature.lower()


def _parse_sdk_date(value: str | None) -> datetime:
    if value is None or not value.strip():
        raise AuthError(401, "missing X-Sdk-Date header")
    value = value.strip()
    if not _DATE_RE.fullmatch(value):
        raise AuthError(401, "malformed X-Sdk-Date header; expected YYYYMMDDTHHMMSSZ")
    try:
        return datetime.strptime(value, _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise AuthError(401, "malformed X-Sdk-Date header; expected YYYYMMDDTHHMMSSZ") from None


def _default_clock() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------
# Authenticator
# --------------------------------------------------------------------------


class Authenticator:
    """Verifies SDK-HMAC-SHA256 signatures and X-Auth-Token tokens."""

    def __init__(
        self,
        credentials: list[Credential] | None = None,
        tokens: list[Token] | None = None,
        max_skew_seconds: int = 900,
        clock: Callable[[], datetime] = _default_clock,
    ) -> None:
        self._credentials: dict[str, Credential] = {}
        for c in credentials or []:
            if c.ak in self._credentials:
                raise ValueError(f"duplicate ak {c.ak!r}")
            self._credentials[c.ak] = c
        # (sha256 of the token, the caller it authenticates: one frozen Principal per token)
        self._tokens: list[tuple[bytes, Principal]] = []
        for t in tokens or []:
            digest = hashlib.sha256(t.token.encode("utf-8")).digest()
            if any(d == digest for d, _ in self._tokens):
                raise ValueError("duplicate token")
            self._tokens.append((digest, Principal(kind="token", key_id=digest.hex()[:8], projects=list(t.projects))))
        if max_skew_seconds < 0:
            raise ValueError("max_skew_seconds must be >= 0")
        self._max_skew = timedelta(seconds=max_skew_seconds)
        self._clock = clock

    # -- public API -------------------------------------------------------

    def authenticate(self, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes) -> Principal:
        """Return the caller's :class:`Principal` or raise ``AuthError(401)``.

        A signed request (``Authorization`` header) takes precedence over
        ``X-Auth-Token`` when both are present.
        """
        h = {str(k).lower(): v for k, v in headers.items()}
        authorization = h.get(_HEADER_AUTHORIZATION)
        if authorization is not None and authorization.strip():
            return self._authenticate_signature(method, path, query_string or "", h, authorization, body or b"")
        token = h.get(_HEADER_TOKEN)
        if token is not None and token.strip():
            return self._authenticate_token(token.strip())
        raise AuthError(401, "missing credentials: sign the request (AK/SK) or send X-Auth-Token")

    def authorize(self, principal: Principal, project_id: str) -> None:
        """Raise ``AuthError(403)`` unless ``principal`` may act on ``project_id``."""
        if not principal.allows(project_id):
            raise AuthError(403, "the credential is not authorized for this project")

    # -- token ------------------------------------------------------------

    def _authenticate_token(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        match: Principal | None = None
        for candidate_digest, candidate in self._tokens:  # no early exit
            if hmac.compare_digest(digest, candidate_digest):
                match = candidate
        if match is None:
            raise AuthError(401, "invalid token")
        return match

    # -- AK/SK ------------------------------------------------------------

    def _authenticate_signature(
        self, method: str, path: str, query_string: str, h: dict[str, str], authorization: str, body: bytes
    ) -> Principal:
        ak, signed_headers, signature = _parse_authorization(authorization)
        if _HEADER_HOST not in signed_headers or _HEADER_DATE not in signed_headers:
            raise AuthError(401, "SignedHeaders must include host and x-sdk-date")

        sdk_date = h.get(_HEADER_DATE)
        request_time = _parse_sdk_date(sdk_date)
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        if abs(now - request_time) > self._max_skew:
            raise AuthError(401, "request expired: X-Sdk-Date is outside the allowed clock skew")

        credential = self._credentials.get(ak)
        if credential is None:
            raise AuthError(401, "unknown access key")

        canonical_headers = bytearray()
        for name in signed_headers:
            value = h.get(name)
            if value is None:
                raise AuthError(401, "a signed header is missing from the request")
            canonical_headers += name.encode("ascii") + b":" + _header_value_bytes(value) + b"\n"

        payload_hash = self._payload_hash(h, body)
        uri = canonical_uri(path or "/")

        # The SDK puts its own canonical query string on the wire, so the
        # received order *is* the signed order. Re-sorting is what the
        # algorithm specifies, but the SDK sorts the original Python values
        # (ints sort numerically: 9 < 10), so also accept the received order.
        pairs = _query_pairs(query_string)
        query_candidates = [_join_query(sorted(pairs))]
        as_received = _join_query(pairs)
        if as_received != query_candidates[0]:
            query_candidates.append(as_received)

        # SDK: string_to_sign uses strftime(strptime(X-Sdk-Date)); the strict
        # date regex guarantees that round-trip is the identity.
        date_str = request_time.strftime(_DATE_FORMAT)
        sk = credential.sk.encode("utf-8")
        ok = False
        for query in query_candidates:
            canonical_request = b"\n".join(
                [
                    method.upper().encode("utf-8"),
                    uri.encode("ascii"),
                    query.encode("ascii"),
                    bytes(canonical_headers),
                    ";".join(signed_headers).encode("ascii"),
                    payload_hash.encode("ascii"),
                ]
            )
            string_to_sign = f"{ALGORITHM}\n{date_str}\n{hashlib.sha256(canonical_request).hexdigest()}"
            expected = hmac.new(sk, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, signature):
                ok = True
        if not ok:
            raise AuthError(401, "signature mismatch")
        return Principal(kind="aksk", key_id=credential.ak, projects=list(credential.projects))

    @staticmethod
    def _payload_hash(h: dict[str, str], body: bytes) -> str:
        # Mirrors Signer._process_hash_payload: an empty body always hashes
        # as sha256(b"") even when X-Sdk-Content-Sha256 is set.
        if not body:
            return _EMPTY_SHA256
        declared = (h.get(_HEADER_CONTENT_SHA256) or "").strip()
        if not declared:
            return hashlib.sha256(body).hexdigest()
        if declared == UNSIGNED_PAYLOAD:
            return UNSIGNED_PAYLOAD
        # The SDK would sign any declared value literally; only accept one
        # that actually is the body's hash.
        actual = hashlib.sha256(body).hexdigest().encode("ascii")
        if not hmac.compare_digest(declared.lower().encode("utf-8"), actual):
            raise AuthError(401, "X-Sdk-Content-Sha256 does not match the request body")
        return declared
