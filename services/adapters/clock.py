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


clock = Clock()
