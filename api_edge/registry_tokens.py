"""Registry authentication modes (``OPENSTAGE_REGISTRY_AUTH``) and Service-Center's RBAC token flow.

Modes, for every registry and config surface (``/v4``, ``/v3``, ``/v1/{project}/kie``); any
combination, comma-separated (``/v2`` always takes AK/SK or ``X-Auth-Token`` only):

* ``rbac``: Service-Center's token flow. ``POST /v4/token {"name", "password",
  "tokenExpirationTime"?}`` answers ``{"token": "..."}`` (Service-Center
  ``server/resource/rbac/auth_resource.go`` lines 163-192: ``Login``; default expiration
  ``DefaultTokenExpirationDuration = "12h"`` line 37; ``pkg/validate/token_expiration_time_checker.go``:
  15m..24h). Every other call sends ``Authorization: Bearer <token>``: go-chassis' sc-client
  ``client.go`` lines 192-211 (``req.Header.Set(HeaderAuth, "Bearer "+token)``, no header on
  ``TokenPath = "/v4/token"``), java-chassis ``clients/service-center-client/.../ServiceCenterClient.java``
  lines 504-525 (``queryToken``: 200 → the token, 404 → RBAC off, 401/403 → ``errorCode``) and
  ``huawei-cloud/servicestage/.../TokenAuthHeaderProvider.java`` line 36.
* ``aksk``: SDK-HMAC-SHA256 signatures and static ``X-Auth-Token`` tokens (api_edge/auth.py).
* ``open``: no authentication (Service-Center's default, ``rbac.enable=false``): every caller may
  act on every project. Only when the operator lists it; a warning is logged at start when the
  edge listens beyond loopback.

Errors, as Service-Center answers them (codes from go-chassis/cari ``rbac/error.go`` lines 46-57,
status = code // 1000, body ``{"errorCode", "errorMessage", "detail"}``):

=====================================  ======  ==================================================
situation                              code    Service-Center source
=====================================  ======  ==================================================
unknown account or wrong password      401202  ``server/service/rbac/authr_plugin.go`` 54-66
no ``Authorization`` header            401204  ``server/plugin/auth/buildin/buildin.go`` 151-154
header not ``<scheme> <token>``,       401201  buildin.go 155-158 and ``server/handler/auth/auth.go``
malformed or badly signed token                44-51 (any other error becomes ``ErrUnauthorized``)
expired token                          401205  authr_plugin.go 93-97
the token's account was deleted        401206  buildin.go 123-137
a project the account is not granted   403205  ``server/service/rbac/decision.go`` 44-47
bad login body or expiration           400001  auth_resource.go 170-183
name+address blocked by failed logins  403201  authr_plugin.go 45-49, ``blocker.go`` (LoginBlocker)
=====================================  ======  ==================================================

Paths that need no token (Service-Center ``server/service/rbac/rbac.go`` lines 73-77,
``add2WhiteAPIList``): ``/v4/token``, ``/v4/{project}/registry/version``,
``/v4/{project}/registry/health``, ``/version``, ``/health``; openstage adds the readiness probes
the clients send: ``/v4/{project}/registry/health/readiness`` (java-chassis
``ServiceCenterRawClient.java`` line 41) and ``/v3/{project}/configuration/health`` (java-chassis
``ConfigCenterClient.java`` line 57). They pass in every mode, whatever credential they carry.

Tokens are verifiable by every edge process without shared state: a JWT (HS256) signed with a
secret (``OPENSTAGE_REGISTRY_TOKEN_SECRET``, else ``<data dir>/registry-token.key``, created once),
carrying the account, its projects, the expiry and a fingerprint of the account's configured
password. Removing an account or changing its password revokes its tokens (401206 / 401201).
Passwords are held hashed: ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` or
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64, hashlib) are accepted as configured; a plain
password is hashed when loaded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api_edge.auth import AuthError, Principal, _load_json_list
from services.adapters.registry_secret import token_secret
from services.domain.registry.deploy_accounts import deploy_account_password, deploy_account_project
from services.settings import Settings

log = logging.getLogger("openstage.edge.auth")

__all__ = [
    "MODES",
    "RegistryAccount",
    "RegistryAuth",
    "RegistryTokens",
    "hash_password",
    "load_registry_accounts_json",
    "load_registry_auth",
    "parse_duration",
    "verify_password",
]

MODES = ("rbac", "aksk", "open", "open-config")
TOKEN_PATH = "/v4/token"
DEFAULT_EXPIRATION = "12h"
MIN_EXPIRATION_SECONDS = 15 * 60
MAX_EXPIRATION_SECONDS = 24 * 3600
ROLES = ["developer"]  # what the token's ``roles`` claim says (cari rbac.go ClaimsRoles); not enforced

# Service-Center's codes and messages (go-chassis/cari rbac/error.go, discovery/error.go)
ERR_INVALID_PARAMS = ("400001", "Invalid parameter(s)")
ERR_UNAUTHORIZED = ("401201", "Request unauthorized")
ERR_USER_OR_PWD_WRONG = ("401202", "User name or password is wrong")
ERR_NO_AUTH_HEADER = ("401204", "No authorization header")
ERR_TOKEN_EXPIRED = ("401205", "Token is expired")
ERR_TOKEN_OWNED_ACCOUNT_DELETED = ("401206", "The account that owns the token is deleted")
ERR_NO_PERMISSION = ("403205", "No permission(s)")
ERR_ACCOUNT_BLOCKED = ("403201", "Account blocked")

# Paths that need no credential (see the module docstring)
_PROBE_PATHS = re.compile(r"^/v4/[^/]+/registry/(?:version|health(?:/readiness)?)/?$|^/v3/[^/]+/configuration/health/?$|^/v1/health/?$")

_NonEmptyStr = Annotated[str, Field(min_length=1)]


def sc_error(error: tuple[str, str], detail: str = "") -> AuthError:
    code, message = error
    return AuthError(int(code) // 1000, message, code=code, detail=detail)


def is_probe_path(path: str) -> bool:
    return bool(_PROBE_PATHS.match(path))


# --------------------------------------------------------------------------
# Passwords
# --------------------------------------------------------------------------

PBKDF2_ITERATIONS = 120_000
_SCRYPT_MAX_N = 2**20


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt base64>$<hash base64>`` (hashlib.pbkdf2_hmac)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(digest)}"


def is_password_hash(value: str) -> bool:
    return value.startswith(("pbkdf2_sha256$", "scrypt$"))


def _check_hash_form(value: str) -> None:
    """Raise ValueError unless ``value`` is a well-formed hash this module can verify."""
    parts = value.split("$")
    try:
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            if int(parts[1]) < 1:
                raise ValueError
            base64.b64decode(parts[2], validate=True), base64.b64decode(parts[3], validate=True)
            return
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            if n < 2 or n & (n - 1) or n > _SCRYPT_MAX_N or r < 1 or p < 1:
                raise ValueError
            base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
            return
    except (ValueError, binascii.Error):
        pass
    raise ValueError("password hash must be pbkdf2_sha256$<iterations>$<salt>$<hash> or scrypt$<n>$<r>$<p>$<salt>$<hash> (base64)")


def verify_password(stored: str, password: str) -> bool:
    """Compare ``password`` with a hash made by :func:`hash_password` or in the scrypt form."""
    parts = stored.split("$")
    plain = password.encode("utf-8")
    if parts[0] == "pbkdf2_sha256":
        salt, expected = base64.b64decode(parts[2]), base64.b64decode(parts[3])
        actual = hashlib.pbkdf2_hmac("sha256", plain, salt, int(parts[1]), dklen=len(expected))
    elif parts[0] == "scrypt":
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        actual = hashlib.scrypt(plain, salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=256 * r * n + 2**20)
    else:
        return False
    return hmac.compare_digest(actual, expected)


# --------------------------------------------------------------------------
# Accounts (OPENSTAGE_REGISTRY_ACCOUNTS)
# --------------------------------------------------------------------------


class RegistryAccount(BaseModel):
    """A registry account: name, password (plain, or a hash in a form :func:`verify_password`
    knows) and the projects its tokens may act on (``"*"``: every project)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _NonEmptyStr
    password: _NonEmptyStr = Field(repr=False)
    projects: list[_NonEmptyStr]


def load_registry_accounts_json(text: str | bytes | None) -> list[RegistryAccount]:
    """Parse ``OPENSTAGE_REGISTRY_ACCOUNTS``: ``[{"name", "password", "projects": [..]}, ...]``.
    Raises ValueError (never echoing a password) on malformed input, a malformed hash or a
    duplicate name."""
    accounts = _load_json_list(
        text, RegistryAccount, "OPENSTAGE_REGISTRY_ACCOUNTS", identity=lambda a: a.name, duplicate=lambda a: f"duplicate account {a.name!r}"
    )
    for i, account in enumerate(accounts):
        if is_password_hash(account.password):
            try:
                _check_hash_form(account.password)
            except ValueError as exc:
                raise ValueError(f"OPENSTAGE_REGISTRY_ACCOUNTS[{i}]: {exc}") from None
    return accounts


# --------------------------------------------------------------------------
# Durations (Go's time.ParseDuration, as Service-Center parses tokenExpirationTime)
# --------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds of a Go duration such as ``12h``, ``1h30m``, ``90s``; ValueError if malformed."""
    if text in ("0",):
        return 0.0
    pos, total = 0, 0.0
    if not text:
        raise ValueError("empty duration")
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match:
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total


# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_JWT_HEADER = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())


class LoginBlocker:
    """Service-Center's lock-out of failed logins (``server/service/rbac/blocker.go``): per
    account name and client address a bucket of ``MaxAttempts = 2`` failures refilled one per
    ``BlockInterval = 15m``; a failure with the bucket empty blocks that pair for 15 minutes,
    during which even the right password gets 403201. Kept per edge process (the edge is
    stateless), so with N processes a client gets up to N times the attempts."""

    MAX_ATTEMPTS = 2
    BLOCK_SECONDS = 15 * 60
    MAX_KEYS = 100_000

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (tokens, at)
        self._blocked: dict[tuple[str, str], float] = {}  # key -> until
        self._lock = threading.Lock()  # logins run in worker threads

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            until = self._blocked.get(key)
            if until is None:
                return False
            if self._clock() < until:
                return True
            del self._blocked[key]
            return False

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failed(key)

    def _failed(self, key: tuple[str, str]) -> None:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.MAX_ATTEMPTS), now))
        tokens = min(float(self.MAX_ATTEMPTS), tokens + (now - at) / self.BLOCK_SECONDS)
        if tokens >= 1:
            tokens -= 1
        else:
            self._blocked[key] = now + self.BLOCK_SECONDS
        for table in (self._buckets, self._blocked):
            while len(table) >= self.MAX_KEYS:  # bounded memory: forget the oldest
                del table[next(iter(table))]
        self._buckets[key] = (tokens, now)


@dataclass(frozen=True)
class _Entry:
    account: RegistryAccount
    password_hash: str
    fingerprint: str


class RegistryTokens:
    """Issues and verifies the registry's bearer tokens. Pure: the secret, the accounts and the
    clock are handed in; any edge process with the same secret and accounts verifies any token."""

    def __init__(self, accounts: list[RegistryAccount], secret: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the registry token secret must be at least 16 bytes")
        self._secret = secret
        self._clock = clock
        self._accounts: dict[str, _Entry] = {}
        for account in accounts:
            if account.name in self._accounts:
                raise ValueError(f"duplicate account {account.name!r}")
            stored = account.password if is_password_hash(account.password) else hash_password(account.password)
            self._accounts[account.name] = _Entry(account, stored, self._fingerprint(account))
        # a login of an unknown account costs what a wrong password does
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))
        self._blocker = LoginBlocker(clock)

    def _fingerprint(self, account: RegistryAccount) -> str:
        # of the password as configured (the same in every process; a hash made at load is not)
        mac = hmac.new(self._secret, b"fp\0" + account.name.encode() + b"\0" + account.password.encode(), hashlib.sha256)
        return _b64url(mac.digest()[:12])

    def _deploy_entry(self, name: str) -> _Entry | None:
        """The deployment account ``deploy-<project>`` (services/domain/registry/deploy_accounts.py):
        its password derives from the secret, it acts on its project only."""
        project = deploy_account_project(name)
        if project is None:
            return None
        account = RegistryAccount(name=name, password=deploy_account_password(self._secret, project), projects=[project])
        return _Entry(account, "", self._fingerprint(account))

    def _sign(self, signing_input: str) -> str:
        return _b64url(hmac.new(self._secret, signing_input.encode("utf-8"), hashlib.sha256).digest())

    def login(self, name: str, password: str, expiration: str | None = None, client: str = "") -> str:
        """The token for a right name and password (slow: verifies the password hash); raises
        :class:`AuthError` with Service-Center's code otherwise. ``client``: the caller's address
        (failed logins block a name and address, see :class:`LoginBlocker`)."""
        if not name or not password:
            raise sc_error(ERR_INVALID_PARAMS, "name and password are required")
        expiration = expiration or DEFAULT_EXPIRATION
        try:
            seconds = parse_duration(expiration)
        except ValueError:
            seconds = -1.0
        if not MIN_EXPIRATION_SECONDS <= seconds <= MAX_EXPIRATION_SECONDS:
            raise sc_error(ERR_INVALID_PARAMS, "TokenExpirationTime should >= 15m and <= 24h")
        if self._blocker.blocked((name, client)):
            raise sc_error(ERR_ACCOUNT_BLOCKED)
        entry = self._accounts.get(name)
        deploy = self._deploy_entry(name) if entry is None else None
        if deploy is not None:
            entry, ok = deploy, hmac.compare_digest(deploy.account.password.encode(), password.encode())
        else:
            ok = verify_password(entry.password_hash if entry else self._dummy_hash, password)
        if entry is None or not ok:
            self._blocker.failed((name, client))
            raise sc_error(ERR_USER_OR_PWD_WRONG)
        now = int(self._clock())
        claims = {
            "account": name,
            "roles": ROLES,
            "projects": list(entry.account.projects),
            "fp": entry.fingerprint,
            "iat": now,
            "exp": now + int(seconds),
        }
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{_JWT_HEADER}.{payload}"
        return f"{signing_input}.{self._sign(signing_input)}"

    def verify(self, token: str) -> Principal:
        """The principal of a token issued by :meth:`login`; raises :class:`AuthError`."""
        parts = token.split(".")
        if len(parts) != 3:
            raise sc_error(ERR_UNAUTHORIZED, "token contains an invalid number of segments")
        expected = self._sign(f"{parts[0]}.{parts[1]}").encode()
        if parts[0] != _JWT_HEADER or not hmac.compare_digest(expected, parts[2].encode("utf-8")):
            raise sc_error(ERR_UNAUTHORIZED, "signature is invalid")
        try:
            claims = json.loads(_b64url_decode(parts[1]))
            name, projects, fingerprint, exp = claims["account"], claims["projects"], claims["fp"], claims["exp"]
            if not isinstance(name, str) or not isinstance(projects, list) or not isinstance(exp, int):
                raise TypeError
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise sc_error(ERR_UNAUTHORIZED, "token claims are invalid") from None
        if self._clock() >= exp:
            raise sc_error(ERR_TOKEN_EXPIRED)
        entry = self._accounts.get(name) or self._deploy_entry(name)
        if entry is None:
            raise sc_error(ERR_TOKEN_OWNED_ACCOUNT_DELETED, f"account [{name}] is deleted")
        if not hmac.compare_digest(entry.fingerprint, str(fingerprint)):
            raise sc_error(ERR_UNAUTHORIZED, "the account's password changed since the token was issued")
        # the account's projects now (an account narrowed since the login is narrowed at once)
        return Principal(kind="rbac", key_id=f"rbac:{name}", projects=list(entry.account.projects))


# --------------------------------------------------------------------------
# The modes together
# --------------------------------------------------------------------------

OPEN_PRINCIPAL = Principal(kind="open", key_id="open", projects=["*"])


class RegistryAuth:
    """Which modes are on for the registry and config surfaces, and the token issuer."""

    def __init__(self, modes: set[str], tokens: RegistryTokens | None = None) -> None:
        unknown = modes - set(MODES)
        if unknown:
            raise ValueError(f"OPENSTAGE_REGISTRY_AUTH: unknown mode(s) {', '.join(sorted(unknown))}; use {', '.join(MODES)}")
        if not modes - {"open-config"}:
            raise ValueError("OPENSTAGE_REGISTRY_AUTH: name at least one of rbac, aksk, open (open-config only opens /v3 and /v1)")
        if "rbac" in modes and tokens is None:
            raise ValueError("rbac mode needs a token issuer")
        self.modes = frozenset(modes)
        self.tokens = tokens if "rbac" in modes else None

    @property
    def rbac(self) -> bool:
        return self.tokens is not None

    def authenticate(self, headers: dict[str, str], aksk: Callable[[], Principal], config_surface: bool = False) -> Principal:
        """The caller of a registry/config request (``headers`` lower-cased); ``aksk`` runs the
        SDK-HMAC / X-Auth-Token check; ``config_surface``: a ``/v3`` config-center or ``/v1`` Kie
        request, which mode ``open-config`` lets through without a credential (go-chassis' config
        sources send none). Raises :class:`AuthError`."""
        open_here = "open" in self.modes or (config_surface and "open-config" in self.modes)
        if self.modes - {"open-config"} == {"open"}:
            return OPEN_PRINCIPAL  # Service-Center without RBAC reads no credential
        authorization = (headers.get("authorization") or "").strip()
        static_token = (headers.get("x-auth-token") or "").strip()
        scheme, _, rest = authorization.partition(" ")
        if self.tokens is not None and scheme.lower() == "bearer":
            token = rest.strip()
            if not token or " " in token:
                raise sc_error(ERR_UNAUTHORIZED, "invalid auth header")
            return self.tokens.verify(token)
        if (authorization or static_token) and "aksk" in self.modes:
            return aksk()
        if not authorization and not static_token:
            if open_here:
                return OPEN_PRINCIPAL
            if self.tokens is not None:
                raise sc_error(ERR_NO_AUTH_HEADER)
            return aksk()
        if self.tokens is not None:  # a credential of a mode that is off
            raise sc_error(ERR_UNAUTHORIZED, "invalid auth header")
        return aksk()  # rbac off: AK/SK's own answer

    def authorize(self, principal: Principal, project_id: str) -> None:
        if principal.kind == "rbac" and not principal.allows(project_id):
            raise sc_error(ERR_NO_PERMISSION, f"the account may not act on project {project_id}")


def parse_modes(text: str) -> set[str]:
    return {m.strip().lower() for m in text.split(",") if m.strip()}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_registry_auth(settings: Settings) -> RegistryAuth:
    """The registry authentication of an edge process from its settings: accounts from
    ``OPENSTAGE_REGISTRY_ACCOUNTS``, else the one ``openstage up`` generated
    (``<data dir>/registry-account.json``)."""
    modes = parse_modes(settings.registry_auth)
    tokens = None
    if "rbac" in modes:
        accounts = load_registry_accounts_json(settings.registry_accounts)
        account_file = settings.data_dir / "registry-account.json"
        if settings.registry_accounts is None and account_file.exists():
            accounts = load_registry_accounts_json(account_file.read_text())
        if not accounts:
            log.warning("registry auth rbac: no accounts configured (OPENSTAGE_REGISTRY_ACCOUNTS): no token can be issued")
        tokens = RegistryTokens(accounts, token_secret(settings))
    auth = RegistryAuth(modes, tokens)
    if "open" in modes and not _is_loopback(settings.host):
        log.warning(
            "registry auth 'open': /v4, /v3 and /v1 (Kie) take requests without any credential, on every project, "
            "and the edge listens on %s (beyond loopback)",
            settings.host,
        )
    if "open-config" in modes and "open" not in modes and not _is_loopback(settings.host):
        log.warning(
            "registry auth 'open-config': /v3 and /v1 (Kie) take requests without any credential, on every project, "
            "and the edge listens on %s (beyond loopback)",
            settings.host,
        )
    return auth
