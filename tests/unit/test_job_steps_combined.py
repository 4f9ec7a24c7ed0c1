"""Consecutive job steps written as one update (services/domain/jobs/transitions.py ``combined``):
the stored job ends exactly as if each step had been written in turn."""

from __future__ import annotations

from services.adapters.store.component_instances import _set as stored_changes
from services.contracts.jobs import ExecutionStatus, JobUpdate, TaskChange
from services.domain.jobs import transitions as jobs
from tests.unit.test_job_transitions import NOW, instance, job

E = ExecutionStatus


def _steps_of_a_deploy() -> list[jobs.JobStep]:
    """Every step of a deploy that succeeds, as the runner decides them."""
    current = job(before=instance("INITIALIZING", replica=2, available=0))
    steps = [jobs.started(current, NOW)]
    for index in range(len(current.plan)):
        steps.append(jobs.task_started(steps[-1].job, index, "started", NOW + index))
        if index == len(current.plan) - 1:
            steps.append(jobs.task_progress(steps[-1].job, index, "1/2 replicas available", 1, NOW + index))
        steps.append(jobs.task_succeeded(steps[-1].job, index, "done", 2 if index == len(current.plan) - 1 else None, NOW + index))
    steps.append(jobs.finished(steps[-1].job, E.SUCCEEDED, NOW + 10))
    return steps


def test_a_combined_update_leaves_the_job_as_the_steps_one_by_one():
    first = job(before=instance("INITIALIZING", replica=2, available=0))
    steps = _steps_of_a_deploy()
    one_by_one = first
    for step in steps:
        one_by_one = one_by_one.applied(step.update)
    assert first.applied(jobs.combined([s.update for s in steps])) == one_by_one == steps[-1].job
    # any run of consecutive steps too (what the runner writes between two tasks with side effects)
    for cut in range(1, len(steps)):
        head, tail = steps[:cut], steps[cut:]
        assert first.applied(jobs.combined([s.update for s in head])).applied(jobs.combined([s.update for s in tail])) == one_by_one


def test_the_later_value_of_a_field_or_of_a_task_field_wins_and_nothing_else_is_written():
    update = jobs.combined(
        [
            JobUpdate(seq=1, status=E.RUNNING, tasks={0: TaskChange(status=E.RUNNING, messages="started")}),
            JobUpdate(seq=2, tasks={0: TaskChange(messages="half way")}),
            JobUpdate(seq=3, next_task=1, tasks={0: TaskChange(status=E.SUCCEEDED), 1: TaskChange(status=E.RUNNING)}),
        ]
    )
    assert stored_changes(update) == {
        "seq": 3,
        "status": "RUNNING",
        "next_task": 1,
        "tasks.t0.status": "SUCCEEDED",
        "tasks.t0.messages": "half way",
        "tasks.t1.status": "RUNNING",
    }
    # a field given as None is written as None (the lease let go), one never given is left alone
    released = jobs.combined([JobUpdate(runner="r1", lease_until=5), JobUpdate(runner=None)])
    assert stored_changes(released) == {"runner": None, "lease_until": 5}
    assert stored_changes(jobs.combined([])) == {}
