"""The jobs worker in-process: the tracker folds job and task events as they come off the stream
(redelivered, out of order, foreign ones mixed in) and ``jobs.job.get`` serves the folded job."""

from __future__ import annotations

import random
import uuid

import pytest

from services.contracts import errors
from services.contracts.jobs import JobDetail, ShowJob
from services.contracts.subjects import JOBS, Jobs
from services.domain.jobs import fold
from tests.handlers.conftest import call, handler_broker
from tests.support.job_events import Delivered, job_run
from workers.jobs.app import ROUTERS, compose
from workers.jobs.deps import JobsDeps

P = "p1"


@pytest.fixture
async def jobs(base_deps):
    deps = await compose(await base_deps(JOBS))
    async with handler_broker(ROUTERS, deps) as broker:
        yield broker, deps


async def _deliver(deps: JobsDeps, event: dict | bytes) -> str | None:
    msg = Delivered(event)
    assert deps.tracker is not None
    await deps.tracker.handle(msg)  # type: ignore[arg-type]
    return msg.settled


async def test_the_tracker_folds_any_order_and_the_query_serves_the_job(jobs):
    broker, deps = jobs
    job_id = f"JOB{uuid.uuid4()}"
    events = job_run(P, job_id, fail_at=1)
    mixed = events + events[:3]
    random.Random(5).shuffle(mixed)
    for event in mixed:
        assert await _deliver(deps, event) == "ack"

    reply = await call(broker, P, JOBS, Jobs.GET, ShowJob(job_id=job_id))
    assert reply.status == 200
    assert reply.result == fold.wire(fold.detail(fold.fold(events)))
    detail = JobDetail.model_validate(reply.result)
    assert detail.job.execution_status == "FAILED" and detail.job.job_type == "PROVISION"
    assert [t.task_status for t in detail.tasks] == ["SUCCEEDED", "FAILED", "SKIPPED", "SKIPPED"]
    assert reply.result["job"]["ORDER_ID"] is None  # the wire keeps the SDK's null fields

    page = await call(broker, P, JOBS, Jobs.GET, ShowJob(job_id=job_id, limit=2, offset=1, desc="true"))
    assert page.result["task_count"] == 4 and [t["TASK_INDEX"] for t in page.result["tasks"]] == [2, 1]


async def test_a_fetched_batch_folds_each_jobs_events_in_one_write(jobs):
    broker, deps = jobs
    first, second = f"JOB{uuid.uuid4()}", f"JOB{uuid.uuid4()}"
    events = job_run(P, first) + job_run(P, second, fail_at=0)
    batch = [Delivered(e) for e in [*events, *events[:2]]] + [Delivered(b"{not json")]  # redelivered ones and junk mixed in
    random.Random(7).shuffle(batch)
    assert deps.tracker is not None
    await deps.tracker.handle_batch(batch)  # type: ignore[arg-type]

    assert sorted(str(m.settled) for m in batch) == ["ack"] * (len(events) + 2) + ["term"]
    for job_id, status in ((first, "SUCCEEDED"), (second, "FAILED")):
        reply = await call(broker, P, JOBS, Jobs.GET, ShowJob(job_id=job_id))
        assert reply.result == fold.wire(fold.detail(fold.fold([e for e in events if e["data"]["job_id"] == job_id])))
        assert reply.result["job"]["EXECUTION_STATUS"] == status
        stored = await deps.db["jobs"].find_one({"_id": job_id})
        assert stored["rev"] == 1  # one write per job for the whole batch


async def test_unknown_jobs_and_foreign_events(jobs):
    broker, deps = jobs
    job_id = f"JOB{uuid.uuid4()}"
    for event in job_run(P, job_id):
        await _deliver(deps, event)

    other_instance = await call(broker, P, JOBS, Jobs.GET, ShowJob(job_id=job_id, instance_id="someone-else"))
    assert other_instance.status == 404 and other_instance.error.error_code == errors.JOB_NOT_FOUND
    assert (await call(broker, "p2", JOBS, Jobs.GET, ShowJob(job_id="JOB-unknown"))).status == 404
    assert (await call(broker, P, JOBS, Jobs.GET, {"job_id": "no such/id"})).status == 400

    # not a job event, not JSON, a job event that breaks its contract: settled, nothing folded
    environment_event = {**job_run(P, "JOB-x")[0], "type": "io.openstage.lifecycle.environment.created"}
    assert await _deliver(deps, environment_event) == "ack"
    assert await _deliver(deps, b"{not json") == "term"
    broken = job_run(P, "JOB-broken")[0]
    broken["data"] = {"job_id": "JOB-broken", "project_id": P, "execution_status": "SUBMITTED", "seq": 0}
    assert await _deliver(deps, broken) == "ack"
    assert (await call(broker, P, JOBS, Jobs.GET, ShowJob(job_id="JOB-broken"))).status == 404
    assert (await call(broker, P, JOBS, Jobs.GET, ShowJob(job_id="JOB-x"))).status == 404
