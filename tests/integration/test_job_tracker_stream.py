"""The job tracker through the real OPENSTAGE_EVENTS stream: duplicated and reordered events
published on the bus give the same job document as the ordered run."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import nats

from services.contracts import subjects
from services.domain.jobs import fold
from tests.support.job_events import job_run


async def _job(nc, project: str, job_id: str) -> dict:
    msg = await nc.request(subjects.command(project, subjects.JOBS, subjects.Jobs.GET), json.dumps({"job_id": job_id}).encode(), timeout=5)
    return json.loads(msg.data)


async def test_duplicated_and_reordered_events_fold_to_the_same_job(running):
    project = "trackerproj"
    job_id = f"JOB{uuid.uuid4()}"
    events = job_run(project, job_id, fail_at=3)
    expected = fold.wire(fold.detail(fold.fold(events)))

    rng = random.Random(3)
    mixed = events + [rng.choice(events) for _ in range(10)]
    rng.shuffle(mixed)
    nc = await nats.connect(running.nats_url)
    try:
        js = nc.jetstream()
        for e in mixed:
            # no Nats-Msg-Id: the stream keeps the duplicates, the tracker must ignore them
            await js.publish(e["openstagesubject"], json.dumps(e).encode())
        reply = None
        for _ in range(100):
            reply = await _job(nc, project, job_id)
            if reply.get("status") == 200 and reply["result"] == expected:
                break
            await asyncio.sleep(0.05)
        assert reply["status"] == 200, reply
        assert reply["result"] == expected
        assert reply["result"]["job"]["EXECUTION_STATUS"] == "FAILED"
        assert [t["TASK_STATUS"] for t in reply["result"]["tasks"]] == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"]

        # an unknown job is a 404; another project does not see the job
        assert (await _job(nc, project, "JOB-unknown"))["status"] == 404
        assert (await _job(nc, "otherproj", job_id))["status"] == 404
    finally:
        await nc.close()
