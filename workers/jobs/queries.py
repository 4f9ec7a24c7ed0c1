"""Handler of openstage.cmd.<project>.jobs.job.get (GET /v2/{project_id}/cas/jobs/{job_id}),
answered from the job documents this process keeps (workers/jobs/documents.py): at run time by the
fast path (workers/jobs/fast_path.py), synchronously when the document is in memory
(``show_job_from_memory``), else by ``show_job``."""

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
from workers.jobs.documents import Doc, PageKey
from workers.runtime import command_router, on_command

router = command_router()
_JOB_ID = re.compile(JOB_ID_PATTERN)
# A job is answered for as soon as it is submitted, but the tracker folds its first event a moment
# later: a well-formed id not found yet is looked up again for up to this long before the 404
# (at once when a tracker commits it, else every LOOK_AGAIN_SECONDS).
READ_YOUR_WRITES_SECONDS = 2.0
LOOK_AGAIN_SECONDS = 0.05


def _page(body: ShowJob) -> PageKey:
    return (body.limit, body.offset, body.desc.lower() == "true")


def _shown(doc: Doc | None, project: str, body: ShowJob) -> bool:
    """Whether the caller sees this document as the job asked for (its project, its instance)."""
    return doc is not None and doc.get("project_id") == project and (not body.instance_id or doc.get("instance_id") == body.instance_id)


def _wire(doc: Doc, page: PageKey) -> dict:
    limit, offset, desc = page
    return fold.wire(fold.detail(doc, limit=limit, offset=offset, desc=desc))


@on_command(router, JOBS, Jobs.GET, "Show a deployment job and its tasks", reply=JobDetail)
async def show_job(body: ShowJob, project: str = Path(), deps: JobsDeps = Context()) -> Reply:
    documents = deps.documents
    doc = await documents.get(body.job_id)
    if doc is None and _JOB_ID.match(body.job_id):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_YOUR_WRITES_SECONDS
        while doc is None and (left := deadline - loop.time()) > 0:
            await documents.changed(body.job_id, min(left, LOOK_AGAIN_SECONDS))
            doc = await documents.get(body.job_id)
    if doc is None or not _shown(doc, project, body):
        raise store.missing(body.job_id)
    return Reply.ok(_wire(doc, _page(body)))


def show_job_from_memory(deps: JobsDeps, project: str, body: ShowJob) -> bytes | None:
    """``show_job``'s result as JSON when the job's document is in memory and shown to the caller."""
    if not _shown(deps.documents.cached(body.job_id), project, body):
        return None
    page = _page(body)
    return deps.documents.answer(body.job_id, page, lambda doc: _wire(doc, page))
