"""One `openstage up` per data directory: an exclusive flock on <data dir>/openstage.lock, held for
the supervisor's life. The kernel drops it when the process ends, however it ends (SIGKILL
included), so a dead run never leaves the directory locked. The file holds the holder's pid, for
the message a second start prints."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from openstage.startup_errors import StartupError

LOCK_FILE = "openstage.lock"


class DataDirLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Create the data directory if needed and lock it; StartupError when it is not writable
        or another `openstage up` holds it."""
        path = data_dir / LOCK_FILE
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StartupError(f"data directory {data_dir} is not writable: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"another `openstage up` (pid {holder})" if holder else "another `openstage up`"
            how = f"stop it first (Ctrl-C in its terminal, or kill {holder})" if holder else "stop it first"
            raise StartupError(f"data directory {data_dir} is in use by {who}; {how}, or use another --data-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        """Unlock (the file stays: removing it would let two starts lock two different files)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None
