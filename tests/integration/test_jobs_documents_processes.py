"""Job documents kept in memory by several jobs processes (workers/jobs/documents.py): a job folded
by one process's tracker is answered by another process as soon as that commit is noticed, never
from a stale memory. The running jobs worker is one process; this test's own tracker and
documents, on the same store and bus, are the other."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats

from services.adapters.store import mongo
from services.contracts import subjects
from services.domain.jobs import fold
from tests.support.job_events import Delivered, job_run
from workers.jobs.documents import JobDocuments
from workers.jobs.tracker import Tracker


def _expected(events: list[dict]) -> dict:
    return fold.wire(fold.detail(fold.fold(events)))  # type: ignore[arg-type]


async def _shown_by_worker(nc, project: str, job_id: str, expected: dict, within: float = 5.0) -> dict:
    """The worker's answer for the job once it equals ``expected`` (else the last one, after ``within`` s)."""
    reply: dict = {}
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        msg = await nc.request(
            subjects.command(project, subjects.JOBS, subjects.Jobs.GET), json.dumps({"job_id": job_id}).encode(), timeout=5
        )
        reply = json.loads(msg.data)
        if reply.get("status") == 200 and reply["result"] == expected:
            break
        await asyncio.sleep(0.02)
    return reply


async def test_a_job_folded_by_another_process_is_never_answered_from_stale_memory(running):
    project = "docsproj"
    nc = await nats.connect(running.nats_url)
    db = mongo.connect(running.mongodb_url, mongo.database_name("openstage", subjects.JOBS))
    documents = JobDocuments(db)
    await documents.subscribe(running.nats_url)
    try:
        js = nc.jetstream()
        here = Tracker(db, js, documents)  # the other tracker process

        # 1. the worker's tracker folds the first events; the worker keeps the job in memory
        first = f"JOB{uuid.uuid4()}"
        events = job_run(project, first)
        for e in events[:3]:
            await js.publish(e["openstagesubject"], json.dumps(e).encode(), headers={"Nats-Msg-Id": e["id"]})
        assert (await _shown_by_worker(nc, project, first, _expected(events[:3])))["result"] == _expected(events[:3])

        # 2. the other tracker folds the rest (they never reach the worker's tracker): the worker
        #    answers the whole job once the commit is noticed, not what it kept
        delivered = [Delivered(e) for e in events[3:]]
        await here.handle_batch(delivered)  # type: ignore[arg-type]
        assert {m.settled for m in delivered} == {"ack"}
        reply = await _shown_by_worker(nc, project, first, _expected(events), within=2.0)
        assert reply["result"] == _expected(events)
        assert reply["result"]["job"]["EXECUTION_STATUS"] == "SUCCEEDED"

        # 3. the other way round: this process keeps a job, the worker's tracker folds more of it
        second = f"JOB{uuid.uuid4()}"
        events = job_run(project, second, fail_at=2)
        for e in events[:2]:
            await js.publish(e["openstagesubject"], json.dumps(e).encode(), headers={"Nats-Msg-Id": e["id"]})
        await _shown_by_worker(nc, project, second, _expected(events[:2]))
        kept = await documents.get(second)
        assert kept is not None and fold.wire(fold.detail(kept)) == _expected(events[:2])
        assert documents.cached(second) is not None
        for e in events[2:]:
            await js.publish(e["openstagesubject"], json.dumps(e).encode(), headers={"Nats-Msg-Id": e["id"]})
        await _shown_by_worker(nc, project, second, _expected(events))
        for _ in range(100):  # the worker's notice drops what this process kept
            if documents.cached(second) is None:
                break
            await asyncio.sleep(0.02)
        now = await documents.get(second)
        assert now is not None and fold.wire(fold.detail(now)) == _expected(events)
        assert now["status"] == "FAILED"
    finally:
        await documents.stop()
        await nc.close()
        await db.client.close()  # a coroutine in PyMongo async
