"""The jobs worker's fast path: ``jobs.job.get`` served on plain nats-py, as the lifecycle and
registry workers serve their hottest reads (workers/lifecycle/fast_path.py): same subject, same
queue group ``jobs``, same payloads and replies, on the connection of the job documents
(workers/jobs/documents.py).

* the command is validated by its model (a refusal answers as the command subscriber does);
* it is answered **synchronously** when the job's document is in memory (``show_job_from_memory``:
  its JSON, kept ready per page asked);
* otherwise a task runs ``show_job`` itself (it reads the store, or waits for a job just
  submitted), so a slow message never holds up the next.

The handler's FastStream subscriber (``queries.router``) is what the bus documentation and the
in-process handler tests see; the running worker does not start it (workers/jobs/app.py)."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from services.contracts import subjects
from services.contracts.envelope import reply_with_json
from services.contracts.jobs import ShowJob
from services.contracts.subjects import JOBS, Jobs
from workers.jobs import queries
from workers.jobs.deps import JobsDeps
from workers.runtime import command_failure


def answer_from_memory(deps: JobsDeps, project: str, payload: bytes) -> tuple[bytes | None, ShowJob | None]:
    """(the reply's bytes when validation refuses the command or memory answers it, else None;
    the command). Pure of I/O."""
    try:
        command = ShowJob.model_validate_json(payload or b"{}")
    except Exception as exc:  # as the command subscriber refuses it
        return command_failure(exc).model_dump_json().encode(), None
    result = queries.show_job_from_memory(deps, project, command)
    return (reply_with_json(result) if result is not None else None), command


class JobsFastPath:
    def __init__(self, deps: JobsDeps) -> None:
        self.deps = deps
        self.tasks: set[asyncio.Task] = set()  # handlers running for messages memory could not answer

    async def _answer_from_handler(self, msg: Msg, project: str, command: ShowJob) -> None:
        try:
            reply = await queries.show_job(command, project, self.deps)
        except Exception as exc:  # every failure is a typed reply
            reply = command_failure(exc)
        if msg.reply:
            await msg.respond(reply.model_dump_json().encode())

    async def on_message(self, msg: Msg) -> None:
        # openstage.cmd.<project>.jobs.job.get
        project = msg.subject.split(".", 3)[2]
        out, command = answer_from_memory(self.deps, project, msg.data)
        if out is not None:
            if msg.reply:
                await msg.respond(out)
            return
        assert command is not None
        task = asyncio.create_task(self._answer_from_handler(msg, project, command))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def subscribe(self, nc: NATS) -> None:
        """Subscribe ``jobs.job.get`` (queue group ``jobs``) on ``nc``."""
        await nc.subscribe(
            subjects.command("*", JOBS, Jobs.GET), queue=JOBS, cb=self.on_message, pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30
        )
        await nc.flush()

    async def start(self) -> None:
        """(Subscribed by ``compose``, before the broker's subscribers go live: nothing to start.)"""

    async def stop(self) -> None:
        """Cancel the handlers still running (the documents' connection is drained after)."""
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.tasks, return_exceptions=True)
