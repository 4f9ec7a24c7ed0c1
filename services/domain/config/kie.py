"""ServiceComb-Kie's rules, pure: query parameters, ids, which KVs a list answers and which change
answers a waiting list. Followed from apache/servicecomb-kie at fcacc0dab:

- ``label=k:v`` parameters: ``server/resource/v1/common.go`` L174-188 (getLabels: each must split
  into exactly two parts on ``:``, else 400001 with MsgIllegalLabels);
- ``match``: common.go L206-212 (anything but ``exact`` means "partial");
- ``wait``: a Go duration of at most 5 minutes, common.go L213-217 and kv_resource.go L205-218;
- ``revision``: an integer, common.go L189-205 (revNotMatch: any other number than the current
  one answers at once);
- ``offset``/``limit``: common.go L239-259 (limit 1..100);
- which KVs a list answers: ``server/datasource/mongo/kv/kv_dao.go`` L256-313 and L710-740: every
  label of the query must be on the KV (``labels.k = v``), and with ``match=exact`` the KV's labels
  must be exactly the query's (util.IsEquivalentLabel, ``pkg/util/util.go`` L27-34); ``key`` is
  exact, ``beginWith(prefix)`` or ``wildcard(a*b)`` (case-insensitive), newest update first;
- which change answers a waiting list: ``server/pubsub/struct.go`` L99-122 (Topic.Match);
- the id of a KV: sha256 of ``domain/project/key/label_format`` in hex, ``server/service/kv/kv_svc.go``
  L147-153, the label format ``k=v::k=v`` (sorted) or ``none``, ``pkg/stringutil/string_util.go`` L30-50.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.contracts import kie
from services.contracts.kie import KieError, invalid_params

#: Kie's tenant ("domain"); openstage's tenant is the project, so every KV is in Kie's default domain.
DOMAIN = "default"
LABEL_NONE = "none"

# Go's time.ParseDuration: an optional sign, then one or more <number><unit>.
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_labels(values: Iterable[str]) -> dict[str, str]:
    """``label=k:v`` query values -> ``{k: v}`` (a later duplicate key wins, as in Go's map)."""
    labels: dict[str, str] = {}
    for value in values:
        parts = value.split(":")
        if len(parts) != 2:
            raise invalid_params(kie.MSG_ILLEGAL_LABELS)
        labels[parts[0]] = parts[1]
    return labels


def match_of(value: str | None) -> str:
    """``match``: ``exact`` or ``""`` (Kie treats every other value as empty)."""
    return kie.MATCH_EXACT if value == kie.MATCH_EXACT else ""


def parse_duration(text: str) -> float:
    """Seconds of a Go duration string (``5s``, ``100ms``, ``1m30s``); ValueError when it is not one."""
    s = text
    sign = 1.0
    if s[:1] in ("+", "-"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * total


def parse_wait(text: str | None) -> float | None:
    """``wait`` -> seconds (None: no wait). Kie refuses what is not a duration or is over 5 minutes
    with 400001; ``0s`` waits for nothing (304 at once unless ``revision`` is an old one). openstage
    also refuses a negative duration."""
    if not text:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise invalid_params(kie.MSG_INVALID_WAIT) from None
    if seconds < 0 or seconds > kie.MAX_WAIT_SECONDS:
        raise invalid_params(kie.MSG_INVALID_WAIT)
    return seconds


def parse_revision(text: str | None) -> int | None:
    """``revision`` -> an integer (None: absent), 400001 when it is not one."""
    if not text:
        return None
    if not re.fullmatch(r"[+-]?\d{1,19}", text):
        raise invalid_params(kie.MSG_INVALID_REV)
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise invalid_params(kie.MSG_INVALID_REV)
    return value


def parse_pagination(offset: str | None, limit: str | None) -> tuple[int, int]:
    """``offset`` >= 0 and ``limit`` 1..100 (absent: 0, no paging), as common.go L239-259."""
    off = lim = 0
    if offset:
        if not re.fullmatch(r"[+-]?\d{1,18}", offset):
            raise invalid_params(f'strconv.ParseInt: parsing "{offset}": invalid syntax')
        off = int(offset)
        if off < 0:
            raise invalid_params("invalid offset number")
    if limit:
        if not re.fullmatch(r"[+-]?\d{1,18}", limit) or not 1 <= int(limit) <= kie.MAX_LIMIT:
            raise invalid_params("invalid limit number")
        lim = int(limit)
    return off, lim


def check_wait_request(key: str, wait_seconds: float | None) -> None:
    """A waiting list may not filter by key (kv_resource.go L258-264)."""
    if wait_seconds is not None and key:
        raise invalid_params(kie.MSG_KEY_WITH_WAIT)


def label_format(labels: Mapping[str, str]) -> str:
    """``k1=v1::k2=v2`` (keys sorted) or ``none``."""
    if not labels:
        return LABEL_NONE
    return "::".join(f"{k}={labels[k]}" for k in sorted(labels))


def kv_id(project: str, key: str, labels: Mapping[str, str]) -> str:
    """The id Kie gives a KV: the same key and labels in a project always have the same id."""
    raw = "/".join([DOMAIN, project, key, label_format(labels)])
    return hashlib.sha256(raw.encode()).hexdigest()


def labels_match(query: Mapping[str, str], labels: Mapping[str, str], match: str) -> bool:
    """Whether a KV (or a change of one) with ``labels`` is answered to a query with ``query`` labels:
    every query label on it and, with ``match=exact``, no other label."""
    if match == kie.MATCH_EXACT and dict(query) != dict(labels):
        return False
    return all(labels.get(k) == v for k, v in query.items())


@dataclass(frozen=True)
class KeyFilter:
    """``key``: exact (``kind == "exact"``), ``beginWith(prefix)`` or ``wildcard(pattern)``."""

    kind: str
    pattern: str

    def matches(self, key: str) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "exact":
            return key == self.pattern
        if self.kind == "prefix":
            return key.lower().startswith(self.pattern.lower())
        rx = "^" + ".*".join(re.escape(part) for part in self.pattern.split("*")) + "$"
        return re.match(rx, key, re.IGNORECASE) is not None


def key_filter(key: str) -> KeyFilter:
    """The filter of a list's ``key`` (already checked against Kie's getKey pattern)."""
    if not key:
        return KeyFilter("all", "")
    inner = re.fullmatch(r"(beginWith|wildcard)\((.*)\)", key)
    if inner is None:
        return KeyFilter("exact", key)
    return KeyFilter("prefix" if inner.group(1) == "beginWith" else "wildcard", inner.group(2))


def select(
    kvs: Iterable[Mapping[str, Any]], key: str, labels: Mapping[str, str], match: str, status: str, offset: int, limit: int
) -> tuple[int, list[Mapping[str, Any]]]:
    """(total, page) of the KVs a list answers, newest update first. ``total`` counts every KV that
    matches (openstage: Kie counts before its status and exact-label filters)."""
    kf = key_filter(key)
    chosen = [
        kv for kv in kvs if kf.matches(kv["key"]) and labels_match(labels, kv["labels"], match) and (not status or kv["status"] == status)
    ]
    chosen.sort(key=lambda kv: (-kv["update_revision"], kv["id"]))
    page = chosen[offset : offset + limit] if limit else chosen[offset:]
    return len(chosen), page


def updated(current: Mapping[str, Any], value: str, status: str) -> dict[str, str]:
    """The fields an update changes: a non-empty ``value`` / ``status`` that differs from the stored one."""
    changes: dict[str, str] = {}
    if value and value != current["value"]:
        changes["value"] = value
    if status and status != current["status"]:
        changes["status"] = status
    return changes


def not_found() -> KieError:
    return kie.kv_not_found()
