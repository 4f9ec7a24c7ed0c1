"""Microservice versions and version rules, as Service-Center v2.0.0 defines them.

Sources (apache/servicecomb-service-center, tag v2.0.0):

* ``pkg/validate/version_func.go`` – a version is ``x[.y[.z[.w]]]`` (regex ``^\\d+(\\.\\d+){0,3}$``),
  each segment parsed as a signed 16-bit integer, so 0..32767; versions compare numerically
  segment by segment, missing segments count as 0 (``1.0`` and ``1.0.0`` compare equal).
  The fuzzy form (find / existence / dependency providers) is
  ``^\\d+(\\.\\d+){0,3}\\+?$|^\\d+(\\.\\d+){0,3}-\\d+(\\.\\d+){0,3}$|^latest$``.
* ``datasource/etcd/util/versionrule.go`` – the rules:

  - ``latest``: the single highest version;
  - ``x.y.z+``: every version ``>= x.y.z``;
  - ``a-b``: every version ``v`` with ``min(a,b) <= v < max(a,b)`` – the **upper bound is
    exclusive** and the bounds may be given in either order (``1.8-1.4`` == ``1.4-1.8``);
  - anything else: exact match, compared as a **string** (``1.0`` does not match ``1.0.0``).

  Results come newest first (Service-Center's existence call takes ``ids[0]`` as "the newest").

Deviation kept on purpose: v2.0.0's ``Range`` walks the descending list and includes the first
version below the upper bound without checking the lower bound, so with versions ``[3.0, 1.0]``
the rule ``2.0-2.5`` returns ``1.0``. That is a bug; :func:`match_versions` returns ``[]`` there.
Pass ``sc_range_quirk=True`` to reproduce the old answer exactly.

After v2.0.0 Service-Center dropped version rules from discovery (``find`` returns every
version); an empty/absent rule therefore means "all versions" here (:data:`ALL_VERSIONS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from services.contracts.registry_errors import invalid_params

MAX_SEGMENTS = 4
MAX_SEGMENT_VALUE = 32767  # strconv.ParseInt(s, 10, 16)
#: Service-Center's default version for a service registered without one (cari ``VERSION``).
DEFAULT_VERSION = "0.0.1"
#: The rule Service-Center >= 2.1 records for auto-created dependencies (``datasource.AllVersions``).
ALL_VERSIONS = "0.0.0+"
LATEST = "latest"

# Go's \d is ASCII only; Python's \d is not, hence [0-9] and re.ASCII.
_VERSION_RE = re.compile(r"[0-9]+(?:\.[0-9]+){0,3}", re.ASCII)
_FUZZY_RE = re.compile(r"[0-9]+(?:\.[0-9]+){0,3}\+?|[0-9]+(?:\.[0-9]+){0,3}-[0-9]+(?:\.[0-9]+){0,3}|latest", re.ASCII)

VersionKey = tuple[int, int, int, int]


class RuleKind(str, Enum):
    ALL = "all"
    LATEST = "latest"
    AT_LEAST = "at_least"
    RANGE = "range"
    EXACT = "exact"


def _segments(version: str) -> VersionKey | None:
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        return None
    parts = [int(p) for p in version.split(".")]
    if any(p > MAX_SEGMENT_VALUE for p in parts):
        return None
    parts += [0] * (MAX_SEGMENTS - len(parts))
    return (parts[0], parts[1], parts[2], parts[3])


def is_valid_version(version: str) -> bool:
    """True for ``x[.y[.z[.w]]]`` with every segment in 0..32767 (Service-Center's exact form)."""
    return _segments(version) is not None


def parse_version(version: str) -> VersionKey:
    """The sortable key of a version: four integers, missing segments 0.

    Raises a 400001 :class:`~services.contracts.registry_errors.RegistryError` for anything else
    (``1.a``, ``1.2.3.4.5``, ``1.``, ``.1``, ``60000``, ``-1``, ``""``)."""
    key = _segments(version)
    if key is None:
        raise invalid_params(f"invalid version '{version}': the form x[.y[.z[.w]]] where each part is in the 0-32767 range")
    return key


def version_key(version: str) -> VersionKey:
    """Alias of :func:`parse_version` for ``sorted(..., key=version_key)``."""
    return parse_version(version)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b`` (numeric, per segment)."""
    ka, kb = parse_version(a), parse_version(b)
    return (ka > kb) - (ka < kb)


def sort_versions(versions: Iterable[str], *, newest_first: bool = True) -> list[str]:
    """Valid versions sorted numerically (ties such as ``1.0``/``1.0.0`` broken by the string,
    so the order is deterministic). Invalid strings are dropped."""
    valid = [v for v in versions if _segments(v) is not None]
    return sorted(valid, key=lambda v: (_segments(v), v), reverse=newest_first)


@dataclass(frozen=True)
class VersionRule:
    kind: RuleKind
    raw: str
    start: VersionKey | None = None  # AT_LEAST: lower bound; RANGE: lower bound (inclusive)
    end: VersionKey | None = None  # RANGE: upper bound (exclusive)

    def matches(self, version: str) -> bool:
        """Whether one version satisfies the rule (Service-Center's ``VersionMatchRule``).
        For ``latest`` this is true for any valid version (it is the latest of itself)."""
        if self.kind is RuleKind.EXACT:
            return version == self.raw
        key = _segments(version)
        if key is None:
            return False
        if self.kind in (RuleKind.ALL, RuleKind.LATEST):
            return True
        if self.kind is RuleKind.AT_LEAST:
            assert self.start is not None
            return key >= self.start
        assert self.start is not None and self.end is not None
        return self.start <= key < self.end


def is_valid_version_rule(rule: str | None) -> bool:
    try:
        parse_version_rule(rule)
    except Exception:
        return False
    return True


def parse_version_rule(rule: str | None, *, max_length: int = 129) -> VersionRule:
    """Parse a rule (``latest``, ``1.0+``, ``1.0-2.0``, ``1.0.0``; empty/None = all versions).

    ``max_length`` is Service-Center's limit for the find/existence ``version`` parameter (129;
    128 for dependency providers). ``*`` is not a version rule in Service-Center (it is only
    accepted as a dependency provider's *serviceName*) and is rejected with 400001."""
    if rule is None or rule == "":
        return VersionRule(RuleKind.ALL, "")
    if not isinstance(rule, str) or len(rule) > max_length or not _FUZZY_RE.fullmatch(rule):
        raise invalid_params(
            f"invalid version rule '{rule}': the form x[.y[.z]] or x[.y[.z]]+ or x[.y[.z]]-x[.y[.z]] "
            "or 'latest' where x y and z are 0-32767 range"
        )
    if rule == LATEST:
        return VersionRule(RuleKind.LATEST, rule)
    if rule.endswith("+"):
        return VersionRule(RuleKind.AT_LEAST, rule, start=parse_version(rule[:-1]))
    if "-" in rule:
        a, b = rule.split("-", 1)
        ka, kb = parse_version(a), parse_version(b)
        lo, hi = (ka, kb) if ka <= kb else (kb, ka)
        return VersionRule(RuleKind.RANGE, rule, start=lo, end=hi)
    parse_version(rule)  # exact: still has to be a well-formed version
    return VersionRule(RuleKind.EXACT, rule)


def match_versions(rule: str | None, versions: list[str], *, sc_range_quirk: bool = False) -> list[str]:
    """The versions a rule selects, newest first.

    ``versions`` are the registered versions of one (environment, appId, serviceName). Strings
    that are not valid versions are ignored except by an exact rule (string equality).
    Duplicates are kept (two services can only share a version string if they differ in
    something else, which the caller decides)."""
    parsed = parse_version_rule(rule)
    if parsed.kind is RuleKind.EXACT:
        return [v for v in versions if v == parsed.raw]
    ordered = sort_versions(versions, newest_first=True)
    if not ordered:
        return []
    if parsed.kind is RuleKind.ALL:
        return ordered
    if parsed.kind is RuleKind.LATEST:
        return ordered[:1]
    if parsed.kind is RuleKind.AT_LEAST:
        return [v for v in ordered if parsed.matches(v)]
    if sc_range_quirk:
        return _sc_v2_range(ordered, parsed)
    return [v for v in ordered if parsed.matches(v)]


def version_matches(version: str, rule: str | None) -> bool:
    """Service-Center's ``VersionMatchRule(version, rule)``."""
    return parse_version_rule(rule).matches(version)


def latest_version(versions: Iterable[str]) -> str | None:
    ordered = sort_versions(versions, newest_first=True)
    return ordered[0] if ordered else None


def _sc_v2_range(ordered_desc: list[str], rule: VersionRule) -> list[str]:
    """Reproduces v2.0.0 ``Range`` verbatim, including its unchecked first element."""
    assert rule.start is not None and rule.end is not None
    start, end = rule.start, rule.end
    keys = [_segments(v) for v in ordered_desc]
    if start > keys[0] or end <= keys[-1]:  # type: ignore[operator]
        return []
    out: list[str] = []
    flag = 0
    for v, k in zip(ordered_desc, keys, strict=True):
        assert k is not None
        if flag == 0:
            if end <= k:
                continue
            flag = 1
        elif start > k:
            return out
        out.append(v)
    return out


__all__ = [
    "ALL_VERSIONS",
    "DEFAULT_VERSION",
    "LATEST",
    "MAX_SEGMENTS",
    "MAX_SEGMENT_VALUE",
    "RuleKind",
    "VersionKey",
    "VersionRule",
    "compare_versions",
    "is_valid_version",
    "is_valid_version_rule",
    "latest_version",
    "match_versions",
    "parse_version",
    "parse_version_rule",
    "sort_versions",
    "version_key",
    "version_matches",
]
