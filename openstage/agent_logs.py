"""`openstage logs INSTANCE_ID`: a component instance's replica logs, read from the host agents
over the bus. The request goes to ``openstage.agents.logs`` (every agent listens); only agents
holding a replica of the instance answer, one LogChunk per replica. With ``--follow`` each
replica is polled again from the offset its last chunk ended at.

It connects as the internal NATS user of the `openstage up` on ``--data-dir`` (its URL is kept in
<data dir>/internal-nats.json, mode 0600) or with ``--nats-url``."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from services.contracts import subjects
from services.contracts.agent import LogChunk, ReadLogs

CHUNK_BYTES = 65536
FIRST_ANSWER_SECONDS = 2.0  # how long agents get to answer
QUIET_SECONDS = 0.3  # after an answer, how long to wait for more (other replicas, other hosts)


class LogsError(Exception):
    """Logs cannot be read (one line, no traceback)."""


class BusLogs:
    def __init__(self, nats_url: str, user: str | None, password: str | None) -> None:
        import nats

        self.loop = asyncio.new_event_loop()
        self.errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc) or type(exc).__name__)

        options: dict[str, Any] = {
            "connect_timeout": 5,
            "allow_reconnect": False,
            "max_reconnect_attempts": 1,
            "error_cb": on_error,
            "name": "openstage-logs",
        }
        if user:
            options.update(user=user, password=password or "")
        try:
            self.nc = self.loop.run_until_complete(asyncio.wait_for(nats.connect(nats_url, **options), 15))
        except Exception as exc:
            self.loop.close()
            why = "; ".join(dict.fromkeys(self.errors)) or str(exc) or type(exc).__name__
            raise LogsError(f"cannot connect to {nats_url}: {why}") from None

    def ask(self, request: ReadLogs, one: bool) -> list[LogChunk]:
        """The chunks agents answer (``one``: the first answer is the only one expected)."""
        return self.loop.run_until_complete(self._ask(request, one))

    async def _ask(self, request: ReadLogs, one: bool) -> list[LogChunk]:
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        chunks: list[LogChunk] = []
        try:
            await self.nc.publish(subjects.AGENTS_LOGS, request.model_dump_json().encode(), reply=inbox)
            wait = FIRST_ANSWER_SECONDS
            while True:
                try:
                    msg = await sub.next_msg(timeout=wait)
                except TimeoutError:  # nats.errors.TimeoutError is one
                    break
                try:
                    chunks.append(LogChunk.model_validate_json(msg.data))
                except ValueError:
                    continue
                if one:
                    break
                wait = QUIET_SECONDS
        finally:
            await sub.unsubscribe()
        return chunks

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.nc.close())
        except Exception:
            pass
        self.loop.close()


Ask = Callable[[ReadLogs, bool], list[LogChunk]]


def show(
    ask: Ask,
    instance_id: str,
    replica: int | None,
    follow: bool,
    tail: int | None,
    interval: float = 1.0,
    out: TextIO = sys.stdout,
    project_id: str | None = None,
) -> int:
    """Print the logs; 0, or 1 when no agent holds the instance (or that replica of it)."""
    start = -tail if tail else 0
    first = ask(ReadLogs(project_id=project_id, instance_id=instance_id, replica=replica, offset=start, max_bytes=CHUNK_BYTES), False)
    if not first:
        which = f"replica {replica} of instance {instance_id}" if replica is not None else f"instance {instance_id}"
        print(f"openstage logs: no agent holds {which} (no log on any host that answered)", file=sys.stderr)
        return 1
    # (host, replica) -> next offset; several hosts never hold the same replica index, but be safe
    positions: dict[tuple[str, int], int] = {}
    several = len(first) > 1
    last_header: tuple[str, int] | None = None

    def emit(chunk: LogChunk) -> None:
        nonlocal last_header
        key = (chunk.host_id, chunk.replica)
        positions[key] = chunk.next_offset
        if not chunk.data:
            return
        if several and last_header != key:
            out.write(f"\n==> replica {chunk.replica} on host {chunk.host_id} <==\n")
            last_header = key
        out.write(chunk.data)
        out.flush()

    for chunk in sorted(first, key=lambda c: (c.replica, c.host_id)):
        emit(chunk)
    # read on to the end of each file, then (follow) poll
    while True:
        progressed = False
        for (host, index), offset in sorted(positions.items(), key=lambda p: (p[0][1], p[0][0])):
            got = ask(ReadLogs(project_id=project_id, instance_id=instance_id, replica=index, offset=offset, max_bytes=CHUNK_BYTES), True)
            for chunk in got:
                if chunk.host_id == host:
                    progressed = progressed or bool(chunk.data)
                    emit(chunk)
        if not progressed:
            if not follow:
                return 0
            time.sleep(interval)
