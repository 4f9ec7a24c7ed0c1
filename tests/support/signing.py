"""Requests signed exactly as the official Huawei Cloud SDK signs them (its own Signer)."""

from __future__ import annotations

import json as jsonlib
from urllib.parse import urlsplit

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer


class SignedClient:
    """An httpx client whose requests carry SDK-HMAC-SHA256 signatures."""

    def __init__(self, base_url: str, ak: str, sk: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = Signer(BasicCredentials(ak, sk))
        self.http = httpx.Client(timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | list | None = None,
        json=None,
        content: bytes | None = None,
        headers: dict | None = None,
    ) -> httpx.Response:
        if json is not None:
            content = jsonlib.dumps(json).encode()
        query = list(params.items()) if isinstance(params, dict) else list(params or [])
        host = urlsplit(self.base_url).netloc
        header_params = {"Content-Type": "application/json;charset=UTF-8", **(headers or {})}
        req = SdkRequest(
            method=method.upper(),
            schema="http",
            host=host,
            resource_path=path,
            query_params=query,
            header_params=header_params,
            body=content or "",
        )
        self.signer.sign(req)
        url = f"{self.base_url}{req.uri}"
        return self.http.request(method.upper(), url, headers=req.header_params, content=content or b"")

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw) -> httpx.Response:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self.http.close()
