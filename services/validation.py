"""Turning a pydantic ValidationError into the one-line message an API error carries, and the
limits every JSON request body is held to."""
from __future__ import annotations

import re
from array import array
from itertools import accumulate

from pydantic import ValidationError

#: How deep the arrays and objects of a request body may nest. Far above what any API body
#: needs, and below what the parts behind the edge take: MongoDB keeps documents nested at most
#: 100 levels (a body is stored a few levels down), pydantic serialises at most ~250.
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"[^"]*"')  # once escaped quotes are gone: linear, no backtracking
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        msg = str(err.get("msg"))
        parts.append(f"{loc}: {msg}" if loc else msg)
    # never echo the offending input back at length
    return "; ".join(parts)[:500] or "invalid request"


def json_nesting(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (0: a scalar), without parsing it:
    the brackets outside strings are counted (in C, linear time). For a text that is not JSON
    the figure means little, and a parser refuses the text anyway."""
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # JSON escapes pair left to right
    steps = _JSON_STRING.sub(b"", unescaped).translate(_BRACKET_STEP, _NOT_BRACKET)
    return max(accumulate(array("b", steps)), default=0)
