"""When a crashed replica is started again, and when it is given up on (workers/agent/restart_policy.py)."""

from __future__ import annotations

from workers.agent.restart_policy import MAX_RESTARTS, WINDOW_SECONDS, CrashHistory, backoff_seconds


def test_backoff_doubles_from_one_second_up_to_thirty():
    assert [backoff_seconds(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_more_than_ten_crashes_in_five_minutes_is_failed():
    history = CrashHistory()
    for n in range(MAX_RESTARTS):
        history.record(float(n))
    assert not history.given_up(float(MAX_RESTARTS))
    history.record(float(MAX_RESTARTS))
    assert history.given_up(float(MAX_RESTARTS))


def test_old_crashes_leave_the_window_and_the_backoff_starts_again_from_one_second():
    history = CrashHistory()
    for n in range(MAX_RESTARTS):
        history.record(float(n))
    later = MAX_RESTARTS + WINDOW_SECONDS
    history.record(later)
    assert not history.given_up(later) and history.next_delay(later) == 1
