"""The process driver: deploys an instance as processes on hosts that run ``openstage agent``
(services/contracts/agent.py), through ``AgentClient``. ``DriverByTarget`` (routing.py) picks it
for an instance whose ecs hosts all have an agent.

Every task is idempotent (each agent command is): a job resumed after a crash runs its unfinished
task again. What one task learns for the next (the fetched package's digest, the replica spec) is
kept in the run's ``_Run`` and recomputed when a resumed job starts after it.

Tasks (keys are stable): ``place_replicas`` (replica i -> hosts[i % n]; every host known and
serving the project), ``fetch_artifact`` (the agent's ``fetch`` on every host with replicas),
``start_replicas`` (``apply``: command, environment, probes, hooks; rolling for upgrade/rollback;
hosts no longer used get ``remove``), ``wait_healthy`` (every replica READY at this generation),
``wait_registered`` (a microservice: every replica has an UP registry instance naming its port),
``stop_replicas``, ``restart_replicas`` (one at a time, each READY before the next),
``remove_replicas``, ``keep_stopped`` (an upgrade of a STOPPED instance)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.adapters.agent_client import AgentClient, AgentError
from services.adapters.drivers.base import Driver, Task, TaskContext, TaskFailed, TaskResult, Workload
from services.adapters.drivers.lookups import DeploymentLookups, LookupFailed
from services.adapters.drivers.routing import HostDirectory
from services.contracts.agent import (
    ApplyReplicas,
    ArtifactSpec,
    FetchArtifact,
    FetchedArtifact,
    InstanceReplicas,
    InstanceStatusQuery,
    LifecycleHook,
    Probe,
    RemoveInstance,
    ReplicaPhase,
    ReplicaSpec,
    ReplicaState,
    RestartReplica,
    StopReplicas,
)
from services.domain.lifecycle import deployments as rules
from services.domain.lifecycle.deployments import DeploymentContext, PlacedReplica

# a replica not ready that has exited this often during a wait fails the wait at once (e.g. an app
# that exits at start) instead of waiting out the ready timeout
CRASH_LOOP_RESTARTS = 3
Credentials = Callable[[str], tuple[str, str]]  # project -> (account, password) of its registry account


@dataclass
class _Run:
    """What the tasks of one job run share (lost with the process: recomputed on resume)."""

    fetched: dict[str, FetchedArtifact] = field(default_factory=dict)  # host -> package
    spec: ApplyReplicas | None = None  # the replicas' spec, without the replica list


@dataclass(frozen=True)
class _Target:
    """Where a task acts: the workload, its replicas, and the hosts they are spread over."""

    w: Workload
    replica: int
    hosts: list[str]

    @property
    def placement(self) -> dict[str, list[int]]:
        return rules.place(self.hosts, self.replica)

    @property
    def used(self) -> dict[str, list[int]]:
        return {h: idx for h, idx in self.placement.items() if idx}


@dataclass(frozen=True)
class ProcessSettings:
    registry_url: str
    ready_timeout: float = 120.0
    registration_timeout: float = 120.0
    command_timeout: float = 30.0
    fetch_timeout: float = 600.0
    poll_seconds: float = 0.25
    grace_seconds: float = 10.0


class ProcessDriver(Driver):
    name = "process"

    def __init__(
        self,
        agents: AgentClient,
        hosts: HostDirectory,
        lookups: DeploymentLookups,
        settings: ProcessSettings,
        credentials: Credentials | None = None,
    ) -> None:
        self.agents = agents
        self.hosts = hosts
        self.lookups = lookups
        self.settings = settings
        self.credentials = credentials  # None: the registry does not use rbac

    # --- building blocks --------------------------------------------------------------------------
    @staticmethod
    def _task(key: str, name: str, type_: str, body: Callable[[TaskContext], Awaitable[TaskResult]]) -> Task:
        async def run(ctx: TaskContext) -> TaskResult:
            try:
                return await body(ctx)
            except AgentError as exc:
                raise TaskFailed(f"{name} failed: {exc.message}") from None
            except LookupFailed as exc:
                raise TaskFailed(f"{name} failed: {exc.message}") from None

        return Task(key=key, name=name, type=type_, run=run)

    def _target(self, w: Workload, replica: int | None = None, hosts: list[str] | None = None) -> _Target:
        return _Target(w, w.replica if replica is None else replica, hosts or rules.hosts_of(w.refer_resources))

    def _place(self, t: _Target) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            if not t.hosts:
                raise TaskFailed("the instance names no ecs host to run on")
            for h in t.hosts:
                projects = self.hosts.projects(h)
                if projects is None:
                    raise TaskFailed(f"host {h} has never announced an agent: start `openstage agent` there")
                if not rules.serves(projects, t.w.project_id):
                    raise TaskFailed(f"host {h} does not serve project {t.w.project_id} (it serves: {', '.join(projects) or 'none'})")
            where = "; ".join(f"host {h}: replica{'s' if len(i) > 1 else ''} {', '.join(map(str, i))}" for h, i in t.used.items())
            return TaskResult(f"{t.replica} replica{'s' if t.replica != 1 else ''} placed: {where or 'none'}")

        return self._task("place_replicas", "Place replicas on hosts", "resource", body)

    def _artifact(self, w: Workload) -> tuple[str, dict[str, Any]]:
        items = sorted((w.artifacts or {}).items())
        if not items:
            raise TaskFailed("the instance has no software package (artifact) to run")
        for key, a in items:  # the component's own package first
            if key == w.name or (isinstance(a, dict) and key == (a.get("name") or "")):
                return key, a
        return items[0]

    def _spec_of(self, w: Workload) -> ArtifactSpec:
        key, a = self._artifact(w)
        props = a.get("properties") or {}
        sha = props.get("sha256") if isinstance(props, dict) else None
        return ArtifactSpec(url=str(a.get("url", "")), sha256=str(sha) if sha else None, name=key)

    async def _fetch(self, run: _Run, w: Workload, host: str) -> FetchedArtifact:
        if host not in run.fetched:
            request = FetchArtifact(project_id=w.project_id, instance_id=w.instance_id, artifact=self._spec_of(w))
            run.fetched[host] = await self.agents.fetch(host, request, timeout=self.settings.fetch_timeout)
        return run.fetched[host]

    def _fetch_task(self, run: _Run, t: _Target) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            spec = self._spec_of(t.w)
            done = []
            for i, h in enumerate(t.used):
                await self._fetch(run, t.w, h)
                done.append(h)
                await ctx.progress(f"fetched {spec.url} on {i + 1}/{len(t.used)} hosts")
            got_any = run.fetched[done[0]] if done else None
            size = f" ({got_any.size} bytes, sha256 {got_any.digest[:12]})" if got_any else ""
            return TaskResult(f"fetched {spec.url}{size} on host{'s' if len(done) != 1 else ''} {', '.join(done) or 'none'}")

        return self._task("fetch_artifact", "Fetch the software package", "resource", body)

    async def _prepare(self, run: _Run, w: Workload, host: str) -> ApplyReplicas:
        """The spec of the instance's replicas (command, environment, probes, hooks, generation)."""
        if run.spec is not None:
            return run.spec
        fetched = await self._fetch(run, w, host)
        facts = await self.lookups.component(w.project_id, w.application_id, w.component_id)
        conf = w.configuration or {}
        package_file = rules.artifact_file_name(self._spec_of(w).url) if fetched.kind == "file" else None
        try:
            command = rules.start_command(facts.runtime, rules.section(conf, "lifecycle", "entrypoint"), package_file)
        except rules.NoStartCommand as exc:
            raise TaskFailed(str(exc)) from None
        ctx = DeploymentContext(
            project_id=w.project_id,
            application_id=w.application_id,
            application_name=facts.application_name,
            component_id=w.component_id,
            component_name=facts.name,
            environment_id=w.environment_id,
            instance_id=w.instance_id,
            version=w.version,
            registry_url=self.settings.registry_url,
            credentials=self.credentials(w.project_id) if self.credentials else None,
        )
        app_env = await self.lookups.application_env(w.project_id, w.application_id, w.environment_id)
        env = rules.compose_env(app_env, conf.get("env") or [], rules.platform_env(ctx))
        try:
            readiness = _model(Probe, rules.default_readiness(facts.category, rules.section(conf, "probes", "readiness_probe")))
            liveness = _model(Probe, rules.section(conf, "probes", "liveness_probe"))
            post_start = _model(LifecycleHook, rules.section(conf, "lifecycle", "post_start"))
            pre_stop = _model(LifecycleHook, rules.section(conf, "lifecycle", "pre_stop"))
        except ValidationError as exc:
            raise TaskFailed(f"configuration.probes/lifecycle: {exc.errors()[0]['msg']}") from None
        hooks = [m.model_dump() if m else None for m in (readiness, liveness, post_start, pre_stop)]
        run.spec = ApplyReplicas(
            project_id=w.project_id,
            instance_id=w.instance_id,
            generation=rules.generation_of(fetched.digest, command, env, hooks),
            artifact_digest=fetched.digest,
            command=command,
            env=env,
            replicas=[],
            readiness_probe=readiness,
            liveness_probe=liveness,
            post_start=post_start,
            pre_stop=pre_stop,
            grace_seconds=self.settings.grace_seconds,
        )
        return run.spec

    def _start(self, run: _Run, t: _Target, rolling: bool = False, previous: list[str] | None = None) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            spec = None
            for h, indexes in t.placement.items():
                if not indexes:  # a host the instance names but no replica runs on: none there
                    await self._remove_on(h, t.w)
                    continue
                spec = await self._prepare(run, t.w, h)
                request = spec.model_copy(update={"replicas": [ReplicaSpec(index=i) for i in indexes], "rolling": rolling})
                await self.agents.apply(h, request, timeout=self.settings.command_timeout)
            left = [h for h in previous or [] if h not in t.hosts]
            for h in left:
                await self._remove_on(h, t.w)
            if spec is None:
                return TaskResult("no replica to start")
            moved = f"; removed from host{'s' if len(left) > 1 else ''} {', '.join(left)}" if left else ""
            how = "rolling update of" if rolling else "started"
            return TaskResult(
                f"{how} {t.replica} replica{'s' if t.replica != 1 else ''} (generation {spec.generation}): "
                f"{rules.describe_command(spec.command)}{moved}"
            )

        return self._task("start_replicas", "Roll out replicas" if rolling else "Start replicas", "vm", body)

    async def _states(self, t: _Target) -> list[tuple[str, ReplicaState | None, int]]:
        """(host, the replica's state or None, index) of every placed replica."""
        out: list[tuple[str, ReplicaState | None, int]] = []
        for h, indexes in t.used.items():
            got = await self.agents.status(h, InstanceStatusQuery(project_id=t.w.project_id, instance_id=t.w.instance_id))
            by_index = {r.index: r for r in got.replicas}
            out += [(h, by_index.get(i), i) for i in indexes]
        return out

    def _wait_healthy(self, run: _Run, t: _Target, any_generation: bool = False) -> Task:
        """Every replica READY (at the generation this job applies; ``any_generation``: as they run, for a restart)."""

        async def body(ctx: TaskContext) -> TaskResult:
            first = next(iter(t.used), None)
            if first is None:
                return TaskResult("no replica to wait for", available_replica=0)
            generation = None if any_generation else (await self._prepare(run, t.w, first)).generation
            deadline = time.monotonic() + self.settings.ready_timeout
            said = -1
            while True:
                states = await self._states(t)
                ready = [s for _, s, _ in states if s and s.phase == ReplicaPhase.READY and generation in (None, s.generation)]
                if len(ready) != said:
                    said = len(ready)
                    await ctx.progress(f"{said}/{t.replica} replicas ready", available_replica=said)
                if len(ready) >= t.replica:
                    ports = ", ".join(f"{h}:{s.port}" for h, s, _ in sorted(states, key=lambda x: x[2]) if s is not None)
                    return TaskResult(f"{t.replica}/{t.replica} replicas ready (ports {ports})", available_replica=t.replica)
                # given up on, or exiting again and again without getting ready: waiting longer changes nothing
                failed: list[tuple[str, ReplicaState | None, int]] = [
                    (h, s, i)
                    for h, s, i in states
                    if s
                    and generation in (None, s.generation)
                    and (s.phase == ReplicaPhase.FAILED or (s.phase != ReplicaPhase.READY and s.restarts >= CRASH_LOOP_RESTARTS))
                ]
                if failed or time.monotonic() > deadline:
                    bad: list[tuple[str, ReplicaState | None, int]] = failed or [
                        (h, s, i) for h, s, i in states if not (s and s.phase == ReplicaPhase.READY and generation in (None, s.generation))
                    ]
                    why = "; ".join(_describe(h, i, s) for h, s, i in bad)
                    cause = "failed" if failed else f"not ready after {self.settings.ready_timeout:g}s"
                    raise TaskFailed(f"{len(bad)} replica{'s' if len(bad) != 1 else ''} {cause}: {why}", available_replica=len(ready))
                await asyncio.sleep(self.settings.poll_seconds)

        return self._task("wait_healthy", "Wait for replicas to be ready", "vm", body)

    def _wait_registered(self, t: _Target) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            facts = await self.lookups.component(t.w.project_id, t.w.application_id, t.w.component_id)
            if not rules.is_microservice(facts.category, facts.sub_category):
                return TaskResult(f"{facts.name} is not a microservice ({facts.category}): no registration to wait for")
            placed = [PlacedReplica(h, i, s.port) for h, s, i in await self._states(t) if s is not None]
            deadline = time.monotonic() + self.settings.registration_timeout
            said = -1
            while True:
                missing = rules.unregistered(placed, await self.lookups.up_endpoints(t.w.project_id))
                if len(missing) != said:
                    said = len(missing)
                    await ctx.progress(f"{len(placed) - said}/{len(placed)} replicas registered")
                if not missing:
                    return TaskResult(f"{len(placed)}/{len(placed)} replicas registered an UP instance in project {t.w.project_id}")
                if time.monotonic() > deadline:
                    names = ", ".join(f"replica {r.index} on host {r.host_id} (port {r.port})" for r in missing)
                    raise TaskFailed(
                        f"{len(missing)} replica{'s' if len(missing) != 1 else ''} never registered in the registry of project "
                        f"{t.w.project_id} within {self.settings.registration_timeout:g}s: {names}"
                    )
                await asyncio.sleep(max(self.settings.poll_seconds, 0.5))

        return self._task("wait_registered", "Wait for registration", "vm", body)

    async def _remove_on(self, host: str, w: Workload) -> str:
        request = RemoveInstance(project_id=w.project_id, instance_id=w.instance_id, grace_seconds=self.settings.grace_seconds)
        try:
            await self.agents.remove(host, request, timeout=self.settings.command_timeout + self.settings.grace_seconds)
        except AgentError as exc:
            if not exc.no_agent:
                raise
            return f"host {host} has no running agent: whatever ran there was not removed"
        return f"removed from host {host}"

    # --- operations -------------------------------------------------------------------------------
    def _deployment(self, t: _Target, rolling: bool = False, previous: list[str] | None = None) -> list[Task]:
        run = _Run()
        return [
            self._place(t),
            self._fetch_task(run, t),
            self._start(run, t, rolling=rolling, previous=previous),
            self._wait_healthy(run, t),
            self._wait_registered(t),
        ]

    def _undone_on_failure(self, task: Task, t: _Target) -> Task:
        """``task``, and when it fails, the instance removed from its hosts: a failed deploy leaves
        no process, working directory or log behind."""

        async def run(ctx: TaskContext) -> TaskResult:
            try:
                return await task.run(ctx)
            except TaskFailed as exc:
                try:
                    for h in t.hosts:
                        await self._remove_on(h, t.w)
                except AgentError as cleanup:
                    raise TaskFailed(f"{exc.message}; removing its replicas failed too: {cleanup.message}", 0) from None
                raise TaskFailed(f"{exc.message} (the deployment's replicas were stopped and removed)", 0) from None

        return Task(key=task.key, name=task.name, type=task.type, run=run)

    def deploy(self, w: Workload) -> list[Task]:
        t = self._target(w)
        place, *rest = self._deployment(t)
        return [place, *(self._undone_on_failure(task, t) for task in rest)]

    def _replace(self, current: Workload, target: Workload) -> list[Task]:
        t = self._target(target, replica=current.replica)
        if current.status == "STOPPED":
            run = _Run()

            async def body(ctx: TaskContext) -> TaskResult:
                return TaskResult(f"the instance is stopped: version {target.version} is recorded and runs at the next start")

            return [self._place(t), self._fetch_task(run, t), self._task("keep_stopped", "Keep the instance stopped", "vm", body)]
        return self._deployment(t, rolling=True, previous=rules.hosts_of(current.refer_resources))

    def upgrade(self, current: Workload, target: Workload) -> list[Task]:
        return self._replace(current, target)

    def rollback(self, current: Workload, target: Workload) -> list[Task]:
        return self._replace(current, target)

    def start(self, w: Workload) -> list[Task]:
        return self._deployment(self._target(w))

    def scale(self, w: Workload, replica: int, hosts: list[str] | None = None) -> list[Task]:
        # rolling: replicas whose spec changed since (the application's configuration) are replaced one at a time
        return self._deployment(self._target(w, replica, hosts), rolling=True, previous=rules.hosts_of(w.refer_resources))

    def stop(self, w: Workload) -> list[Task]:
        t = self._target(w)

        async def body(ctx: TaskContext) -> TaskResult:
            stopped = 0
            for h in t.hosts:
                request = StopReplicas(project_id=w.project_id, instance_id=w.instance_id, grace_seconds=self.settings.grace_seconds)
                got = await self.agents.stop(h, request, timeout=self.settings.command_timeout + self.settings.grace_seconds)
                running = [r for r in got.replicas if r.phase not in (ReplicaPhase.STOPPED, ReplicaPhase.FAILED)]
                if running:
                    raise TaskFailed(f"host {h}: {len(running)} replicas still running after stop: {_describe_all(got)}")
                stopped += len(got.replicas)
            return TaskResult(
                f"stopped {stopped} replica{'s' if stopped != 1 else ''} on host{'s' if len(t.hosts) != 1 else ''} "
                f"{', '.join(t.hosts)} (their directories are kept for start)",
                available_replica=0,
            )

        return [self._task("stop_replicas", "Stop replicas", "vm", body)]

    def restart(self, w: Workload) -> list[Task]:
        t = self._target(w)
        run = _Run()

        async def body(ctx: TaskContext) -> TaskResult:
            done = 0
            for h, indexes in t.used.items():
                query = InstanceStatusQuery(project_id=w.project_id, instance_id=w.instance_id)
                for i in indexes:
                    before = {r.index: r for r in (await self.agents.status(h, query)).replicas}.get(i)
                    request = RestartReplica(
                        project_id=w.project_id, instance_id=w.instance_id, index=i, grace_seconds=self.settings.grace_seconds
                    )
                    await self.agents.restart(h, request, timeout=self.settings.command_timeout + self.settings.grace_seconds)
                    await self._until_ready_again(h, query, i, before)
                    done += 1
                    await ctx.progress(f"restarted {done}/{t.replica} replicas")
            return TaskResult(f"restarted {done} replica{'s' if done != 1 else ''} one at a time, each ready before the next")

        return [
            self._task("restart_replicas", "Restart replicas", "vm", body),
            self._wait_healthy(run, t, any_generation=True),
            self._wait_registered(t),
        ]

    async def _until_ready_again(self, host: str, query: InstanceStatusQuery, index: int, before: ReplicaState | None) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout
        while True:
            now = {r.index: r for r in (await self.agents.status(host, query)).replicas}.get(index)
            fresh = now is not None and (before is None or now.pid != before.pid or now.restarts != before.restarts)
            if now is not None and fresh and now.phase == ReplicaPhase.READY:
                return
            if now is not None and fresh and now.phase == ReplicaPhase.FAILED:
                raise TaskFailed(f"replica {index} on host {host} failed after its restart: {now.message or now.phase.value}")
            if time.monotonic() > deadline:
                state = now.phase.value if now else "missing"
                raise TaskFailed(f"replica {index} on host {host} not ready {self.settings.ready_timeout:g}s after its restart ({state})")
            await asyncio.sleep(self.settings.poll_seconds)

    def delete(self, w: Workload) -> list[Task]:
        t = self._target(w)

        async def body(ctx: TaskContext) -> TaskResult:
            said = [await self._remove_on(h, w) for h in t.hosts]
            return TaskResult(
                f"{'; '.join(said)}. Registry instances of the removed replicas: a replica that unregisters itself on "
                "SIGTERM is gone at once; any other expires with its heartbeat lease"
            )

        return [self._task("remove_replicas", "Remove replicas", "vm", body)]


def _model(model: type[Probe] | type[LifecycleHook], value: Any) -> Any:
    return model.model_validate(value) if isinstance(value, dict) and value else None


def _describe(host: str, index: int, state: ReplicaState | None) -> str:
    if state is None:
        return f"replica {index} on host {host}: not started"
    what = state.message or state.phase.value
    said = f"replica {index} on host {host} (port {state.port}): {state.phase.value}" + (f", {what}" if what != state.phase.value else "")
    if state.exit_code is not None and "code" not in what and "signal" not in what.lower():
        said += f" (last exit code {state.exit_code})"
    return said


def _describe_all(got: InstanceReplicas) -> str:
    return "; ".join(_describe(got.host_id, r.index, r) for r in got.replicas)
