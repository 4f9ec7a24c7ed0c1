"""Per-credential rate limiting: a token bucket per access key (or token fingerprint).

Pure: time comes from an injected monotonic clock, so it is tested without sleeping.

Defaults (services/settings.py, ``OPENSTAGE_RATE_LIMIT_PER_SECOND`` / ``OPENSTAGE_RATE_LIMIT_BURST``):
50,000 requests/s per credential and edge process, with bursts of 100,000. Every request counts,
heartbeats included: one tenant's instances usually share one credential, and Service-Center's
benchmark reaches 7,068 heartbeats/s on 2 cores and one openstage edge process ~17,000 heartbeats
or finds/s (answered from its registry memory), so the limit sits above what a tenant's registry
traffic can reach while still stopping a runaway client
(tests/unit/test_rate_limit.py checks both). 0 turns it off."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second on average, bursts up to ``burst``. rate <= 0 disables it."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, key: str) -> float:
        """0.0 when the request may go ahead, else the seconds to wait before retrying."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:  # bounded memory: forget idle buckets
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After takes whole seconds; never 0 for a refused request."""
    return str(max(1, math.ceil(wait_seconds)))
