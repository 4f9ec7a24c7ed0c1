"""A replica's log file: the replica's stdout and stderr are appended to it directly (no pipe to the
agent), rotated by size with copy-truncate (the replica keeps its descriptor, opened O_APPEND, so its
next write lands at the start of the emptied file), and read by byte offset for ``openstage logs``."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024
KEEP = 3  # rotated files kept: <name>.1 (newest) .. <name>.3


def rotated(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


def rotate_if_needed(path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> bool:
    """Copy-truncate ``path`` when it has grown past ``max_bytes``; True when it was rotated."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for n in range(keep, 1, -1):
        older = rotated(path, n - 1)
        if older.exists():
            older.replace(rotated(path, n))
    shutil.copyfile(path, rotated(path, 1))
    os.truncate(path, 0)
    return True


@dataclass(frozen=True)
class Read:
    data: bytes
    next_offset: int


def read(path: Path, offset: int, max_bytes: int) -> Read:
    """Up to ``max_bytes`` of the current file from ``offset`` (negative: the last ``-offset``
    bytes). An offset past the end means the file was rotated since: read from its start."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = max(0, size + offset) if offset < 0 else (offset if offset <= size else 0)
            f.seek(start)
            data = f.read(max(0, max_bytes))
    except FileNotFoundError:
        return Read(b"", 0)
    return Read(data, start + len(data))
