"""When a crashed replica is restarted, and when it is given up on (pure rules, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
MAX_RESTARTS = 10  # in WINDOW_SECONDS: more and the replica is FAILED
WINDOW_SECONDS = 300.0


def backoff_seconds(recent_crashes: int) -> float:
    """Delay before the next start after ``recent_crashes`` crashes in the window: 1, 2, 4, ... 30 s."""
    if recent_crashes <= 0:
        return 0.0
    return float(min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (recent_crashes - 1)))


@dataclass
class CrashHistory:
    """The times (monotonic seconds) a replica crashed."""

    times: list[float] = field(default_factory=list)

    def record(self, now: float) -> None:
        self.times = [t for t in self.times if now - t < WINDOW_SECONDS] + [now]

    def recent(self, now: float) -> int:
        return sum(1 for t in self.times if now - t < WINDOW_SECONDS)

    def given_up(self, now: float) -> bool:
        """More than MAX_RESTARTS crashes within the window: stop restarting."""
        return self.recent(now) > MAX_RESTARTS

    def next_delay(self, now: float) -> float:
        return backoff_seconds(self.recent(now))
