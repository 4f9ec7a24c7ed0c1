"""The lifecycle worker's fast path: ``show`` and ``list`` of environments, applications,
components and instances, and the creates of the first three, served on plain nats-py.

They are answered from the read models (workers/lifecycle/read_models.py), and FastStream's
per-message machinery (decoding, dependency injection, middlewares, a thread hand-off) costs
several times what answering from memory does. So a lifecycle process subscribes these subjects
itself (same subjects, same queue group ``lifecycle``, same payloads and replies, a connection of
its own) and calls their one handler, as the registry's fast path does (workers/registry/fast_path.py):

* the command is validated by its model (a refusal answers as the command subscribers do);
* it is answered **synchronously** when memory suffices, by the handler's own first step (the
  ``*_from_memory`` functions next to each handler: the resource's JSON, kept ready);
* otherwise (and always for a create) a task runs the handler itself (it loads the project into
  memory, or asks the store, or writes), so a slow message never holds up the next, and
  concurrent creates share group commits (services/adapters/store/outbox.py).

The handlers' FastStream subscribers (their modules' ``fast_path_router``) are what the bus
documentation and the in-process handler tests see; the running worker does not start them
(workers/lifecycle/app.py), so every message of these subjects takes this path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import BaseModel

from services.adapters import bus
from services.contracts import applications as application_contracts
from services.contracts import component_instances as instance_contracts
from services.contracts import components as component_contracts
from services.contracts import environments as environment_contracts
from services.contracts import subjects
from services.contracts.envelope import Reply, reply_with_json
from services.contracts.subjects import LIFECYCLE, ComponentInstances, Lifecycle
from workers.lifecycle import applications, components, environments
from workers.lifecycle import component_instances as instances
from workers.lifecycle.deps import LifecycleDeps
from workers.runtime import command_failure

# (deps, project, the command) -> the result's JSON, or None: ask the handler
MemoryAnswer = Callable[[LifecycleDeps, str, Any], "bytes | None"]
Handler = Callable[[Any, str, LifecycleDeps], Awaitable[Reply]]


@dataclass(frozen=True)
class FastSubject:
    action: str
    command: type[BaseModel]
    from_memory: MemoryAnswer
    handler: Handler


def _never(deps: LifecycleDeps, project: str, command: Any) -> None:
    """A write: always the handler (in a task, so concurrent creates share group commits)."""
    return None


SUBJECTS = (
    FastSubject(Lifecycle.ENVIRONMENT_CREATE, environment_contracts.CreateEnvironment, _never, environments.create_environment),
    FastSubject(Lifecycle.APPLICATION_CREATE, application_contracts.CreateApplication, _never, applications.create_application),
    FastSubject(Lifecycle.COMPONENT_CREATE, component_contracts.CreateComponent, _never, components.create_component),
    FastSubject(
        Lifecycle.ENVIRONMENT_GET,
        environment_contracts.EnvironmentRef,
        environments.get_environment_from_memory,
        environments.get_environment,
    ),
    FastSubject(
        Lifecycle.ENVIRONMENT_LIST,
        environment_contracts.ListEnvironments,
        environments.list_environments_from_memory,
        environments.list_environments,
    ),
    FastSubject(
        Lifecycle.APPLICATION_GET,
        application_contracts.ApplicationRef,
        applications.get_application_from_memory,
        applications.get_application,
    ),
    FastSubject(
        Lifecycle.APPLICATION_LIST,
        application_contracts.ListApplications,
        applications.list_applications_from_memory,
        applications.list_applications,
    ),
    FastSubject(Lifecycle.COMPONENT_GET, component_contracts.ComponentRef, components.get_component_from_memory, components.get_component),
    FastSubject(
        Lifecycle.COMPONENT_LIST, component_contracts.ListComponents, components.list_components_from_memory, components.list_components
    ),
    FastSubject(ComponentInstances.GET, instance_contracts.InstanceRef, instances.get_instance_from_memory, instances.get_instance),
    FastSubject(ComponentInstances.LIST, instance_contracts.ListInstances, instances.list_instances_from_memory, instances.list_instances),
)


def answer_from_memory(subject: FastSubject, deps: LifecycleDeps, project: str, payload: bytes) -> tuple[bytes | None, Any]:
    """(the reply's bytes when validation refuses the command or memory answers it, else None;
    the command). Pure of I/O: unit-tested against the handler's own answers."""
    try:
        command = subject.command.model_validate_json(payload or b"{}")
    except Exception as exc:  # as the command subscribers refuse it
        return command_failure(exc).model_dump_json().encode(), None
    result = subject.from_memory(deps, project, command)
    return (reply_with_json(result) if result is not None else None), command


class LifecycleFastPath:
    def __init__(self, deps: LifecycleDeps) -> None:
        self.deps = deps
        self.nc: NATS | None = None
        self.tasks: set[asyncio.Task] = set()  # handlers running for messages memory could not answer

    def on_message(self, subject: FastSubject) -> Callable[[Msg], Awaitable[None]]:
        """The subscription callback of one fast subject."""
        deps = self.deps

        async def answer_from_handler(msg: Msg, project: str, command: Any) -> None:
            try:
                reply = await subject.handler(command, project, deps)
            except Exception as exc:  # every failure is a typed reply
                reply = command_failure(exc)
            if msg.reply:
                await msg.respond(reply.model_dump_json().encode())

        async def on_message(msg: Msg) -> None:
            # openstage.cmd.<project>.lifecycle.<entity>.<action>
            project = msg.subject.split(".", 3)[2]
            out, command = answer_from_memory(subject, deps, project, msg.data)
            if out is not None:
                if msg.reply:
                    await msg.respond(out)
                return
            task = asyncio.create_task(answer_from_handler(msg, project, command))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        return on_message

    async def subscribe(self, nats_url: str) -> None:
        """Subscribe the fast subjects (queue group ``lifecycle``) on a connection of their own."""
        self.nc = await bus.connect(nats_url, name="openstage-lifecycle-fast-path")
        for subject in SUBJECTS:
            await self.nc.subscribe(
                subjects.command("*", LIFECYCLE, subject.action),
                queue=LIFECYCLE,
                cb=self.on_message(subject),
                pending_msgs_limit=1_000_000,
                pending_bytes_limit=1 << 30,
            )
        await self.nc.flush()

    async def start(self) -> None:
        """(Subscribed by ``compose``, before the broker's subscribers go live: nothing to start.)"""

    async def stop(self) -> None:
        """Take no more messages (drain), then cancel the handlers still running."""
        with contextlib.suppress(Exception):  # shutting down
            if self.nc is not None:
                await self.nc.drain()
        for task in list(self.tasks):
            task.cancel()
