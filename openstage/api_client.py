"""The HTTP API as the CLI calls it (`openstage api`, `openstage status`, `openstage jobs watch`):
where the edge is, which credential to use, and a signed request.

- endpoint: ``--endpoint``, else ``OPENSTAGE_ENDPOINT``, else ``http://127.0.0.1:8080``;
- credential: ``OPENSTAGE_AK``/``OPENSTAGE_SK``, else ``OPENSTAGE_TOKEN`` (X-Auth-Token), else the
  AK/SK `openstage up` generated in ``<data dir>/credentials.json`` (default ``./.openstage``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from openstage.signing import sign

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
DEFAULT_DATA_DIR = Path(".openstage")
CREDENTIALS_FILE = "credentials.json"


class ClientError(Exception):
    """Nothing was asked (no credential, no edge, bad input): one line for the user."""


@dataclass(frozen=True)
class Credential:
    ak: str | None = None
    sk: str | None = None
    token: str | None = None
    source: str = ""

    def headers(self, method: str, url: str, body: bytes, content_type: str | None) -> dict[str, str]:
        extra = {"Content-Type": content_type} if content_type else {}
        if self.ak and self.sk:
            return sign(method, url, self.ak, self.sk, body, extra)
        if self.token:
            return {**extra, "X-Auth-Token": self.token}
        raise ClientError("no credential")


def endpoint_of(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("OPENSTAGE_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def generated_credential(data_dir: Path) -> dict | None:
    """The AK/SK `openstage up` generated in data_dir (None when there is none)."""
    path = data_dir / CREDENTIALS_FILE
    try:
        entries = json.loads(path.read_text())
        first = entries[0]
        return {"ak": str(first["ak"]), "sk": str(first["sk"]), "projects": list(first.get("projects") or ["*"])}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, LookupError, TypeError) as exc:
        raise ClientError(f"cannot read {path}: {exc}") from None


def resolve_credential(data_dir: Path | None = None, ak: str | None = None, sk: str | None = None, token: str | None = None) -> Credential:
    """Explicit values, else OPENSTAGE_AK/OPENSTAGE_SK, else OPENSTAGE_TOKEN, else data_dir's."""
    ak = ak or os.environ.get("OPENSTAGE_AK")
    sk = sk or os.environ.get("OPENSTAGE_SK")
    if ak and sk:
        return Credential(ak=ak, sk=sk, source="OPENSTAGE_AK/OPENSTAGE_SK")
    if ak or sk:
        raise ClientError("set both OPENSTAGE_AK and OPENSTAGE_SK (or neither)")
    token = token or os.environ.get("OPENSTAGE_TOKEN")
    if token:
        return Credential(token=token, source="OPENSTAGE_TOKEN")
    data_dir = data_dir or DEFAULT_DATA_DIR
    cred = generated_credential(data_dir)
    if cred is None:
        raise ClientError(
            f"no credential: set OPENSTAGE_AK and OPENSTAGE_SK (or OPENSTAGE_TOKEN), or point --data-dir at the "
            f"directory of a `openstage up` (no {data_dir / CREDENTIALS_FILE})"
        )
    return Credential(ak=cred["ak"], sk=cred["sk"], source=str(data_dir / CREDENTIALS_FILE))


class ApiClient:
    """Signed requests to one edge."""

    def __init__(self, endpoint: str, credential: Credential, timeout: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        self.http = httpx.Client(timeout=timeout)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.endpoint + ("" if path.startswith("/") else "/") + path

    def request(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        method = method.upper()
        # httpx normalises the URL it sends (percent-encoding): sign exactly what goes on the wire
        url = str(httpx.URL(self.url(path)))
        content_type = "application/json" if body else None
        headers = self.credential.headers(method, url, body, content_type)
        try:
            return self.http.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.endpoint}: {exc}") from None

    def get_json(self, path: str) -> dict:
        r = self.request("GET", path)
        if r.status_code != 200:
            raise ClientError(f"GET {path}: HTTP {r.status_code}: {error_message(r)}")
        return r.json()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def error_message(response: httpx.Response) -> str:
    """The API's message in either error shape (v2 error_msg, Service-Center errorMessage/detail)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500]
    if isinstance(body, dict):
        msg = body.get("error_msg") or body.get("errorMessage") or body.get("message")
        detail = body.get("detail")
        if msg:
            return f"{msg} ({detail})" if detail and detail != msg else str(msg)
    return json.dumps(body)[:500]
