"""The agent's replicas, by instance: what each command does (no NATS here; app.py serves it).

Every command is idempotent. ``apply`` persists the desired state first, then makes it so:
replicas not listed are stopped and their directories removed; a listed replica already running
at the generation is left alone; one at another generation is replaced, all at once or, with
``rolling``, one at a time in the background (the old one stopped, a new one started in a fresh
directory and READY before the next old one is stopped). ``stop`` keeps the directories and marks
the instance stopped; ``remove`` deletes everything of the instance on this host."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.contracts.agent import (
    ApplyReplicas,
    FetchArtifact,
    FetchedArtifact,
    InstanceReplicas,
    InstanceStatusQuery,
    LogChunk,
    ReadLogs,
    RemoveInstance,
    ReplicaChange,
    ReplicaPhase,
    ReplicaSpec,
    RestartReplica,
    StopReplicas,
)
from workers.agent import host_info, log_files
from workers.agent.desired_state import DesiredInstance, DesiredState
from workers.agent.replicas import LIVENESS_PERIOD_SECONDS, Replica, ReplicaPaths
from workers.agent.workdirs import ID_PATTERN, Layout

log = logging.getLogger("openstage.agent")


class AgentError(Exception):
    """A command refused or failed: the message is for the user (AgentReply.error)."""


@dataclass(frozen=True)
class ArtifactSettings:
    # OPENSTAGE_ARTIFACT_DIRS as given (unset: <agent dir>/artifacts): read when the first package
    # is fetched, with services.adapters.artifacts, which an agent that fetches none never imports
    dirs_setting: str | None
    max_bytes: int


@dataclass
class InstanceRun:
    project_id: str
    instance_id: str
    replicas: dict[int, Replica] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    rollout: asyncio.Task[None] | None = None


def _check_ids(project_id: str, instance_id: str) -> None:
    for what, value in (("project id", project_id), ("instance id", instance_id)):
        if not ID_PATTERN.match(value):
            raise AgentError(f"invalid {what} {value!r}: letters, digits, '-' and '_' only")


def _utf8_prefix(data: bytes) -> bytes:
    """``data`` without a UTF-8 sequence cut at its end (it is read again from the next offset)."""
    for cut in range(1, min(4, len(data)) + 1):
        byte = data[-cut]
        if byte & 0xC0 != 0x80:  # the last sequence's first byte
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4 if byte >> 3 == 0b11110 else 1
            return data if need <= cut else data[:-cut]
    return data


class Host:
    def __init__(
        self,
        host_id: str,
        agent_dir: Path,
        projects: list[str],
        artifacts: ArtifactSettings,
        publish: Callable[[ReplicaChange], None],
        liveness_period: float = LIVENESS_PERIOD_SECONDS,
        replica_ports: tuple[int, int] = host_info.REPLICA_PORTS,
    ) -> None:
        self.liveness_period = liveness_period
        self.replica_ports = replica_ports  # where replicas given port 0 get theirs (host_info.free_port)
        self.host_id = host_id
        self.layout = Layout(agent_dir)
        self.projects = projects
        self.artifacts = artifacts
        self.publish = publish
        self.desired = DesiredState(self.layout.state)
        self.runs: dict[tuple[str, str], InstanceRun] = {}

    # --- helpers ---------------------------------------------------------------------------------

    def serves(self, project_id: str) -> bool:
        return "*" in self.projects or project_id in self.projects

    def replica_count(self) -> int:
        return sum(1 for run in self.runs.values() for r in run.replicas.values() if r.running())

    def _run(self, project_id: str, instance_id: str) -> InstanceRun:
        key = (project_id, instance_id)
        if key not in self.runs:
            self.runs[key] = InstanceRun(project_id, instance_id)
        return self.runs[key]

    def _status(self, project_id: str, instance_id: str) -> InstanceReplicas:
        run = self.runs.get((project_id, instance_id))
        replicas = [run.replicas[i].state for i in sorted(run.replicas)] if run else []
        return InstanceReplicas(host_id=self.host_id, project_id=project_id, instance_id=instance_id, replicas=replicas)

    def _changed(self, replica: Replica) -> None:
        spec = replica.spec
        run = self.runs.get((spec.project_id, spec.instance_id))
        if run is None or run.replicas.get(replica.index) is not replica:
            return  # a replaced replica's last word is still told below, with the instance as it is now
        status = self._status(spec.project_id, spec.instance_id)
        self.publish(
            ReplicaChange(
                host_id=self.host_id,
                project_id=spec.project_id,
                instance_id=spec.instance_id,
                changed=replica.state,
                replicas=status.replicas,
            )
        )

    def _artifact_policy(self) -> Any:  # services.adapters.artifacts.ArtifactPolicy (imported when first needed)
        from services.adapters.artifacts import ArtifactPolicy, allowed_dirs_from

        allowed = [d.resolve() for d in allowed_dirs_from(self.artifacts.dirs_setting, self.layout.agent_dir / "artifacts")]
        return ArtifactPolicy(cache_dir=self.layout.artifact_cache, allowed_dirs=allowed, max_bytes=self.artifacts.max_bytes)

    def _package(self, digest: str | None) -> Path | None:
        if digest is None:
            return None
        from services.adapters.artifacts import ArtifactError, artifact_path

        try:
            path = artifact_path(self._artifact_policy(), digest)
        except ArtifactError as exc:
            raise AgentError(exc.message) from None
        if not path.exists():
            raise AgentError(f"package {digest} is not on host {self.host_id}: fetch it first")
        return Path(path)

    def _replica(self, spec: ApplyReplicas, rs: ReplicaSpec, paths: ReplicaPaths, **kw: Any) -> Replica:
        return Replica(spec, rs, paths, self._changed, liveness_period=self.liveness_period, **kw)

    async def _cancel_rollout(self, run: InstanceRun) -> None:
        task, run.rollout = run.rollout, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # a replacement the rollout was stopping goes on stopping (shielded): let it end first
        await asyncio.gather(*(r.stopped() for r in list(run.replicas.values())))

    async def _start_replica(self, run: InstanceRun, spec: ApplyReplicas, rs: ReplicaSpec, package: Path | None, fresh: bool) -> Replica:
        workdir = await asyncio.to_thread(
            self.layout.prepare_workdir, spec.project_id, spec.instance_id, rs.index, spec.generation, package, fresh
        )
        paths = ReplicaPaths(workdir, self.layout.log_file(spec.project_id, spec.instance_id, rs.index))
        replica = self._replica(spec, rs, paths)
        run.replicas[rs.index] = replica
        replica.start()  # spawned from the event loop's thread: see replicas.py (parent-death signal)
        return replica

    @staticmethod
    async def _stop_all(replicas: Iterable[Replica], grace: float) -> None:
        await asyncio.gather(*(r.stop(grace) for r in replicas))

    # --- commands --------------------------------------------------------------------------------

    async def fetch(self, req: FetchArtifact) -> FetchedArtifact:
        _check_ids(req.project_id, req.instance_id)
        if not self.serves(req.project_id):
            raise AgentError(f"host {self.host_id} does not serve project {req.project_id}")
        from services.adapters.artifacts import ArtifactError, fetch_artifact

        try:
            return await fetch_artifact(req.artifact, self._artifact_policy())
        except ArtifactError as exc:
            raise AgentError(exc.message) from None

    async def apply(self, req: ApplyReplicas) -> InstanceReplicas:
        _check_ids(req.project_id, req.instance_id)
        if not self.serves(req.project_id):
            raise AgentError(f"host {self.host_id} does not serve project {req.project_id}")
        if not req.command:
            raise AgentError("the command is empty")
        if len({r.index for r in req.replicas}) != len(req.replicas) or any(r.index < 0 for r in req.replicas):
            raise AgentError("replica indexes must be distinct and not negative")
        package = self._package(req.artifact_digest)
        run = self._run(req.project_id, req.instance_id)
        await self._cancel_rollout(run)
        async with run.lock:
            req = self._with_ports(run, req)
            self.desired.save(DesiredInstance(apply=req, stopped=False))
            pending = await self._apply_now(run, req, package)
            if pending:
                run.rollout = asyncio.get_running_loop().create_task(self._roll(run, req, package, pending))
        return self._status(req.project_id, req.instance_id)

    def _with_ports(self, run: InstanceRun, req: ApplyReplicas) -> ApplyReplicas:
        """``req`` with a port for every replica: a replica given port 0 keeps the one its index
        already has on this host (running, or in the desired state), else gets a free one."""
        if all(r.port for r in req.replicas):
            return req
        known: dict[int, int] = {}
        desired = self.desired.load(req.project_id, req.instance_id)
        if desired is not None:
            known.update({r.index: r.port for r in desired.apply.replicas})
        known.update({i: r.state.port for i, r in run.replicas.items()})
        given = {r.port for r in req.replicas if r.port}
        taken = set(given)
        resolved = []
        for rs in req.replicas:
            port = rs.port
            if not port:
                port = known.get(rs.index, 0)
                if not port or port in taken:
                    try:
                        port = host_info.free_port(taken, self.replica_ports)
                    except host_info.NoFreePort as exc:
                        raise AgentError(f"{exc} for replica {rs.index} (openstage agent --replica-ports)") from None
            taken.add(port)
            resolved.append(ReplicaSpec(index=rs.index, port=port))
        return req.model_copy(update={"replicas": resolved})

    async def _apply_now(self, run: InstanceRun, req: ApplyReplicas, package: Path | None) -> list[ReplicaSpec]:
        """Everything but the rolling replacements, which it returns (replicas running at another generation)."""
        wanted = {r.index: r for r in req.replicas}
        gone = [r for i, r in run.replicas.items() if i not in wanted]
        await self._stop_all(gone, req.grace_seconds)
        for r in gone:
            del run.replicas[r.index]
            self.layout.remove_replica_dir(req.project_id, req.instance_id, r.index)
        start: list[tuple[ReplicaSpec, bool]] = []  # (replica, fresh directory)
        replace_now: list[Replica] = []
        rolling: list[ReplicaSpec] = []
        for index, rs in sorted(wanted.items()):
            current = run.replicas.get(index)
            if current is None:
                start.append((rs, False))  # a directory made for this generation (before an agent restart) is kept
            elif current.generation == req.generation:
                if not current.running():
                    start.append((rs, False))  # stopped or failed: start again
            elif req.rolling and current.running():
                rolling.append(rs)
            else:
                replace_now.append(current)
                start.append((rs, True))
        await self._stop_all(replace_now, req.grace_seconds)
        for rs, fresh in start:
            await self._start_replica(run, req, rs, package, fresh)
        return rolling

    async def _roll(self, run: InstanceRun, req: ApplyReplicas, package: Path | None, pending: list[ReplicaSpec]) -> None:
        for rs in pending:
            async with run.lock:
                current = run.replicas.get(rs.index)
                if current is not None and current.generation == req.generation:
                    continue
                if current is not None:
                    await current.stop(req.grace_seconds)
                replica = await self._start_replica(run, req, rs, package, fresh=True)
            phase = await replica.wait_settled()
            if phase != ReplicaPhase.READY:
                log.warning("rolling update of %s/%s stopped: replica %s is %s", req.project_id, req.instance_id, rs.index, phase.value)
                return

    async def stop(self, req: StopReplicas) -> InstanceReplicas:
        _check_ids(req.project_id, req.instance_id)
        run = self._run(req.project_id, req.instance_id)
        await self._cancel_rollout(run)
        async with run.lock:
            desired = self.desired.load(req.project_id, req.instance_id)
            if desired is not None and not desired.stopped:
                self.desired.save(desired.model_copy(update={"stopped": True}))
            await self._stop_all(run.replicas.values(), req.grace_seconds)
        return self._status(req.project_id, req.instance_id)

    async def remove(self, req: RemoveInstance) -> None:
        _check_ids(req.project_id, req.instance_id)
        run = self._run(req.project_id, req.instance_id)
        await self._cancel_rollout(run)
        async with run.lock:
            await self._stop_all(run.replicas.values(), req.grace_seconds)
            self.desired.delete(req.project_id, req.instance_id)
            await asyncio.to_thread(self.layout.remove_instance, req.project_id, req.instance_id)
            self.runs.pop((req.project_id, req.instance_id), None)

    async def restart(self, req: RestartReplica) -> InstanceReplicas:
        _check_ids(req.project_id, req.instance_id)
        run = self.runs.get((req.project_id, req.instance_id))
        current = run.replicas.get(req.index) if run else None
        if run is None or current is None:
            raise AgentError(f"replica {req.index} of instance {req.instance_id} is not on host {self.host_id}")
        desired = self.desired.load(req.project_id, req.instance_id)
        if desired is not None and desired.stopped:
            raise AgentError(f"instance {req.instance_id} is stopped on host {self.host_id}: start it instead")
        async with run.lock:
            current = run.replicas[req.index]
            await current.stop(req.grace_seconds)
            rs = ReplicaSpec(index=current.index, port=current.state.port)
            replica = self._replica(current.spec, rs, current.paths, restarts=current.state.restarts)
            run.replicas[req.index] = replica
            replica.start()
        return self._status(req.project_id, req.instance_id)

    async def status(self, req: InstanceStatusQuery) -> InstanceReplicas:
        _check_ids(req.project_id, req.instance_id)
        return self._status(req.project_id, req.instance_id)

    # --- logs ------------------------------------------------------------------------------------

    def read_logs(self, req: ReadLogs) -> list[LogChunk]:
        """The chunks of the instance's replicas on this host (none: not here, or another project)."""
        if not ID_PATTERN.match(req.instance_id) or (req.project_id is not None and not ID_PATTERN.match(req.project_id)):
            return []
        chunks = []
        for _project, index, path in self.layout.log_files(req.project_id, req.instance_id):
            if req.replica is not None and index != req.replica:
                continue
            got = log_files.read(path, req.offset, min(max(0, req.max_bytes), 1_048_576))
            data = _utf8_prefix(got.data)
            next_offset = got.next_offset - (len(got.data) - len(data))
            text = data.decode("utf-8", errors="replace")
            chunks.append(LogChunk(host_id=self.host_id, instance_id=req.instance_id, replica=index, data=text, next_offset=next_offset))
        return chunks

    def rotate_logs(self) -> None:
        for run in list(self.runs.values()):
            for replica in list(run.replicas.values()):
                try:
                    log_files.rotate_if_needed(replica.paths.log)
                except OSError as exc:
                    log.warning("cannot rotate %s: %s", replica.paths.log, exc)

    # --- start and stop of the agent -------------------------------------------------------------

    async def restore(self) -> None:
        """Bring back what the desired state holds: running instances started, stopped ones listed as stopped."""
        for desired in self.desired.all():
            spec = desired.apply
            run = self._run(spec.project_id, spec.instance_id)
            if desired.stopped:
                for rs in spec.replicas:
                    paths = ReplicaPaths(
                        self.layout.workdir(spec.project_id, spec.instance_id, rs.index),
                        self.layout.log_file(spec.project_id, spec.instance_id, rs.index),
                    )
                    run.replicas[rs.index] = self._replica(spec, rs, paths, phase=ReplicaPhase.STOPPED)
                continue
            try:
                async with run.lock:
                    await self._apply_now(run, spec.model_copy(update={"rolling": False}), self._package(spec.artifact_digest))
            except (AgentError, OSError) as exc:
                log.error("cannot bring back %s/%s: %s", spec.project_id, spec.instance_id, exc)

    async def shutdown(self) -> None:
        """Stop every replica (pre_stop, SIGTERM, grace, SIGKILL); the desired state is kept."""
        for run in self.runs.values():
            await self._cancel_rollout(run)
        await asyncio.gather(*(r.stop(r.spec.grace_seconds) for run in self.runs.values() for r in run.replicas.values()))
