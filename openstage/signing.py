"""Client side of SDK-HMAC-SHA256: the headers a request needs to pass the edge's verifier
(api_edge/auth.py), the way huaweicloudsdkcore's Signer signs. Used by `openstage api`,
`openstage status`, `openstage jobs watch` and the tests; the browser console does the same
in JavaScript (api_edge/console/static/signer.js).

The canonical forms (path, query) are the verifier's own functions, so signer and verifier cannot
drift apart; api_edge.auth is pure code (no web framework, no I/O)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from api_edge.auth import ALGORITHM, canonical_query_string, canonical_uri

DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def sign(
    method: str, url: str, ak: str, sk: str, body: bytes = b"", headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> dict[str, str]:
    """Every header to send (``headers`` plus Host, X-Sdk-Date and Authorization); all of them
    are signed. ``url`` is the full URL as it goes on the wire (path percent-encoded, query)."""
    parts = urlsplit(url)
    date = (now or datetime.now(UTC)).strftime(DATE_FORMAT)
    out = {**(headers or {}), "Host": parts.netloc, "X-Sdk-Date": date}
    lowered = {k.lower(): v for k, v in out.items()}
    signed = sorted(lowered)
    canonical_headers = "".join(f"{h}:{lowered[h].strip()}\n" for h in signed)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path or "/"),
            canonical_query_string(parts.query),
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    return out
