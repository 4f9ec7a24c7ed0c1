"""When the job runner writes a job's steps (workers/lifecycle/job_execution.py): in-process, the
lifecycle worker's own composition root on a real nx-27017, each job run as a work item would be
(``JobRunner.run``).

- a task with side effects only runs once everything before it is committed and its events are
  out (its own start, the previous task's success);
- tasks without side effects (the simulated driver's) that end at once cost no transaction of
  their own, and emit the same events in the same order;
- a long task without side effects is still shown running while it runs;
- a forced delete stops the job at a task boundary; a runner whose lease was taken writes nothing more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from services.adapters.drivers import Task, TaskContext, TaskResult
from services.adapters.drivers.simulated import SimulatedDriver
from services.adapters.store import component_instances as instance_store
from services.contracts.component_instances import DeleteInstance
from services.contracts.subjects import ComponentInstances
from tests.handlers.lifecycle_support import lifecycle_with_jobs
from tests.handlers.test_component_instances_handlers import _create, _ok, _ref, _target
from workers.lifecycle.deps import LifecycleDeps
from workers.lifecycle.job_leases import LeaseLost
from workers.lifecycle.job_runner import RunOutcome

DEPLOY_TASKS = ["prepare", "pull_artifact", "create_workload", "wait_healthy"]


class ActingDriver(SimulatedDriver):
    """The simulated driver's tasks declared as acting outside the job (as the process driver's
    do); each records, when it starts acting, the job as stored and the events already out."""

    def __init__(self, deps: LifecycleDeps, task_seconds: float = 0) -> None:
        super().__init__(task_seconds)
        self.deps = deps
        self.seen: list[tuple[str, dict, list[str]]] = []
        self.before_acting: Callable[[str], Awaitable[None]] | None = None

    def _task(self, w, key, name, type_, body) -> Task:  # type: ignore[no-untyped-def]
        simulated = super()._task(w, key, name, type_, body)

        async def run(ctx: TaskContext) -> TaskResult:
            if self.before_acting is not None:
                await self.before_acting(key)
            stored = await self.deps.db["instance_jobs"].find_one({})
            self.seen.append((key, stored, [e.type.removeprefix("io.openstage.lifecycle.") for e in self.deps.js.published]))
            return await simulated.run(ctx)

        return Task(key=key, name=name, type=type_, run=run, side_effects=True)


@pytest.fixture
async def lifecycle(base_deps):
    async with lifecycle_with_jobs(base_deps) as running:
        yield running


def use_driver(deps: LifecycleDeps, driver: SimulatedDriver) -> None:
    """Jobs planned (by the handlers) and run (by the runner) with ``driver``."""
    deps.driver = driver
    assert deps.job_runner is not None
    deps.job_runner.driver = driver


def count_transactions(deps: LifecycleDeps) -> list[int]:
    """A counter of the outbox transactions from now on."""
    counted = [0]
    transaction = deps.outbox.transaction

    async def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        counted[0] += 1
        return await transaction(*args, **kwargs)

    deps.outbox.transaction = counting  # type: ignore[method-assign]
    return counted


def types_since(deps: LifecycleDeps, mark: int) -> list[str]:
    return [e.type.removeprefix("io.openstage.lifecycle.") for e in deps.js.published[mark:]]


async def test_a_task_with_side_effects_runs_after_what_precedes_it_is_committed_and_emitted(lifecycle):
    broker, deps = lifecycle
    driver = ActingDriver(deps)
    use_driver(deps, driver)
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, replica=1))
    assert await deps.job_runner.run(created["job_id"]) is RunOutcome.DONE

    assert [key for key, _, _ in driver.seen] == DEPLOY_TASKS
    for index, (key, stored, published) in enumerate(driver.seen):
        tasks = stored["tasks"]
        assert stored["status"] == "RUNNING" and stored["next_task"] == index, key
        assert [tasks[f"t{i}"]["status"] for i in range(index)] == ["SUCCEEDED"] * index, key
        assert tasks[f"t{index}"]["status"] == "RUNNING", key
        # and their events are out before the task acts
        assert published.count("task.succeeded") == index and published.count("task.running") == index + 1, key
    job = await instance_store.job(deps.db, created["job_id"])
    assert job is not None and job.status == "SUCCEEDED" and job.runner is None


async def test_tasks_without_side_effects_that_end_at_once_share_one_transaction_with_the_same_events(lifecycle):
    broker, deps = lifecycle
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, replica=2))
    mark = len(deps.js.published)
    transactions = count_transactions(deps)
    assert await deps.job_runner.run(created["job_id"]) is RunOutcome.DONE

    assert transactions[0] == 1  # (the claim is one atomic write, outside a transaction)
    assert types_since(deps, mark) == [
        "job.running",
        "instance.status_changed",
        "task.running",
        "task.succeeded",
        "task.running",
        "task.progress",
        "task.succeeded",
        "task.running",
        "task.succeeded",
        "task.running",
        "task.progress",
        "instance.status_changed",
        "task.progress",
        "instance.status_changed",
        "task.succeeded",
        "job.succeeded",
        "instance.status_changed",
    ]
    seqs = [e.data["seq"] for e in deps.js.published[mark:] if e.type.split(".")[-2] in ("job", "task")]
    assert seqs == list(range(1, len(seqs) + 1))
    detail = (await _ok(broker, ComponentInstances.GET, _ref(target, created["instance_id"])))["status_detail"]
    assert (detail["status"], detail["available_replica"], detail["last_job_status"]) == ("RUNNING", 2, "SUCCEEDED")


async def _stored_task_statuses(deps: LifecycleDeps, job_id: str) -> list[str]:
    job = await instance_store.job(deps.db, job_id)
    assert job is not None
    return [job.task(i).status.value for i in range(len(job.plan))]


async def _wait_for(what: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await what():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_long_task_without_side_effects_is_shown_running_while_it_runs(lifecycle):
    broker, deps = lifecycle
    use_driver(deps, SimulatedDriver(task_seconds=1.0))
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, replica=1))
    job_id = created["job_id"]
    run = asyncio.create_task(deps.job_runner.run(job_id))
    try:

        async def first_task_running() -> bool:
            return (await _stored_task_statuses(deps, job_id))[0] == "RUNNING"

        await _wait_for(first_task_running, timeout=0.9)  # well before the task's second is up
        assert not run.done()
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


async def test_a_forced_delete_stops_a_job_of_slow_tasks_without_side_effects_at_a_task_boundary(lifecycle):
    broker, deps = lifecycle
    use_driver(deps, SimulatedDriver(task_seconds=0.3))
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, replica=1))
    iid, deploy = created["instance_id"], created["job_id"]
    mark = len(deps.js.published)
    run = asyncio.create_task(deps.job_runner.run(deploy))

    async def first_task_running() -> bool:
        return (await _stored_task_statuses(deps, deploy))[0] == "RUNNING"

    await _wait_for(first_task_running)
    delete = (await _ok(broker, ComponentInstances.DELETE, DeleteInstance.model_validate({**_ref(target, iid), "force": True})))["job_id"]
    assert await asyncio.wait_for(run, 10) is RunOutcome.DONE

    statuses = await _stored_task_statuses(deps, deploy)
    assert statuses[0] == "SUCCEEDED" and statuses[-1] == "CANCELLED", statuses
    assert types_since(deps, mark).count("job.cancelled") == 1
    assert await deps.job_runner.run(delete) is RunOutcome.DONE  # the delete job took the instance over
    gone = await instance_store.by_id(deps.db, iid)
    assert gone is None


async def test_a_runner_whose_lease_was_taken_writes_nothing_more(lifecycle):
    broker, deps = lifecycle
    driver = ActingDriver(deps)
    use_driver(deps, driver)
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, replica=1))
    job_id = created["job_id"]

    async def taken_over(key: str) -> None:
        if key == "pull_artifact":  # another runner took the lease while this one was paused
            await deps.db["instance_jobs"].update_one({"_id": job_id}, {"$set": {"runner": "another-runner"}})

    driver.before_acting = taken_over
    with pytest.raises(LeaseLost):
        await deps.job_runner.run(job_id)

    assert [key for key, _, _ in driver.seen] == ["prepare", "pull_artifact"]  # it acted no further
    assert await _stored_task_statuses(deps, job_id) == ["SUCCEEDED", "RUNNING", "SUBMITTED", "SUBMITTED"]
    job = await instance_store.job(deps.db, job_id)
    assert job is not None and job.runner == "another-runner" and job.status == "RUNNING"


async def test_a_job_that_no_longer_holds_its_instance_leaves_it_alone(lifecycle):
    broker, deps = lifecycle
    driver = ActingDriver(deps)
    use_driver(deps, driver)
    target = await _target(broker)
    created = await _ok(broker, ComponentInstances.CREATE, _create(target, replica=1))
    iid, job_id = created["instance_id"], created["job_id"]

    async def lock_taken(key: str) -> None:
        if key == "wait_healthy":  # (nothing but the job holding it writes an instance; say something did)
            await deps.db["instances"].update_one({"_id": iid}, {"$set": {"active_job_id": "JOB-other"}})

    driver.before_acting = lock_taken
    mark = len(deps.js.published)
    assert await deps.job_runner.run(job_id) is RunOutcome.DONE

    types = types_since(deps, mark)
    assert types[-1] == "job.succeeded"  # no instance event after the lock was taken: it was not written
    assert types.count("instance.status_changed") == 1  # (the job's start, while it held it)
    stored = await instance_store.by_id(deps.db, iid)
    assert stored is not None and stored.active_job_id == "JOB-other"
    assert stored.instance.status_detail.available_replica == 0 and stored.instance.status_detail.last_job_status == "RUNNING"
