"""The Linux process table (/proc), read to tell a process we started from one that merely got
its pid later: a process is its pid plus its start time (clock ticks after boot, field 22 of
/proc/<pid>/stat), within one boot (/proc/sys/kernel/random/boot_id). Standard library only: the
lifeline process imports this module and nothing heavier."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import NamedTuple

PROC = Path("/proc")


# NamedTuple, not dataclass: the lifeline imports this module, and dataclasses (inspect, ...)
# would be a tenth of its memory.
class ProcStat(NamedTuple):
    pid: int
    state: str
    ppid: int
    pgrp: int
    start_ticks: int


class ProcessIdentity(NamedTuple):
    """One process for the whole life of a boot: a reused pid has another start time."""

    pid: int
    start_ticks: int


def parse_stat(text: str) -> ProcStat:
    """/proc/<pid>/stat: `pid (comm) state ppid pgrp session ... starttime ...`; comm may hold
    spaces and parentheses, so the fields are counted from the last ')'."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()
    # fields[0] is field 3 (state); field 22 (starttime) is fields[19].
    return ProcStat(pid=pid, state=fields[0], ppid=int(fields[1]), pgrp=int(fields[2]), start_ticks=int(fields[19]))


def stat_of(pid: int) -> ProcStat | None:
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def identity_of(pid: int) -> ProcessIdentity | None:
    stat = stat_of(pid)
    return ProcessIdentity(pid, stat.start_ticks) if stat else None


def is_running(identity: ProcessIdentity) -> bool:
    """The very process (same start time), not yet exited (a zombie has exited)."""
    stat = stat_of(identity.pid)
    return stat is not None and stat.start_ticks == identity.start_ticks and stat.state not in ("Z", "X")


def boot_id() -> str:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def all_pids() -> list[int]:
    try:
        return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return []


def cmdline_of(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    env = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def describe(pid: int) -> str:
    """A short name for a process: `nats-server`, `nx-27017`, `openstage.serve worker jobs`."""
    cmd = cmdline_of(pid)
    if not cmd:
        return f"pid {pid}"
    name = Path(cmd[0]).name
    if name.startswith("python") and len(cmd) > 1:
        if cmd[1] == "-m":
            words = []
            for word in cmd[2:6]:
                if word.startswith("-"):
                    break
                words.append(word)
            return " ".join(words)
        if not cmd[1].startswith("-"):
            return Path(cmd[1]).name
    return name


def ancestors(pid: int) -> set[int]:
    """pid, its parent, its parent's parent... up to init."""
    seen = set()
    while pid > 0 and pid not in seen:
        seen.add(pid)
        stat = stat_of(pid)
        if stat is None:
            break
        pid = stat.ppid
    return seen


def group_members(leader: ProcessIdentity) -> list[ProcessIdentity]:
    """The live processes of the process group `leader` created (it ran in a session of its own):
    group id = the leader's pid, started no earlier than the leader. The leader may be gone while
    what it started lives on; the kernel does not hand out a pid still used as a group id."""
    members = []
    for pid in all_pids():
        stat = stat_of(pid)
        if stat and stat.pgrp == leader.pid and stat.start_ticks >= leader.start_ticks and stat.state not in ("Z", "X"):
            members.append(ProcessIdentity(pid, stat.start_ticks))
    return members


def send_signal(process: ProcessIdentity, sig: int) -> None:
    """Signal the very process: through a pidfd opened before its identity is checked, so a pid
    reused in between is never signalled."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except OSError:
        return  # gone
    try:
        if is_running(process):
            signal.pidfd_send_signal(pidfd, sig)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def signal_all(processes: list[ProcessIdentity], sig: int) -> None:
    for p in processes:
        send_signal(p, sig)


def wait_gone(processes: list[ProcessIdentity], timeout: float) -> list[ProcessIdentity]:
    """Wait until none of `processes` runs; the ones still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in processes if is_running(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def stop_processes(processes: list[ProcessIdentity], grace: float) -> None:
    """SIGTERM, up to `grace` seconds to exit, then SIGKILL; returns once they are gone (or 5 s)."""
    if grace > 0:
        signal_all(processes, signal.SIGTERM)
        processes = wait_gone(processes, grace)
    signal_all(processes, signal.SIGKILL)
    wait_gone(processes, 5.0)
