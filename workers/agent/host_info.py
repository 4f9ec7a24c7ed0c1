"""What an agent announces about its host: CPUs, memory, the address replicas are reached at."""

from __future__ import annotations

import os
import random
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


# Ports replicas are given (the first included, the last not), below Linux's default ephemeral
# range (32768-60999): the kernel gives ports of that range to outgoing connections as their source
# port, and one taking a replica's port between its choice and the replica's bind would fail the
# replica's start. `openstage agent --replica-ports` (OPENSTAGE_AGENT_REPLICA_PORTS) changes it.
REPLICA_PORTS = (20000, 32000)


class NoFreePort(RuntimeError):
    """Every port of the range is taken."""


def parse_port_range(text: str) -> tuple[int, int]:
    """``LOW-HIGH`` (both included, 1024 < LOW <= HIGH < 65536) as (LOW, HIGH + 1); ValueError otherwise."""
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        first = last = 0
    if not sep or not 1024 < first <= last < 65536:
        raise ValueError(f"{text!r} is not a port range LOW-HIGH (1025-65535, LOW <= HIGH)")
    return first, last + 1


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


def free_port(taken: set[int], ports: tuple[int, int] = REPLICA_PORTS, rng: random.Random | None = None) -> int:
    """A TCP port of ``ports`` nothing listens on (on any address) now, not in ``taken``: random
    picks first (two agents choosing at once rarely collide), then every port in turn; NoFreePort
    when none is left."""
    low, high = ports
    pick = (rng or random).randrange
    for _ in range(64):
        port = pick(low, high)
        if port not in taken and _bindable(port):
            return port
    for port in range(low, high):
        if port not in taken and _bindable(port):
            return port
    raise NoFreePort(f"no free port left in {low}-{high - 1}")
