"""The lifecycle worker's fast path (workers/fast_path.py): ``show``, ``list`` and ``create`` of
environments, applications, components and instances (an instance's create answers with its deploy job), served
on plain nats-py, queue group ``lifecycle``, connection ``openstage-lifecycle-fast-path``.

* the command is validated by its model (a refusal answers as the command subscribers do);
* a show or list is answered **synchronously** when memory suffices, by the handler's own first
  step (the ``*_from_memory`` functions next to each handler: the resource's JSON, kept ready by
  the read models, workers/lifecycle/read_models.py);
* otherwise (and always for a create) a task runs the handler itself (it loads the project into
  memory, or asks the store, or writes), so a slow message never holds up the next, and
  concurrent creates share group commits (services/adapters/store/outbox.py).

The handlers' FastStream subscribers (their modules' ``fast_path_router``) are what the bus
documentation and the in-process handler tests see; the running worker does not start them
(workers/lifecycle/app.py), so every message of these subjects takes this path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from services.contracts import applications as application_contracts
from services.contracts import component_instances as instance_contracts
from services.contracts import components as component_contracts
from services.contracts import environments as environment_contracts
from services.contracts import subjects
from services.contracts.envelope import Reply
from services.contracts.subjects import LIFECYCLE, ComponentInstances, Lifecycle
from workers.fast_path import Answer, PlainSubjects, model_answer
from workers.lifecycle import applications, components, environments
from workers.lifecycle import component_instances as instances
from workers.lifecycle.deps import LifecycleDeps

# (deps, project, the command) -> the result's JSON, or None: ask the handler
MemoryAnswer = Callable[[LifecycleDeps, str, Any], "bytes | None"]
Handler = Callable[[Any, str, LifecycleDeps], Awaitable[Reply]]


def _never(deps: LifecycleDeps, project: str, command: Any) -> None:
    """A write: always the handler (in a task, so concurrent creates share group commits)."""
    return None


# action -> (its command, its memory step, its handler)
SUBJECTS: dict[str, tuple[type[BaseModel], MemoryAnswer, Handler]] = {
    Lifecycle.ENVIRONMENT_CREATE: (environment_contracts.CreateEnvironment, _never, environments.create_environment),
    Lifecycle.APPLICATION_CREATE: (application_contracts.CreateApplication, _never, applications.create_application),
    Lifecycle.COMPONENT_CREATE: (component_contracts.CreateComponent, _never, components.create_component),
    ComponentInstances.CREATE: (instance_contracts.CreateInstance, _never, instances.create_instance),
    Lifecycle.ENVIRONMENT_GET: (
        environment_contracts.EnvironmentRef,
        environments.get_environment_from_memory,
        environments.get_environment,
    ),
    Lifecycle.ENVIRONMENT_LIST: (
        environment_contracts.ListEnvironments,
        environments.list_environments_from_memory,
        environments.list_environments,
    ),
    Lifecycle.APPLICATION_GET: (
        application_contracts.ApplicationRef,
        applications.get_application_from_memory,
        applications.get_application,
    ),
    Lifecycle.APPLICATION_LIST: (
        application_contracts.ListApplications,
        applications.list_applications_from_memory,
        applications.list_applications,
    ),
    Lifecycle.COMPONENT_GET: (component_contracts.ComponentRef, components.get_component_from_memory, components.get_component),
    Lifecycle.COMPONENT_LIST: (component_contracts.ListComponents, components.list_components_from_memory, components.list_components),
    ComponentInstances.GET: (instance_contracts.InstanceRef, instances.get_instance_from_memory, instances.get_instance),
    ComponentInstances.LIST: (instance_contracts.ListInstances, instances.list_instances_from_memory, instances.list_instances),
}


def answers(deps: LifecycleDeps) -> dict[str, Answer]:
    """Each fast subject's answer, bound to this process's deps."""

    def bound(model: type[BaseModel], from_memory: MemoryAnswer, handler: Handler) -> Answer:
        return model_answer(model, lambda project, cmd: from_memory(deps, project, cmd), lambda cmd, project: handler(cmd, project, deps))

    return {action: bound(*entry) for action, entry in SUBJECTS.items()}


async def subscribe(deps: LifecycleDeps, nats_url: str) -> PlainSubjects:
    """Serve the fast subjects on a connection of their own (``compose`` calls it before the
    broker's subscribers go live)."""
    fast = PlainSubjects(LIFECYCLE)
    nc = await fast.connect(nats_url, "openstage-lifecycle-fast-path")
    for action, answer in answers(deps).items():
        await fast.subscribe(nc, subjects.command("*", LIFECYCLE, action), answer)
    await nc.flush()
    return fast
