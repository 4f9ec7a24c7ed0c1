"""The jobs worker's fast path (workers/fast_path.py): ``jobs.job.get`` served on plain nats-py,
same subject, queue group ``jobs``, on the connection of the job documents (workers/jobs/documents.py).

* the command is validated by its model (a refusal answers as the command subscriber does);
* it is answered **synchronously** when the job's document is in memory (``show_job_from_memory``:
  its JSON, kept ready per page asked);
* otherwise a task runs ``show_job`` itself (it reads the store, or waits for a job just
  submitted), so a slow message never holds up the next.

The handler's FastStream subscriber (``queries.router``) is what the bus documentation and the
in-process handler tests see; the running worker does not start it (workers/jobs/app.py)."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from services.contracts import subjects
from services.contracts.jobs import ShowJob
from services.contracts.subjects import JOBS, Jobs
from workers.fast_path import Answer, PlainSubjects, model_answer
from workers.jobs import queries
from workers.jobs.deps import JobsDeps


def answer(deps: JobsDeps) -> Answer:
    """``jobs.job.get``'s answer, bound to this process's deps."""
    return model_answer(
        ShowJob,
        lambda project, cmd: queries.show_job_from_memory(deps, project, cmd),
        lambda cmd, project: queries.show_job(cmd, project, deps),
    )


async def subscribe(deps: JobsDeps, nc: NATS) -> PlainSubjects:
    """Serve ``jobs.job.get`` on ``nc`` (the documents' connection, which they drain)."""
    fast = PlainSubjects(JOBS)
    await fast.subscribe(nc, subjects.command("*", JOBS, Jobs.GET), answer(deps))
    await nc.flush()
    return fast
