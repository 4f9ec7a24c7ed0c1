"""What a previous `openstage up` on a data directory left behind, dealt with before a new start
(with the directory's lock held, so that run is over): its processes still running are stopped,
but only those its run record proves are its own (pid + start time + boot, and the process uses
this data directory); any other process using the directory makes the start refuse, naming it;
a store pid file naming a process that is not a store of this directory is removed (nx-27017
refuses to start while its pid file names a live process, whatever that process is)."""

from __future__ import annotations

import os
from pathlib import Path

from openstage import linux_processes as procs
from openstage.linux_processes import ProcessIdentity
from openstage.run_record import RunRecord
from openstage.startup_errors import StartupError

STORE_PID_FILE = "store.pid"


def uses_data_dir(pid: int, data_dir: Path) -> bool:
    """The process was started on this data directory: nats-server (-sd D/nats), the store
    (--data-dir D/store), the lifeline (--data-dir D), or a worker or edge process (or a Python
    process they started) with OPENSTAGE_DATA_DIR=D."""
    d = str(data_dir)
    cmd = procs.cmdline_of(pid)
    if {d, f"{d}/nats", f"{d}/store"} & set(cmd):
        return True
    # Only Python processes count by environment: a shell with OPENSTAGE_DATA_DIR exported is no user.
    return bool(cmd) and Path(cmd[0]).name.startswith("python") and procs.environ_of(pid).get("OPENSTAGE_DATA_DIR") == d


def stop_recorded_processes(data_dir: Path, grace: float = 5.0) -> list[str]:
    """Stop what the run record of a dead run names and is verifiably still its own; returns
    them as `name (pid N)`. The record is removed afterwards."""
    record = RunRecord.read(data_dir)
    if record is None or record.boot_id != procs.boot_id() or record.data_dir != str(data_dir):
        RunRecord.remove(data_dir)
        return []
    ours: list[ProcessIdentity] = []
    for child in record.children.values():
        ours += [p for p in procs.group_members(child.identity()) if uses_data_dir(p.pid, data_dir)]
    described = [f"{procs.describe(p.pid)} (pid {p.pid})" for p in ours]
    procs.stop_processes(ours, grace)
    RunRecord.remove(data_dir)
    return described


def processes_using(data_dir: Path) -> list[int]:
    """Live processes using the data directory, other than this one and its ancestors."""
    mine = procs.ancestors(os.getpid())
    found = []
    for pid in procs.all_pids():
        if pid in mine or not uses_data_dir(pid, data_dir):
            continue
        stat = procs.stat_of(pid)
        if stat and stat.state not in ("Z", "X"):
            found.append(pid)
    return sorted(found)


def refuse_if_used(data_dir: Path) -> None:
    holders = processes_using(data_dir)
    if not holders:
        return
    shown = ", ".join(f"{procs.describe(pid)} (pid {pid})" for pid in holders[:8])
    more = f" and {len(holders) - 8} more" if len(holders) > 8 else ""
    pids = " ".join(str(pid) for pid in holders)
    raise StartupError(
        f"data directory {data_dir} is in use by processes openstage up did not record as its own "
        f"(another program, or an older openstage): {shown}{more}; stop them (kill {pids}) and start again"
    )


def remove_stale_store_pid_file(data_dir: Path) -> None:
    path = data_dir / STORE_PID_FILE
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return
    if not uses_data_dir(pid, data_dir):
        path.unlink(missing_ok=True)


def clean_up(data_dir: Path) -> list[str]:
    """Make the data directory ready for a new run (its lock held): stop the previous run's
    leftovers, refuse (StartupError) if anything else uses it, clear a stale store pid file."""
    stopped = stop_recorded_processes(data_dir)
    refuse_if_used(data_dir)
    remove_stale_store_pid_file(data_dir)
    return stopped
