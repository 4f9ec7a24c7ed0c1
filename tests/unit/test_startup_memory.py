"""A part of openstage returns its start-up's freed memory (openstage/startup_memory.py)."""

from __future__ import annotations

import platform

from openstage.startup_memory import release_after_start, release_memory


def test_the_heap_is_trimmed_on_glibc():
    garbage = [bytearray(1024) for _ in range(20_000)]  # ~20 MB freed just below
    del garbage
    trimmed = release_memory()
    assert trimmed == (platform.libc_ver()[0] == "glibc")


def test_the_release_runs_once_in_a_daemon_thread():
    timer = release_after_start(0.01)
    timer.join(5)
    assert timer.daemon and timer.finished.is_set() and not timer.is_alive()
