"""The config-center query ``/v3/{project}/configuration/items``: dimensionsInfo and keyFilter.

Sources:

* Huawei CSE API "Querying Configurations" (``GET /v3/{project_id}/configuration/items``):
  ``dimensionsInfo`` is ``{serviceName}@{appId}#{version}`` or ``{serviceName}@{appId}``
  (``@`` and ``#`` URL-encoded as ``%40``/``%23``) and may not contain spaces or any of
  ``$%^&+/\\``; optional ``keyFilter`` (a regular expression on keys) and ``revision``
  (equal to the current one -> 304 with no body); optional ``X-Environment`` header.
* apache/servicecomb-java-chassis ``ConfigCenterClient``: the response is a map
  ``dimension -> {key: value}`` plus ``"revision": {"version": "..."}``; the client merges
  ``application`` < ``svc@app`` < ``darklaunch@app`` < ``svc@app#version``.
* go-chassis ``go-chassis-config`` config-center client: items are written with
  ``POST`` and removed with ``DELETE`` on the same path, bodies
  ``{"dimensionsInfo": ..., "items": {...}}`` / ``{"dimensionsInfo": ..., "keys": [...]}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.contracts.config_items import MAX_CONFIG_KEY_LENGTH, MAX_DIMENSIONS_INFO_LENGTH, MAX_KEY_FILTER_LENGTH
from services.contracts.registry_errors import invalid_params

APPLICATION_DIMENSION = "application"
DARKLAUNCH_PREFIX = "darklaunch@"
REVISION_KEY = "revision"
ENVIRONMENT_HEADER = "X-Environment"
FORBIDDEN_CHARACTERS = frozenset(" $%^&+/\\")


@dataclass(frozen=True)
class DimensionsInfo:
    service_name: str
    app_id: str
    version: str | None = None

    @property
    def service_key(self) -> str:
        """``svc@app``."""
        return f"{self.service_name}@{self.app_id}"

    @property
    def versioned_key(self) -> str | None:
        """``svc@app#version`` (None without a version)."""
        return None if self.version is None else f"{self.service_key}#{self.version}"

    @property
    def darklaunch_key(self) -> str:
        return f"{DARKLAUNCH_PREFIX}{self.app_id}"

    @property
    def text(self) -> str:
        return self.versioned_key or self.service_key

    def response_keys(self) -> list[str]:
        """The dimensions a query for this answers, lowest precedence first."""
        keys = [APPLICATION_DIMENSION, self.service_key, self.darklaunch_key]
        if self.version is not None:
            keys.append(self.versioned_key)  # type: ignore[arg-type]
        return keys


def _check_characters(value: str, what: str) -> None:
    bad = sorted({c for c in value if c in FORBIDDEN_CHARACTERS or c.isspace()})
    if bad:
        raise invalid_params(f"{what} must not contain spaces or any of $%^&+/\\: '{value}'")


def parse_dimensions_info(value: str | None) -> DimensionsInfo:
    """``svc@app`` or ``svc@app#version`` -> :class:`DimensionsInfo`; anything else is 400001."""
    if not value:
        raise invalid_params("dimensionsInfo is required")
    if len(value) > MAX_DIMENSIONS_INFO_LENGTH:
        raise invalid_params(f"dimensionsInfo is longer than {MAX_DIMENSIONS_INFO_LENGTH} characters")
    _check_characters(value, "dimensionsInfo")
    head, sep, version = value.partition("#")
    if sep and (not version or "#" in version):
        raise invalid_params(f"invalid dimensionsInfo '{value}': expected serviceName@appId[#version]")
    service_name, at, app_id = head.partition("@")
    if not at or not service_name or not app_id or "@" in app_id:
        raise invalid_params(f"invalid dimensionsInfo '{value}': expected serviceName@appId[#version]")
    return DimensionsInfo(service_name, app_id, version if sep else None)


def parse_dimension_target(value: str | None) -> str:
    """The dimension a write (POST/DELETE items) addresses: ``svc@app[#version]``,
    ``application`` or ``darklaunch@app``. Returns it unchanged."""
    if value == APPLICATION_DIMENSION:
        return value
    if value and value.startswith(DARKLAUNCH_PREFIX):
        app = value[len(DARKLAUNCH_PREFIX) :]
        _check_characters(value, "dimensionsInfo")
        if not app or "@" in app or "#" in app:
            raise invalid_params(f"invalid dimensionsInfo '{value}'")
        return value
    return parse_dimensions_info(value).text


def dimension_key(service_name: str, app_id: str, version: str | None = None) -> str:
    return DimensionsInfo(service_name, app_id, version).text


# --- keyFilter ---------------------------------------------------------------------------------
_UNSUPPORTED = re.compile(r"\\[1-9]|\(\?[=!]|\(\?<[=!]|\(\?P=|\(\?\(")
_QUANTIFIER = re.compile(r"(?<!\\)(?:[*+]|\{\d*,?\d*\})")


def _nested_quantifier(pattern: str) -> bool:
    """A quantified group whose body is itself quantified, e.g. ``(a+)+`` or ``(\\w*x)*``: the
    shapes that make a backtracking engine exponential. Character classes are skipped."""
    stack: list[int] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
        elif c == "(":
            stack.append(i)
        elif c == ")" and stack:
            start = stack.pop()
            nxt = pattern[i + 1] if i + 1 < n else ""
            if nxt in "*+{":
                body = re.sub(r"\[(?:\\.|[^\]])*\]", "", pattern[start + 1 : i])
                if _QUANTIFIER.search(body):
                    return True
        i += 1
    return False


def compile_key_filter(pattern: str | None, *, max_length: int = MAX_KEY_FILTER_LENGTH) -> re.Pattern[str] | None:
    """Compile ``keyFilter`` safely. None/empty -> None (no filtering).

    400001 when it is longer than ``max_length``, is not a valid regular expression, uses
    constructs RE2 (Go, hence the real config center) does not have – back-references and
    look-around – or nests quantifiers (``(a+)+``), which could make matching exponential."""
    if pattern is None or pattern == "":
        return None
    if len(pattern) > max_length:
        raise invalid_params(f"keyFilter is longer than {max_length} characters")
    if _UNSUPPORTED.search(pattern):
        raise invalid_params(f"keyFilter uses an unsupported construct (back-reference or look-around): '{pattern}'")
    if _nested_quantifier(pattern):
        raise invalid_params(f"keyFilter nests quantifiers, which is not allowed: '{pattern}'")
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise invalid_params(f"keyFilter is not a valid regular expression: {exc}") from None


def filter_items(items: Mapping[str, Any], key_filter: re.Pattern[str] | str | None) -> dict[str, Any]:
    """Keep the items whose key the filter finds (unanchored search, like Go's ``MatchString``;
    anchor with ``^...$`` for a whole-key match)."""
    rx = compile_key_filter(key_filter) if isinstance(key_filter, str) or key_filter is None else key_filter
    if rx is None:
        return dict(items)
    return {k: v for k, v in items.items() if rx.search(k)}


def merge_dimensions(by_dimension: Mapping[str, Mapping[str, Any]], dims: DimensionsInfo) -> dict[str, Any]:
    """The flat view a ServiceComb client builds from a response (later dimensions win)."""
    merged: dict[str, Any] = {}
    for key in dims.response_keys():
        merged.update(by_dimension.get(key) or {})
    return merged


def config_revision(by_dimension: Mapping[str, Mapping[str, Any]]) -> str:
    """A deterministic revision of a query result (sha1 of its canonical JSON): the same items
    give the same revision, so ``?revision=`` equal to it yields 304."""
    canonical = json.dumps(
        {k: dict(v) for k, v in by_dimension.items() if k != REVISION_KEY and v},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha1(canonical.encode()).hexdigest()


def validate_config_keys(keys: Iterable[str], *, what: str = "key") -> list[str]:
    out = list(keys)
    for k in out:
        if not isinstance(k, str) or not k or len(k) > MAX_CONFIG_KEY_LENGTH:
            raise invalid_params(f"invalid configuration {what} '{k}'")
    return out


def validate_create_items(dimensions_info: str | None, items: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """POST items: a valid target dimension and at least one item."""
    target = parse_dimension_target(dimensions_info)
    if not items:
        raise invalid_params("items is empty")
    validate_config_keys(items.keys())
    return target, dict(items)


def validate_delete_items(dimensions_info: str | None, keys: Iterable[str] | None) -> tuple[str, list[str]]:
    """DELETE items: a valid target dimension and at least one key."""
    target = parse_dimension_target(dimensions_info)
    out = validate_config_keys(keys or [])
    if not out:
        raise invalid_params("keys is empty")
    return target, out


__all__ = [
    "APPLICATION_DIMENSION",
    "DARKLAUNCH_PREFIX",
    "ENVIRONMENT_HEADER",
    "FORBIDDEN_CHARACTERS",
    "MAX_KEY_FILTER_LENGTH",
    "REVISION_KEY",
    "DimensionsInfo",
    "compile_key_filter",
    "config_revision",
    "dimension_key",
    "filter_items",
    "merge_dimensions",
    "parse_dimension_target",
    "parse_dimensions_info",
    "validate_config_keys",
    "validate_create_items",
    "validate_delete_items",
]
