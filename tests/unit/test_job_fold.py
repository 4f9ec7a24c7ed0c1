"""The job tracker's fold: any order and any duplication of a job's events give one document."""

from __future__ import annotations

import random

import pytest

from services.domain.jobs import fold
from tests.support.job_events import job_run


def _shuffled_with_duplicates(events: list[dict], rng: random.Random) -> list[dict]:
    mixed = events + [rng.choice(events) for _ in range(len(events))]
    rng.shuffle(mixed)
    return mixed


@pytest.mark.parametrize("fail_at", [None, 1, 3])
def test_order_and_duplicates_do_not_matter(fail_at):
    events = job_run("p1", "JOB1", fail_at=fail_at)
    expected = fold.comparable(fold.fold(events))
    rng = random.Random(7)
    for _ in range(200):
        assert fold.comparable(fold.fold(_shuffled_with_duplicates(events, rng))) == expected


def test_reversed_and_redelivered_events():
    events = job_run("p1", "JOB1")
    expected = fold.comparable(fold.fold(events))
    assert fold.comparable(fold.fold(list(reversed(events)))) == expected
    # an event applied twice (same id) is a no-op
    state = fold.fold(events)
    assert fold.apply(state, events[3]) == state


def test_succeeded_job_detail():
    state = fold.fold(job_run("p1", "JOB1"))
    detail = fold.detail(state)
    assert detail.task_count == 4 and detail.job.execution_status == "SUCCEEDED"
    assert [t.task_status for t in detail.tasks] == ["SUCCEEDED"] * 4
    assert detail.tasks[3].messages == "task 3 done"
    assert detail.job.job_type == "PROVISION" and detail.job.service_instance_id == "inst-1"
    wire = fold.wire(detail)
    assert set(wire) == {"task_count", "job", "tasks"}
    assert wire["job"]["EXECUTION_STATUS"] == "SUCCEEDED" and wire["job"]["JOB_ID"] == "JOB1"
    assert wire["tasks"][0]["TASK_NAME"] == "Prepare deployment" and wire["tasks"][0]["TASK_INDEX"] == 0


def test_failed_job_keeps_the_failing_message_and_skips_the_rest():
    detail = fold.detail(fold.fold(job_run("p1", "JOB1", fail_at=1)))
    assert detail.job.execution_status == "FAILED"
    assert [t.task_status for t in detail.tasks] == ["SUCCEEDED", "FAILED", "SKIPPED", "SKIPPED"]
    assert detail.tasks[1].messages == "boom"


def test_paging_and_order():
    state = fold.fold(job_run("p1", "JOB1"))
    assert [t.task_index for t in fold.detail(state, limit=2, offset=1).tasks] == [1, 2]
    assert [t.task_index for t in fold.detail(state, desc=True).tasks] == [3, 2, 1, 0]
    assert fold.detail(state, limit=2).task_count == 4


def test_partial_stream_is_consistent():
    """Before the terminal event arrives the job shows what it knows (a task in progress)."""
    events = job_run("p1", "JOB1")
    state = fold.fold(events[:8])
    detail = fold.detail(state)
    assert detail.job.execution_status == "RUNNING"
    assert [t.task_status for t in detail.tasks][:2] == ["SUCCEEDED", "SUCCEEDED"]
