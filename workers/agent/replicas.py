"""One replica: a supervised OS process in its own working directory.

- Started with ``asyncio.create_subprocess_exec`` in a session (process group) of its own, its
  stdout and stderr appended directly to its log file, so it never depends on a pipe to the agent.
- Its environment is built from scratch (``replica_env``): PATH, LANG, HOME and TMPDIR inside its
  working directory, what ``ApplyReplicas.env`` gives, and PORT. Nothing of the agent's own
  environment (OPENSTAGE_* settings, NATS credentials, secret keys) reaches it.
- **It dies with the agent**: PR_SET_PDEATHSIG=SIGKILL is set in the child between fork and exec.
  The kernel sends the signal when the *thread* that forked ends, so replicas are spawned from the
  event loop's thread (the main thread). No replica ever outlives its agent, whatever ends the
  agent (SIGKILL included); the restarted agent re-applies its persisted desired state
  (workers/agent/desired_state.py) and starts them again. (Processes a replica starts itself are
  in its process group: a stop signals the whole group.)
- Health: post_start hook, then the readiness probe until it passes (READY; with no readiness
  probe, READY once started), then the liveness probe every OPENSTAGE_AGENT_LIVENESS_PERIOD_SECONDS
  (3 failures in a row kill the process, which counts as a crash).
- A crash (any exit not asked for) is restarted after an exponential backoff (1 s .. 30 s) and
  counted; after more than 10 crashes in 5 minutes the replica is FAILED (workers/agent/restart_policy.py).
- Stop: pre_stop hook, SIGTERM to the group, the grace period, SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.contracts.agent import ApplyReplicas, ReplicaPhase, ReplicaSpec, ReplicaState
from workers.agent.probes import Target, check, run_hook
from workers.agent.restart_policy import CrashHistory

log = logging.getLogger("openstage.agent")

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
READINESS_PERIOD_SECONDS = 0.5
LIVENESS_PERIOD_SECONDS = 3.0
LIVENESS_FAILURES = 3
PR_SET_PDEATHSIG = 1


def replica_env(spec: ApplyReplicas, port: int, workdir: Path) -> dict[str, str]:
    """The replica's whole environment (nothing inherited from the agent but PATH and LANG)."""
    env = {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "HOME": str(workdir),
        "TMPDIR": str(workdir / ".tmp"),
        "PWD": str(workdir),
    }
    env.update(spec.env)
    env["PORT"] = str(port)
    return env


def _die_with_agent_hook() -> Callable[[], None] | None:
    """preexec_fn setting PR_SET_PDEATHSIG=SIGKILL (Linux); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    agent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != agent:  # the agent died before the setting took
            os._exit(1)

    return hook


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _exit_message(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass(frozen=True)
class ReplicaPaths:
    workdir: Path
    log: Path


class Replica:
    """Supervises one replica. ``start()`` launches the supervision task; ``stop()`` ends it."""

    def __init__(
        self,
        spec: ApplyReplicas,
        replica: ReplicaSpec,
        paths: ReplicaPaths,
        on_change: Callable[[Replica], None],
        restarts: int = 0,
        phase: ReplicaPhase = ReplicaPhase.STARTING,
        liveness_period: float = LIVENESS_PERIOD_SECONDS,
    ) -> None:
        self.spec = spec
        self.paths = paths
        self.on_change = on_change
        self.liveness_period = liveness_period
        self.state = ReplicaState(index=replica.index, port=replica.port, generation=spec.generation, phase=phase, restarts=restarts)
        self._last_exit = ""  # why the replica's last run ended
        self.target = Target(replica.port, paths.workdir, replica_env(spec, replica.port, paths.workdir))
        self.crashes = CrashHistory()
        self.proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._kill_reason = ""
        self._ready = asyncio.Event()

    @property
    def index(self) -> int:
        return self.state.index

    @property
    def generation(self) -> str:
        return self.state.generation

    def running(self) -> bool:
        """Supervised (starting, ready or in backoff), as opposed to stopped or failed."""
        return self._task is not None and not self._task.done() and not self._stopping

    def _set(self, phase: ReplicaPhase, **changes: object) -> None:
        before = self.state.phase
        self.state = self.state.model_copy(update={"phase": phase, **changes})
        if phase == ReplicaPhase.READY or phase in (ReplicaPhase.FAILED, ReplicaPhase.STOPPED):
            self._ready.set()
        if phase != before or phase == ReplicaPhase.BACKOFF:
            self.on_change(self)

    # --- run ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"replica-{self.spec.instance_id}-{self.index}")

    async def wait_settled(self) -> ReplicaPhase:
        """Until the replica is READY (or FAILED or STOPPED); its phase then."""
        await self._ready.wait()
        return self.state.phase

    async def _spawn(self) -> str | None:
        """Start the process; None, or why it could not start."""
        self.paths.log.parent.mkdir(parents=True, exist_ok=True)
        (self.paths.workdir / ".tmp").mkdir(parents=True, exist_ok=True)
        fd = os.open(self.paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            os.write(fd, f"--- {stamp} openstage agent: starting replica {self.index} (generation {self.generation})\n".encode())
            self.proc = await asyncio.create_subprocess_exec(
                *self.spec.command,
                cwd=self.paths.workdir,
                env=self.target.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=fd,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_agent_hook(),
            )
        except (OSError, ValueError) as exc:
            self.proc = None
            why = (
                f"cannot start {self.spec.command[0] if self.spec.command else 'an empty command'}: {getattr(exc, 'strerror', None) or exc}"
            )
            os.write(fd, f"--- {why}\n".encode())
            return why
        finally:
            os.close(fd)
        return None

    async def _run(self) -> None:
        while not self._stopping:
            self._kill_reason = ""
            why = await self._spawn()
            if why is None:
                assert self.proc is not None
                # a restarted replica keeps saying why its last run ended (exit_code stays that run's)
                self._set(ReplicaPhase.STARTING, pid=self.proc.pid, message=self._last_run_note())
                health = asyncio.get_running_loop().create_task(self._watch_health(self.proc))
                try:
                    code = await self.proc.wait()
                finally:
                    health.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await health
                if self._stopping:
                    return
                _signal_group(self.proc.pid, signal.SIGKILL)  # what it started goes with it
                why = self._kill_reason or _exit_message(code)
                self.state = self.state.model_copy(update={"exit_code": code})
            self._last_exit = why
            now = time.monotonic()
            self.crashes.record(now)
            if self.crashes.given_up(now):
                self._set(ReplicaPhase.FAILED, pid=None, message=f"{why}; restarted too often, given up")
                return
            delay = self.crashes.next_delay(now)
            self._set(ReplicaPhase.BACKOFF, pid=None, restarts=self.state.restarts + 1, message=f"{why}; restarting in {delay:g}s")
            await asyncio.sleep(delay)

    def _last_run_note(self) -> str:
        """e.g. "restarted 2 times; last run: exited with code 3" ("" before the first restart)."""
        last = self._last_exit
        if not last:
            return ""
        n = self.state.restarts
        return f"restarted {n} time{'s' if n != 1 else ''}; last run: {last}"

    async def _watch_health(self, proc: asyncio.subprocess.Process) -> None:
        started = time.monotonic()
        spec = self.spec
        if spec.post_start is not None:
            failed = await run_hook(spec.post_start, self.target)
            if failed:
                self._kill(proc, f"post_start hook failed: {failed}")
                return
        if spec.readiness_probe is not None:
            await asyncio.sleep(max(0.0, spec.readiness_probe.delay - (time.monotonic() - started)))
            while (failed := await check(spec.readiness_probe, self.target)) is not None:
                note = self._last_run_note()
                self.state = self.state.model_copy(update={"message": f"readiness probe failed: {failed}" + (f" ({note})" if note else "")})
                await asyncio.sleep(READINESS_PERIOD_SECONDS)
        self._set(ReplicaPhase.READY, message="")
        if spec.liveness_probe is None:
            return
        await asyncio.sleep(max(0.0, spec.liveness_probe.delay - (time.monotonic() - started)))
        failures = 0
        while True:
            failed = await check(spec.liveness_probe, self.target)
            failures = failures + 1 if failed else 0
            if failed and failures >= LIVENESS_FAILURES:
                self._kill(proc, f"liveness probe failed: {failed}")
                return
            await asyncio.sleep(self.liveness_period)

    def _kill(self, proc: asyncio.subprocess.Process, reason: str) -> None:
        log.warning("replica %s/%s: %s; killing it", self.spec.instance_id, self.index, reason)
        self._kill_reason = reason
        _signal_group(proc.pid, signal.SIGKILL)

    # --- stop --------------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        """pre_stop hook, SIGTERM, ``grace`` seconds, SIGKILL; then STOPPED. Safe to call again
        and to cancel (the stop goes on)."""
        if self._stop_task is None:
            self._stop_task = asyncio.get_running_loop().create_task(self._stop(grace))
        await asyncio.shield(self._stop_task)

    async def stopped(self) -> None:
        """Until a stop under way (if any) has ended."""
        if self._stop_task is not None:
            await asyncio.shield(self._stop_task)

    async def _stop(self, grace: float) -> None:
        self._stopping = True
        proc = self.proc
        deadline = time.monotonic() + max(0.0, grace)
        if proc is not None and proc.returncode is None:
            if self.spec.pre_stop is not None:
                failed = await run_hook(self.spec.pre_stop, self.target, timeout=max(1.0, grace))
                if failed:
                    log.warning("replica %s/%s: pre_stop hook failed: %s", self.spec.instance_id, self.index, failed)
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                _signal_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        if proc is not None:
            _signal_group(proc.pid, signal.SIGKILL)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set(ReplicaPhase.STOPPED, pid=None, exit_code=proc.returncode if proc is not None else None, message="stopped")
