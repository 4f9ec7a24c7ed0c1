"""Turning a pydantic ValidationError into the one-line message an API error carries, and the
limits every JSON request body is held to."""

from __future__ import annotations

import re
from array import array
from itertools import accumulate
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationError

#: How deep the arrays and objects of a request body may nest. Far above what any API body
#: needs, and below what the parts behind the edge take: MongoDB keeps documents nested at most
#: 100 levels (a body is stored a few levels down), pydantic serialises at most ~250.
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"[^"]*"')  # once escaped quotes are gone: linear, no backtracking
#: The integers a stored value may hold (BSON's widest integer is 64-bit signed).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

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


def check_json_value(value: Any) -> Any:
    """A free-form JSON value that is kept as given and stored as (part of) a document: nested
    at most MAX_JSON_DEPTH levels, its integers within 64 bits. ValueError otherwise."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise ValueError("integer value out of the 64-bit range")
        elif isinstance(item, (dict, list)):
            if level > MAX_JSON_DEPTH:
                raise ValueError(f"value nests deeper than {MAX_JSON_DEPTH} levels")
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return value


#: A free-form JSON object of an API body (kept as given): see check_json_value.
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json_value)]
