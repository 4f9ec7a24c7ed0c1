"""Turning a pydantic ValidationError into the one-line message an API error carries."""
from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        msg = str(err.get("msg"))
        parts.append(f"{loc}: {msg}" if loc else msg)
    # never echo the offending input back at length
    return "; ".join(parts)[:500] or "invalid request"
