"""The simulated deployment driver: **nothing is deployed** -- no cluster, VM or process is
touched. It serves every target the process driver does not (cce, cci, an ecs host with no agent:
services/adapters/drivers/routing.py). Each job walks through the named tasks a real deployment
has, taking ``OPENSTAGE_SIMULATED_TASK_SECONDS`` per task, and reports replicas becoming available
one by one; every message it reports starts with ``simulated: `` so that nobody mistakes it for a
deployment.

Deterministic ways to make a task fail (see docs/instances-and-jobs.md):

- an artifact whose URL's host ends with ``.invalid`` (a name that can never resolve, RFC 2606):
  the "Pull artifacts" task fails with "... cannot be resolved";
- an environment variable ``OPENSTAGE_SIMULATE_FAILURE`` in the instance's ``configuration.env``
  whose value is a task key (``prepare``, ``pull_artifact``, ``create_workload``,
  ``rolling_update``, ``load_snapshot``, ``scale_workload``, ``restart_replicas``,
  ``stop_workload``, ``wait_healthy``, ``wait_stopped``, ``delete_workload``,
  ``release_resources``; several separated by commas): that task fails in every job of the instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from services.adapters.drivers.base import Driver, Task, TaskContext, TaskFailed, TaskResult, Workload

FAILURE_ENV = "OPENSTAGE_SIMULATE_FAILURE"
PREFIX = "simulated: "  # every message of this driver says that nothing was deployed


class _Said:
    """The task context, each progress message marked as simulated."""

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self.attempt = ctx.attempt

    async def progress(self, message: str, available_replica: int | None = None) -> None:
        await self._ctx.progress(PREFIX + message, available_replica)


def artifact_host(url: str) -> str:
    """The host an artifact URL names: ``https://host:port/x.jar`` or ``host/org/image:tag``."""
    if "://" in url:
        return (urlsplit(url).hostname or "").lower()
    first = url.split("/", 1)[0]
    return first.rsplit("@", 1)[-1].split(":", 1)[0].lower()


def unresolvable(host: str) -> bool:
    return host == "invalid" or host.endswith(".invalid")


def failing_tasks(w: Workload) -> set[str]:
    for var in (w.configuration or {}).get("env") or []:
        if isinstance(var, dict) and var.get("name") == FAILURE_ENV:
            return {k.strip() for k in str(var.get("value", "")).split(",") if k.strip()}
    return set()


def _workload_type(w: Workload) -> str:
    return "vm" if w.platform_type == "vmapp" else "kube"


def _where(w: Workload) -> str:
    for r in w.refer_resources:
        if r.get("type") in ("cce", "cci"):
            ns = (r.get("parameters") or {}).get("namespace", "default")
            return f"{r['type']} cluster {r['id']} namespace {ns}"
        if r.get("type") in ("ecs", "as"):
            hosts = (r.get("parameters") or {}).get("hosts") or []
            return f"{r['type']} {r['id']}" + (f" ({len(hosts)} hosts)" if hosts else "")
    return f"environment {w.environment_id}"


class SimulatedDriver(Driver):
    name = "simulated"

    def __init__(self, task_seconds: float = 0.2) -> None:
        self.task_seconds = task_seconds

    # --- building blocks ------------------------------------------------------------------------
    async def _sleep(self, fraction: float = 1.0) -> None:
        if self.task_seconds > 0:
            await asyncio.sleep(self.task_seconds * fraction)

    def _task(self, w: Workload, key: str, name: str, type_: str, body: Callable[[TaskContext], Awaitable[TaskResult]]) -> Task:
        failing = failing_tasks(w)

        async def run(ctx: TaskContext) -> TaskResult:
            if key in failing:
                await self._sleep()
                raise TaskFailed(f"{PREFIX}{name} failed: simulated failure requested by {FAILURE_ENV}={key}")
            try:
                result = await body(_Said(ctx))
            except TaskFailed as exc:
                raise TaskFailed(PREFIX + exc.message, exc.available_replica) from None
            return TaskResult(PREFIX + result.message, result.available_replica)

        return Task(key=key, name=name, type=type_, run=run, side_effects=False)

    def _prepare(self, w: Workload, what: str) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            await self._sleep()
            return TaskResult(f"{what}: {_where(w)} is ready for {w.name} (flavor {w.flavor_id})")

        return self._task(w, "prepare", f"Prepare {what}", "resource", body)

    def _pull(self, w: Workload) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            pulled = []
            items = sorted(w.artifacts.items())
            for i, (key, artifact) in enumerate(items):
                url = str((artifact or {}).get("url", ""))
                await self._sleep(1 / max(1, len(items)))
                host = artifact_host(url)
                if unresolvable(host):
                    raise TaskFailed(f"cannot pull artifact {key} from {url}: host {host} cannot be resolved")
                pulled.append(f"{key} ({url})")
                await ctx.progress(f"pulled {i + 1}/{len(items)} artifacts")
            if not items:
                await self._sleep()
            return TaskResult("pulled " + (", ".join(pulled) if pulled else "no artifact"))

        return self._task(w, "pull_artifact", "Pull artifacts", "resource", body)

    def _wait_replicas(
        self, w: Workload, start: int, target: int, key: str = "wait_healthy", name: str = "Wait for replicas to be healthy"
    ) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            steps = abs(target - start)
            step = 1 if target >= start else -1
            available = start
            for _ in range(steps):
                await self._sleep(1 / steps)
                available += step
                await ctx.progress(f"{available}/{target} replicas available", available_replica=available)
            if not steps:
                await self._sleep()
            if target == 0:
                return TaskResult("all replicas stopped", available_replica=0)
            return TaskResult(f"{target}/{target} replicas available", available_replica=target)

        return self._task(w, key, name, _workload_type(w), body)

    def _simple(
        self, w: Workload, key: str, name: str, message: str, type_: str | None = None, available_replica: int | None = None
    ) -> Task:
        async def body(ctx: TaskContext) -> TaskResult:
            await self._sleep()
            return TaskResult(message, available_replica=available_replica)

        return self._task(w, key, name, type_ or _workload_type(w), body)

    def _roll(self, current: Workload, target: Workload, title: str, message: str) -> list[Task]:
        """Pull the target's artifacts, replace the replicas one by one, wait until all are available."""
        available = min(current.available_replica, target.replica)
        return [
            self._pull(target),
            self._simple(target, "rolling_update", title, message, available_replica=available),
            self._wait_replicas(target, available, target.replica),
        ]

    # --- operations ---------------------------------------------------------------------------
    def deploy(self, w: Workload) -> list[Task]:
        return [
            self._prepare(w, "deployment"),
            self._pull(w),
            self._simple(w, "create_workload", "Create workload", f"workload {w.name} created: version {w.version}, {w.replica} replicas"),
            self._wait_replicas(w, 0, w.replica),
        ]

    def upgrade(self, current: Workload, target: Workload) -> list[Task]:
        return [
            self._prepare(target, "upgrade"),
            *self._roll(current, target, "Roll out new version", f"rolled out version {target.version} (was {current.version})"),
        ]

    def rollback(self, current: Workload, target: Workload) -> list[Task]:
        return [
            self._simple(target, "load_snapshot", "Load snapshot", f"snapshot of version {target.version} loaded", type_="resource"),
            *self._roll(current, target, "Roll back workload", f"rolled back to version {target.version} (was {current.version})"),
        ]

    def start(self, w: Workload) -> list[Task]:
        return [
            self._simple(w, "scale_workload", "Start workload", f"workload {w.name} scheduled {w.replica} replicas"),
            self._wait_replicas(w, 0, w.replica),
        ]

    def stop(self, w: Workload) -> list[Task]:
        return [
            self._simple(w, "stop_workload", "Stop workload", f"workload {w.name} scaled to 0"),
            self._wait_replicas(w, w.available_replica, 0, key="wait_stopped", name="Wait for replicas to stop"),
        ]

    def restart(self, w: Workload) -> list[Task]:
        async def body(ctx: TaskContext) -> TaskResult:
            n = max(1, w.replica)
            for i in range(n):
                await self._sleep(1 / n)
                await ctx.progress(f"restarted {i + 1}/{n} replicas")
            return TaskResult(f"restarted {w.replica} replicas one by one")

        return [
            self._task(w, "restart_replicas", "Restart replicas", _workload_type(w), body),
            self._wait_replicas(w, w.available_replica, w.replica),
        ]

    def scale(self, w: Workload, replica: int, hosts: list[str] | None = None) -> list[Task]:
        return [
            self._simple(w, "scale_workload", "Scale workload", f"workload {w.name} scaled to {replica} replicas"),
            self._wait_replicas(w, w.available_replica, replica, name="Wait for replicas"),
        ]

    def delete(self, w: Workload) -> list[Task]:
        return [
            self._wait_replicas(w, w.available_replica, 0, key="stop_workload", name="Stop workload"),
            self._simple(w, "delete_workload", "Delete workload", f"workload {w.name} deleted"),
            self._simple(w, "release_resources", "Release resources", f"released what {w.name} used in {_where(w)}", type_="resource"),
        ]
