"""Give back to the system the memory a process's start-up used and freed.

Importing and building the app (pydantic models, FastAPI routes, FastStream subscribers) leaves
freed memory inside glibc's heap, which keeps it. A little after start-up each long-running part
(``python -m openstage.serve``) collects garbage once and asks glibc to return its free pages
(``malloc_trim``): about 1 MB of resident memory per process, measured by ``python -m
bench.footprint``. Elsewhere than glibc only the collection runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading

SETTLE_SECONDS = 5.0


def release_memory() -> bool:
    """Collect garbage and return the heap's free pages to the system; whether glibc trimmed."""
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    trim.argtypes = [ctypes.c_size_t]
    return bool(trim(0))


def release_after_start(seconds: float = SETTLE_SECONDS) -> threading.Timer:
    """Run :func:`release_memory` once, ``seconds`` from now, in a daemon thread."""
    timer = threading.Timer(seconds, release_memory)
    timer.daemon = True
    timer.start()
    return timer
