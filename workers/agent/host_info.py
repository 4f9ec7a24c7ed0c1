"""What an agent announces about its host: CPUs, memory, the address replicas are reached at."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from services.contracts.subjects import HOST_ID_PATTERN


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def memory_mb() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return 0


def primary_address() -> str:
    """The address of the interface the default route leaves by (no packet is sent), else 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def default_host_id() -> str:
    """The host name, made a valid subject token (letters, digits, '-' and '_', at most 64)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:64] or "host"
    return name if HOST_ID_PATTERN.match(name) else "host"


def free_port(taken: set[int]) -> int:
    """A TCP port nothing listens on (on any address) now, not in ``taken``."""
    while True:
        with socket.socket() as s:
            s.bind(("", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            return port
