"""One source of time, so leases, TTLs and timestamps can be tested without sleeping."""
from __future__ import annotations

import time
from datetime import datetime, timezone


class Clock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def millis(self) -> int:
        return int(time.time() * 1000)

    def seconds(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock(Clock):
    """A clock for tests: time moves only when told."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._t = start

    def advance(self, seconds: float) -> None:
        self._t += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._t, timezone.utc)

    def millis(self) -> int:
        return int(self._t * 1000)

    def seconds(self) -> float:
        return self._t

    def monotonic(self) -> float:
        return self._t


clock = Clock()
