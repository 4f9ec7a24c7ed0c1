"""The registry's fast path (workers/fast_path.py): ``instance.heartbeat``, ``instance.find`` and
``instance.register`` served on plain nats-py.

The first two are polled by every client all the time; clients re-register their instances
periodically too, mostly with nothing changed. FastStream's per-message machinery (decoding,
dependency injection, middlewares) costs several times what answering from memory does, so a
registry process subscribes these subjects itself (same subjects, same queue group
``registry``, same payloads and replies, a connection of its own) and calls their one handler:

* the message is answered **synchronously** when memory suffices, by the handler's own first
  step (:func:`~workers.registry.heartbeats.heartbeat_from_memory`,
  :func:`~workers.registry.discovery.find_from_memory`): a heartbeat for a known instance (the
  lease is only marked renewed), a find whose answer is cached (the 200 or 304 reply bytes are
  sent as they are);
* otherwise the command is validated by its model and a task runs the handler itself
  (:func:`~workers.registry.heartbeats.heartbeat`, :func:`~workers.registry.discovery.find_instances`:
  one MongoDB read or more), so a slow message never holds up the next.

The handlers' FastStream subscribers (their modules' ``fast_path_router``) are what the bus
documentation and the in-process handler tests see; the running worker does not start them
(workers/registry/app.py), so every message of these subjects takes this path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from nats.aio.msg import Msg
from pydantic import BaseModel

from services.contracts import subjects
from services.contracts.registry import FindInstancesCommand, HeartbeatCommand, RegisterInstanceCommand
from services.contracts.registry_errors import invalid_params
from services.contracts.subjects import REGISTRY, Registry
from workers.fast_path import Answer, Later, PlainSubjects
from workers.registry import discovery, heartbeats, microservice_instances
from workers.registry.deps import RegistryDeps
from workers.registry.replies import failure

# (deps, project, the command's fields as decoded, the command's bytes) -> the reply bytes; or
# what is left to run in a task (the step validated the command already); or None: the handler
MemoryAnswer = Callable[[RegistryDeps, str, dict[str, Any], bytes], "bytes | Later | None"]
Handler = Callable[[Any, str, RegistryDeps], Awaitable[bytes]]


@dataclass(frozen=True)
class FastSubject:
    action: str
    command: type[BaseModel]
    from_memory: MemoryAnswer
    handler: Handler


def _heartbeat_from_memory(deps: RegistryDeps, project: str, fields: dict[str, Any], _payload: bytes) -> bytes | None:
    return heartbeats.heartbeat_from_memory(deps, project, fields.get("service_id"), fields.get("instance_id"))


def _find_from_memory(deps: RegistryDeps, project: str, fields: dict[str, Any], _payload: bytes) -> bytes | None:
    get = fields.get
    return discovery.find_from_memory(
        deps, project, get("app_id"), get("service_name"), get("version"), get("environment"), get("tags"), get("consumer_id"), get("rev")
    )


SUBJECTS = (
    FastSubject(Registry.INSTANCE_HEARTBEAT, HeartbeatCommand, _heartbeat_from_memory, heartbeats.heartbeat),
    FastSubject(Registry.INSTANCE_FIND, FindInstancesCommand, _find_from_memory, discovery.find_instances),
    # an unchanged re-registration is a lease renewal from memory; any other registration runs
    # the handler in a task, so concurrent registrations share one batch (workers/registry/registrations.py)
    FastSubject(
        Registry.INSTANCE_REGISTER,
        RegisterInstanceCommand,
        microservice_instances.register_from_memory_fields,
        microservice_instances.register_instance,
    ),
)


class FastPath:
    """The registry's fast subjects on plain nats-py (workers/fast_path.py), answered in the
    registry's own error shape."""

    def __init__(self, deps: RegistryDeps) -> None:
        self.deps = deps
        self.plain = PlainSubjects(REGISTRY, failure)

    @property
    def tasks(self) -> set[asyncio.Task]:
        """The handlers running for messages memory could not answer."""
        return self.plain.tasks

    def answer(self, subject: FastSubject) -> Answer:
        deps = self.deps

        def answer(project: str, payload: bytes) -> tuple[bytes | None, Later | None]:
            try:
                fields = orjson.loads(payload) if payload else {}
                out = subject.from_memory(deps, project, fields, payload) if isinstance(fields, dict) else None
            except Exception as exc:  # not JSON, or a value no cache key can hold
                return failure(invalid_params(f"Unmarshal error: {exc}")), None
            if isinstance(out, bytes):
                return out, None
            if out is not None:  # validated by the memory step: the rest runs in a task
                return None, out

            async def later() -> bytes:
                return await subject.handler(subject.command.model_validate(fields), project, deps)

            return None, later

        return answer

    def on_message(self, subject: FastSubject) -> Callable[[Msg], Awaitable[None]]:
        """The subscription callback of one fast subject."""
        return self.plain.serve(self.answer(subject))

    async def subscribe(self, nats_url: str) -> None:
        """Subscribe the fast subjects (queue group ``registry``) on a connection of their own."""
        nc = await self.plain.connect(nats_url, "openstage-registry-fast-path")
        for subject in SUBJECTS:
            await self.plain.subscribe(nc, subjects.command("*", REGISTRY, subject.action), self.answer(subject))
        await nc.flush()

    async def stop(self) -> None:
        """Take no more messages (drain), then cancel the handlers still running."""
        await self.plain.stop()
