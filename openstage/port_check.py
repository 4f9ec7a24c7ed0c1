"""Can `openstage up` listen on its HTTP port? Checked before anything starts; when the port is
taken, the message names the process listening on it (found through /proc/net/tcp{,6} and the
socket inodes in /proc/<pid>/fd, for processes this user can see)."""

from __future__ import annotations

import errno
import os
import socket

from openstage import linux_processes as procs
from openstage.startup_errors import StartupError

TCP_LISTEN = "0A"


def listening_inodes(port: int, tables: tuple[str, ...] = ("tcp", "tcp6")) -> set[str]:
    inodes: set[str] = set()
    for table in tables:
        try:
            lines = (procs.PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        inodes |= parse_listeners(lines, port)
    return inodes


def parse_listeners(lines: list[str], port: int) -> set[str]:
    """Socket inodes listening on `port`, from the lines of /proc/net/tcp (or tcp6):
    `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`,
    local_address as HEXIP:HEXPORT."""
    found = set()
    for line in lines:
        fields = line.split()
        if len(fields) < 10:
            continue
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == TCP_LISTEN:
            found.add(fields[9])
    return found


def listener_of(port: int) -> int | None:
    """The pid of a process listening on `port`, when this user can see it."""
    targets = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    if not targets:
        return None
    for pid in procs.all_pids():
        fd_dir = procs.PROC / str(pid) / "fd"
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in targets:
                    return pid
            except OSError:
                continue
    return None


def ensure_can_listen(host: str, port: int, option: str = "--port") -> None:
    """StartupError (one line) when nothing could listen on host:port, as uvicorn would try it."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}; check --host") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(port_in_use_message(host, port, option)) from None
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def port_in_use_message(host: str, port: int, option: str = "--port") -> str:
    pid = listener_of(port)
    holder = f" by {procs.describe(pid)} (pid {pid})" if pid else ""
    return f"port {port} on {host} is already in use{holder}; stop that process or choose another port with {option}"
