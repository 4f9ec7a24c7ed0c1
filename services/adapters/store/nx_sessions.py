"""nx-27017: ending the transactions of processes that died.

MongoDB aborts a transaction whose client went away (transactionLifetimeLimitSeconds, 60 s).
nx-27017 never does: it runs a transaction as ``BEGIN IMMEDIATE`` (or a SAVEPOINT) on the one
SQLite connection of its database and keeps it open until the same session (lsid) commits,
aborts or ends it. A worker killed while one of its transactions was open therefore leaves its
database inside that transaction for good: every later write to the database, by anyone,
acknowledged or not, joins it, is visible, and is lost when the store stops or restarts.
(Found by the chaos suite: after a worker SIGKILL and a store restart, acknowledged commands and
finished jobs were gone; tests/integration/test_store_dead_transaction.py shows it alone.)

Work-around, on the embedded store only (OPENSTAGE_STORE_SERIALIZE_WRITES=1, like the others in
services/adapters/store/mongo.py): each process records the session ids it runs transactions under in
``<data_dir>/store-sessions/<database>.<pid>`` (a line per new lsid; pymongo reuses a small pool
of them), and a worker starting up, before its first write, sends ``abortTransaction`` for every
lsid recorded by a process of its database that is no longer running, then removes that record.
That rolls back exactly the dead process's unfinished transaction (its command was never
answered). With nx one process runs per worker (docs/architecture.md), so nothing else has
written into that transaction meanwhile.

pymongo cannot send a command under another session's lsid (it sets its own), so the abort is one
OP_MSG on a plain socket."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from pathlib import Path

import bson
from bson.binary import UUID_SUBTYPE, Binary
from pymongo.uri_parser import parse_uri

log = logging.getLogger(__name__)

_OP_MSG = 2013


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a record with our pid was left by an earlier process (pid reused)
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SessionRecord:
    """The lsids this process runs transactions under, on disk next to the store's data."""

    def __init__(self, directory: Path, db_name: str) -> None:
        self.directory = directory
        self.db_name = db_name
        self.path = directory / f"{db_name}.{os.getpid()}"
        self._known: set[str] = set()

    def note(self, session) -> None:
        """Record ``session``'s lsid before its transaction sends anything (new ones only)."""
        lsid = session.session_id["id"]
        key = bytes(lsid).hex()
        if key in self._known:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:  # survives the process: the kernel keeps the page
            f.write(key + "\n")
        self._known.add(key)

    def dead_records(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        out = []
        for p in self.directory.glob(f"{self.db_name}.*"):
            suffix = p.name[len(self.db_name) + 1 :]
            if suffix.isdigit() and not _alive(int(suffix)):
                out.append(p)
        return out

    async def abort_dead(self, mongodb_url: str, attempts: int = 20) -> int:
        """Abort the open transactions of dead processes of this database; how many were open."""
        records = self.dead_records()
        lsids = sorted({line.strip() for p in records for line in p.read_text().splitlines() if line.strip()})
        if not lsids:
            for p in records:
                p.unlink(missing_ok=True)
            return 0
        for attempt in range(attempts):
            try:
                aborted = await abort_transactions(mongodb_url, lsids)
                break
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                if attempt == attempts - 1:
                    raise
                log.warning("store not reachable to end dead transactions yet: %s", exc)
                await asyncio.sleep(0.5)
        for p in records:
            p.unlink(missing_ok=True)
        if aborted:
            log.warning("%s: aborted %d transaction(s) left open by a process that died", self.db_name, aborted)
        return aborted


async def abort_transactions(mongodb_url: str, lsids: list[str], timeout: float = 5.0) -> int:
    """Send ``abortTransaction`` under each lsid (hex); the number nx had open (it answers ok:1)."""
    host, port = parse_uri(mongodb_url)["nodelist"][0]
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    aborted = 0
    try:
        for request_id, lsid in enumerate(lsids, 1):
            body = bson.encode({"abortTransaction": 1, "lsid": {"id": Binary(bytes.fromhex(lsid), UUID_SUBTYPE)}, "$db": "admin"})
            payload = struct.pack("<I", 0) + b"\x00" + body  # flag bits, section kind 0
            writer.write(struct.pack("<iiii", 16 + len(payload), request_id, 0, _OP_MSG) + payload)
            await writer.drain()
            head = await asyncio.wait_for(reader.readexactly(16), timeout)
            rest = await asyncio.wait_for(reader.readexactly(struct.unpack("<i", head[:4])[0] - 16), timeout)
            if bson.decode(rest[5:]).get("ok") == 1:
                aborted += 1
    finally:
        writer.close()
    return aborted


# One record per database this process writes (several when one process runs several domain
# workers, `openstage worker lifecycle,config,...`).
_records: dict[str, SessionRecord] = {}


def enable(directory: Path, db_name: str) -> SessionRecord:
    _records[db_name] = record = SessionRecord(directory, db_name)
    return record


def note(session) -> None:
    """Called by the outbox for each transaction's session; a no-op unless enabled. The lsid goes
    in every record of this process (a session does not say its database): whichever of its
    databases' workers starts first after a crash aborts it, before that worker's first write."""
    for record in _records.values():
        record.note(session)
