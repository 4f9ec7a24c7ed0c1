"""Handlers of openstage.cmd.<project>.lifecycle.environment.*"""

from __future__ import annotations

import uuid

from faststream import Context, Path

from services.adapters.store.environments import ENVIRONMENTS
from services.contracts.envelope import Reply
from services.contracts.environments import (
    ChangeEnvironmentResources,
    CreateEnvironment,
    Environment,
    EnvironmentList,
    EnvironmentRef,
    ListEnvironments,
    UpdateEnvironment,
)
from services.contracts.subjects import LIFECYCLE, Lifecycle
from services.domain.lifecycle import entities
from services.domain.lifecycle import environments as rules
from workers.lifecycle.crud import EntityWrites
from workers.lifecycle.deps import LifecycleDeps
from workers.runtime import command_router, on_command

router = command_router()
# environment.create/get/list: served by the fast path's own subscription at run time (workers/lifecycle/fast_path.py)
fast_path_router = command_router()
ENVIRONMENT_WRITES = EntityWrites("environment", ENVIRONMENTS, lambda env: f"/v2/{env.project_id}/cas/environments/{env.id}")
# {CloudEvents type: model of the event's data} (for the bus documentation)
EVENTS = ENVIRONMENT_WRITES.event_models("created", "updated", "resources_changed", "deleted")


@on_command(fast_path_router, LIFECYCLE, Lifecycle.ENVIRONMENT_CREATE, "Create an environment", reply=Environment)
async def create_environment(body: CreateEnvironment, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    env = rules.new_environment(project, uuid.uuid4().hex, body, deps.clock.millis())
    created = await ENVIRONMENT_WRITES.create(deps, env)  # (the event carries its resources)
    return Reply.ok(rules.as_created(created))  # the answer has them empty, as the reference says


@on_command(fast_path_router, LIFECYCLE, Lifecycle.ENVIRONMENT_LIST, "List environments", reply=EnvironmentList)
async def list_environments(body: ListEnvironments, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    total, envs = await deps.reads.environments.page(body, project)
    return Reply.ok(EnvironmentList(count=total, environments=envs))


def list_environments_from_memory(deps: LifecycleDeps, project: str, body: ListEnvironments) -> bytes | None:
    """``list_environments``' result as JSON when the project's environments are in memory."""
    return deps.reads.environments.cached_page_json(body, project)


@on_command(fast_path_router, LIFECYCLE, Lifecycle.ENVIRONMENT_GET, "Show an environment", reply=Environment)
async def get_environment(body: EnvironmentRef, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    return Reply.ok(await deps.reads.environments.get(project, body.environment_id))


def get_environment_from_memory(deps: LifecycleDeps, project: str, body: EnvironmentRef) -> bytes | None:
    """``get_environment``'s result as JSON when the environment is in memory."""
    return deps.reads.environments.cached_json(project, body.environment_id)


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_UPDATE, "Change an environment's name, alias or description", reply=Environment)
async def update_environment(body: UpdateEnvironment, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    changed = await ENVIRONMENT_WRITES.change(
        deps, (project, body.environment_id), lambda env: entities.modified(env, body.body, deps.clock.millis())
    )
    return Reply.ok(changed)


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_CHANGE_RESOURCES, "Add or remove an environment's resources", reply=Environment)
async def change_environment_resources(body: ChangeEnvironmentResources, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    changed = await ENVIRONMENT_WRITES.change(
        deps,
        (project, body.environment_id),
        lambda env: rules.with_resources(env, body.body, deps.clock.millis()),
        verb="resources_changed",
    )
    return Reply.ok(changed)


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_DELETE, "Delete an environment", reply=None)
async def delete_environment(body: EnvironmentRef, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    await ENVIRONMENT_WRITES.delete(deps, (project, body.environment_id), deps.delete_guards.environment)
    return Reply.ok(None, status=204)
