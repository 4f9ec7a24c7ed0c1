"""``openstage agent``: one process per host, connected to NATS, running workloads as supervised
OS processes (workers/agent/replicas.py).

- Serves ``openstage.agent.<host>.cmd.<verb>`` (services/contracts/agent.py AGENT_COMMANDS) with
  plain nats-py subscriptions, one per verb: the request is decoded into the verb's model and the
  answer is always an AgentReply. Each request is handled in a task of its own.
- Announces itself (HostAnnouncement) on ``openstage.agent.<host>.announce`` every
  ``announce_seconds``, and every replica's phase change (ReplicaChange) on
  ``openstage.agent.<host>.replica``.
- Answers ReadLogs on ``openstage.agents.logs`` (every agent listens) only when it holds a log of
  the instance (and of the project, when one is named): one LogChunk reply per replica.
- Its NATS user may use nothing else (services/adapters/nats_auth.py ``agent_permissions``).
- Replicas die with the agent (parent-death signal); the desired state it persisted
  (workers/agent/desired_state.py) is applied again at its next start. On SIGTERM or SIGINT it
  stops its replicas gracefully and keeps the desired state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import BaseModel, ValidationError

from services.contracts import subjects
from services.contracts.agent import AGENT_COMMANDS, AgentReply, HostAnnouncement, ReadLogs, ReplicaChange
from workers.agent import host_info
from workers.agent.host import AgentError, ArtifactSettings, Host

log = logging.getLogger("openstage.agent")

ROTATE_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class AgentOptions:
    host_id: str
    nats_url: str
    agent_dir: Path
    projects: list[str]
    address: str
    artifacts: ArtifactSettings
    announce_seconds: float = 2.0
    liveness_period: float = 3.0
    replica_ports: tuple[int, int] = host_info.REPLICA_PORTS  # LOW included, HIGH not


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("openstage")
    except Exception:
        return ""


class Agent:
    def __init__(self, options: AgentOptions) -> None:
        self.options = options
        self.started_at = int(time.time() * 1000)
        self.nc: Client | None = None
        self.host = Host(
            options.host_id,
            options.agent_dir,
            options.projects,
            options.artifacts,
            self._publish_change,
            options.liveness_period,
            options.replica_ports,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subscriptions: list[Any] = []
        self._version = _version()

    # --- bus -------------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _publish_change(self, change: ReplicaChange) -> None:
        if self.nc is not None:
            self._spawn(self._publish(subjects.agent_replica(self.options.host_id), change))

    async def _publish(self, subject: str, model: BaseModel) -> None:
        assert self.nc is not None
        try:
            await self.nc.publish(subject, model.model_dump_json().encode())
        except Exception as exc:  # disconnected for good, or closing
            log.warning("cannot publish on %s: %s", subject, exc)

    async def connect(self, stop: asyncio.Event) -> bool:
        """Connect (retried until it works or ``stop``); False when stopped first."""

        async def on_error(exc: Exception) -> None:
            log.warning("nats: %s", exc)

        # nats-py retries a first connection by itself (max_reconnect_attempts=-1); a stop ends the wait
        connecting = asyncio.ensure_future(
            nats.connect(
                self.options.nats_url,
                name=f"openstage-agent-{self.options.host_id}",
                connect_timeout=3,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=on_error,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not connecting.done():
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            return False
        self.nc = connecting.result()
        return True

    async def serve(self) -> None:
        assert self.nc is not None
        for verb in AGENT_COMMANDS:
            sub = await self.nc.subscribe(subjects.agent_command(self.options.host_id, verb), cb=self._on_command(verb))
            self._subscriptions.append(sub)
        self._subscriptions.append(await self.nc.subscribe(subjects.AGENTS_LOGS, cb=self._on_logs))
        await self.nc.flush()

    def _on_command(self, verb: str) -> Callable[[Msg], Awaitable[None]]:
        async def cb(msg: Msg) -> None:
            self._spawn(self._handle(verb, msg))

        return cb

    async def _handle(self, verb: str, msg: Msg) -> None:
        request_model, _ = AGENT_COMMANDS[verb]
        handler: Callable[[Any], Awaitable[BaseModel | None]] = getattr(self.host, verb)
        try:
            request = request_model.model_validate_json(msg.data)
            result = await handler(request)
            reply = AgentReply(ok=True, result=result.model_dump(mode="json") if result is not None else None)
        except ValidationError as exc:
            reply = AgentReply(ok=False, error=f"invalid {verb} request: {_short(exc)}")
        except AgentError as exc:
            reply = AgentReply(ok=False, error=str(exc))
        except Exception as exc:
            log.exception("%s failed", verb)
            reply = AgentReply(ok=False, error=f"{verb} failed on host {self.options.host_id}: {type(exc).__name__}: {exc}")
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(reply.model_dump_json().encode())

    async def _on_logs(self, msg: Msg) -> None:
        try:
            request = ReadLogs.model_validate_json(msg.data)
        except ValidationError:
            return
        if not msg.reply:
            return
        chunks = await asyncio.to_thread(self.host.read_logs, request)
        for chunk in chunks:
            with contextlib.suppress(Exception):
                await msg.respond(chunk.model_dump_json().encode())

    # --- loops -------------------------------------------------------------------------------------

    def announcement(self) -> HostAnnouncement:
        o = self.options
        return HostAnnouncement(
            host_id=o.host_id,
            projects=o.projects,
            address=o.address,
            cpus=host_info.cpus(),
            memory_mb=host_info.memory_mb(),
            replicas=self.host.replica_count(),
            started_at=self.started_at,
            announce_seconds=o.announce_seconds,
            version=self._version,
        )

    async def _announce_loop(self) -> None:
        while True:
            await self._publish(subjects.agent_announce(self.options.host_id), self.announcement())
            await asyncio.sleep(self.options.announce_seconds)

    async def _rotate_loop(self) -> None:
        while True:
            await asyncio.sleep(ROTATE_EVERY_SECONDS)
            await asyncio.to_thread(self.host.rotate_logs)

    # --- the whole life ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.options.agent_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not await self.connect(stop):
            return
        assert self.nc is not None
        loops: list[asyncio.Task[None]] = []
        try:
            await self.host.restore()
            await self.serve()
            loops = [asyncio.create_task(self._announce_loop()), asyncio.create_task(self._rotate_loop())]
            log.info("agent %s serving projects %s", self.options.host_id, ",".join(self.options.projects))
            await stop.wait()
        finally:
            for sub in self._subscriptions:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            for task in loops:
                task.cancel()
            await self.host.shutdown()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.flush(), 2)
            with contextlib.suppress(Exception):
                await self.nc.close()


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:3])


def run(options: AgentOptions) -> None:
    """Run the agent until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Agent(options).run(stop)

    asyncio.run(main())
