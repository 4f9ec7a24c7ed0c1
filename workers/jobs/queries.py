"""Handler of openstage.cmd.<project>.jobs.job.get (GET /v2/{project_id}/cas/jobs/{job_id})."""

from __future__ import annotations

import asyncio
import re

from faststream import Context, Path

from services.adapters.store import jobs as store
from services.contracts.envelope import Reply
from services.contracts.jobs import JOB_ID_PATTERN, JobDetail, ShowJob
from services.contracts.subjects import JOBS, Jobs
from services.domain.jobs import fold
from workers.jobs.deps import JobsDeps
from workers.runtime import command_router, on_command

router = command_router()
_JOB_ID = re.compile(JOB_ID_PATTERN)
# A job is answered for as soon as it is submitted, but the tracker folds its first event a moment
# later: a well-formed id not found yet is looked up again for up to this long before the 404.
READ_YOUR_WRITES_SECONDS = 2.0


@on_command(router, JOBS, Jobs.GET, "Show a deployment job and its tasks", reply=JobDetail)
async def show_job(body: ShowJob, project: str = Path(), deps: JobsDeps = Context()) -> Reply:
    doc = await store.get(deps.db, project, body.job_id)
    if doc is None and _JOB_ID.match(body.job_id):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_YOUR_WRITES_SECONDS
        while doc is None and loop.time() < deadline:
            await asyncio.sleep(0.05)
            doc = await store.get(deps.db, project, body.job_id)
    if doc is None or (body.instance_id and doc.get("instance_id") != body.instance_id):
        raise store.missing(body.job_id)
    detail = fold.detail(doc, limit=body.limit, offset=body.offset, desc=body.desc.lower() == "true")
    return Reply.ok(fold.wire(detail))
