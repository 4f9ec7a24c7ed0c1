"""One source of time, built by each process's composition root and passed in (``deps.clock``), so
leases, TTLs and timestamps can be tested without sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def millis(self) -> int:
        return int(time.time() * 1000)

    def seconds(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
