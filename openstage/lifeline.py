"""The lifeline: a small process `openstage up` starts first, reading a pipe from the supervisor.
The supervisor writes `track <pid> <start ticks>` for each process it starts (each leads a process
group of its own) and `release` when it stops cleanly. When the pipe closes without `release`,
the supervisor has died (by any signal, SIGKILL included): the lifeline stops every process still
in those groups and exits.

The supervisor's direct children already die with it (PR_SET_PDEATHSIG, see
openstage/processes.py); the lifeline also reaches what they started, such as the edge's uvicorn
worker processes (OPENSTAGE_EDGE_WORKERS > 1).

Run as `python -m openstage.lifeline --data-dir D` (the data directory only names it in `ps`);
it imports nothing but the standard library and openstage.linux_processes (not even subprocess or
dataclasses), to start fast and stay small.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from openstage import linux_processes as procs
from openstage.linux_processes import ProcessIdentity

if TYPE_CHECKING:  # the supervisor's side only: the lifeline process does without it (its memory)
    import subprocess

# Seconds the leftovers get to exit on SIGTERM before SIGKILL.
GRACE_SECONDS = 2.0


def read_messages(lines: Iterable[str]) -> list[ProcessIdentity] | None:
    """The process groups tracked until the pipe closed; None when the supervisor released us."""
    groups = []
    for line in lines:
        parts = line.split()
        if parts == ["release"]:
            return None
        if len(parts) == 3 and parts[0] == "track":
            groups.append(ProcessIdentity(int(parts[1]), int(parts[2])))
    return groups


def stop_groups(groups: list[ProcessIdentity], grace: float = GRACE_SECONDS) -> None:
    for _ in range(3):  # again, in case one of them started another process meanwhile
        members = [m for g in groups for m in procs.group_members(g)]
        if not members:
            return
        procs.stop_processes(members, grace)


def main() -> int:
    groups = read_messages(sys.stdin)
    if groups is None:
        return 0
    print(f"the supervisor is gone: stopping what it started ({len(groups)} process groups)", flush=True)
    stop_groups(groups)
    return 0


class Lifeline:
    """The supervisor's end of the pipe."""

    def __init__(self, proc: subprocess.Popen, pipe: IO[bytes], identity: ProcessIdentity | None) -> None:
        self.proc = proc
        self._pipe: IO[bytes] | None = pipe
        self.identity = identity

    @classmethod
    def start(cls, data_dir: Path, log_dir: Path) -> Lifeline:
        import subprocess

        from openstage.processes import spawn

        args = [sys.executable, "-m", "openstage.lifeline", "--data-dir", str(data_dir)]
        child = spawn("lifeline", args, log_dir=log_dir, stdin=subprocess.PIPE, die_with_parent=False)
        assert child.proc.stdin is not None
        return cls(child.proc, child.proc.stdin, procs.identity_of(child.proc.pid))

    def _send(self, message: str) -> None:
        if self._pipe is None:
            return
        try:
            self._pipe.write(message.encode() + b"\n")
            self._pipe.flush()
        except OSError:  # the lifeline was killed: the direct children still die with us
            self._pipe = None

    def track(self, leader: ProcessIdentity) -> None:
        self._send(f"track {leader.pid} {leader.start_ticks}")

    def release(self) -> None:
        """Clean stop: the lifeline exits without touching anything."""
        self._send("release")
        if self._pipe is not None:
            try:
                self._pipe.close()
            except OSError:
                pass
            self._pipe = None
        import subprocess

        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
