"""What the workers' fast paths share: subjects served on plain nats-py instead of FastStream.

A worker's hottest subjects (the registry's heartbeat, discovery and registration, the lifecycle
reads and creates, the job details) are subscribed on a plain nats-py connection, in the domain's
queue group, with the same payloads and replies as their FastStream subscribers (which stay for
the bus documentation and the in-process handler tests, and are left out of the running broker).
Each message is first offered to a synchronous step that answers from memory; when it cannot, the
subject's one handler runs in a task of its own, so a store round trip never holds up the next
message. The domains' tables of subjects are in ``workers/<domain>/fast_path.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import BaseModel

from services.adapters import bus
from services.contracts.envelope import Reply, reply_with_json
from workers.runtime import command_failure

# The handler's reply, later (run in a task)
Later = Callable[[], Awaitable[bytes]]
# (project, payload) -> (the reply's bytes when answered at once, else None; else what answers later)
Answer = Callable[[str, bytes], "tuple[bytes | None, Later | None]"]
# what a failure of ``Later`` answers (the domain's error shape)
Failure = Callable[[BaseException], bytes]


def failure_reply(exc: BaseException) -> bytes:
    """A command subscriber's answer to ``exc`` (``workers.runtime.command_failure``), as bytes."""
    return command_failure(exc).model_dump_json().encode()


def model_answer(
    command: type[BaseModel], from_memory: Callable[[str, Any], bytes | None], handler: Callable[[Any, str], Awaitable[Reply]]
) -> Answer:
    """The ``Answer`` of a subject whose command is validated by its model first (a refusal is
    answered as the command subscribers answer it), then answered by ``from_memory(project,
    command)`` (the result's JSON, or None) or else by ``handler(command, project)``."""

    def answer(project: str, payload: bytes) -> tuple[bytes | None, Later | None]:
        try:
            validated = command.model_validate_json(payload or b"{}")
        except Exception as exc:
            return failure_reply(exc), None
        result = from_memory(project, validated)
        if result is not None:
            return reply_with_json(result), None

        async def later() -> bytes:
            return (await handler(validated, project)).model_dump_json().encode()

        return None, later

    return answer


class PlainSubjects:
    """The subscriptions of one worker's fast path and the handlers it runs in tasks."""

    def __init__(self, queue: str, failure: Failure = failure_reply) -> None:
        self.queue = queue  # the domain's queue group, shared with its FastStream subscribers
        self.failure = failure
        self.nc: NATS | None = None
        self.own_connection = False
        self.tasks: set[asyncio.Task] = set()  # handlers running for messages memory could not answer

    def serve(self, answer: Answer) -> Callable[[Msg], Awaitable[None]]:
        """The subscription callback of one subject (openstage.cmd.<project>.<domain>.<action>)."""

        async def on_message(msg: Msg) -> None:
            project = msg.subject.split(".", 3)[2]
            out, later = answer(project, msg.data)
            if out is not None:
                if msg.reply:
                    await msg.respond(out)
                return
            if later is not None:
                task = asyncio.create_task(self._respond_later(msg, later))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

        return on_message

    async def _respond_later(self, msg: Msg, later: Later) -> None:
        try:
            out = await later()
        except Exception as exc:  # every failure is a typed reply
            out = self.failure(exc)
        if msg.reply:
            await msg.respond(out)

    async def connect(self, nats_url: str, name: str) -> NATS:
        """A connection of the fast path's own (drained by ``stop``)."""
        self.nc = await bus.connect(nats_url, name=name)
        self.own_connection = True
        return self.nc

    async def subscribe(self, nc: NATS, subject: str, answer: Answer) -> None:
        """Serve ``subject`` (in the queue group) on ``nc`` with ``answer``."""
        self.nc = self.nc or nc
        await nc.subscribe(subject, queue=self.queue, cb=self.serve(answer), pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30)

    async def start(self) -> None:
        """(Subscribed by the composition root, before the broker's subscribers go live.)"""

    async def stop(self) -> None:
        """Take no more messages (its own connection drains), then cancel the handlers still running."""
        with contextlib.suppress(Exception):  # shutting down
            if self.nc is not None and self.own_connection:
                await self.nc.drain()
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.tasks, return_exceptions=True)
