"""Handlers of openstage.cmd.<project>.lifecycle.environment.*"""
from __future__ import annotations

import uuid

from faststream import Path

from services.contracts import subjects
from services.adapters.clock import clock
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
from services.contracts.events import CloudEvent
from services.domain.lifecycle import environments as rules
from services.adapters.store import environments as store
from services.contracts.subjects import LIFECYCLE, Lifecycle
from workers.runtime import command_router, ctx, on_command

router = command_router()
EVENTS = {subjects.event_type(LIFECYCLE, "environment", verb): Environment
          for verb in ("created", "updated", "resources_changed", "deleted")}


def _event(project: str, env: Environment, verb: str) -> CloudEvent:
    return CloudEvent.new(
        project, LIFECYCLE, "environment", verb,
        resource_path=f"/v2/{project}/cas/environments/{env.id}",
        data=env.model_dump(mode="json"),
    )


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_CREATE, "Create an environment")
async def create_environment(body: CreateEnvironment, project: str = Path()) -> Reply:
    env = rules.new_environment(project, uuid.uuid4().hex, body, clock.millis())

    async def write(session):
        await store.insert(ctx.db, env, session)
        return env, [_event(project, env, "created")]

    return Reply.ok(await ctx.outbox.transaction(write))


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_LIST, "List environments")
async def list_environments(body: ListEnvironments, project: str = Path()) -> Reply:
    total, envs = await store.page(ctx.db, project, body)
    return Reply.ok(EnvironmentList(count=total, environments=envs))


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_GET, "Show an environment")
async def get_environment(body: EnvironmentRef, project: str = Path()) -> Reply:
    return Reply.ok(await store.get(ctx.db, project, body.environment_id))


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_UPDATE, "Change an environment's name, alias or description")
async def update_environment(body: UpdateEnvironment, project: str = Path()) -> Reply:
    async def write(session):
        current = await store.get(ctx.db, project, body.environment_id, session=session)
        env = rules.modified(current, body.body, clock.millis())
        await store.replace(ctx.db, env, session)
        return env, [_event(project, env, "updated")]

    return Reply.ok(await ctx.outbox.transaction(write))


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_CHANGE_RESOURCES, "Add or remove an environment's resources")
async def change_environment_resources(body: ChangeEnvironmentResources, project: str = Path()) -> Reply:
    async def write(session):
        current = await store.get(ctx.db, project, body.environment_id, session=session)
        env = rules.with_resources(current, body.body, clock.millis())
        await store.replace(ctx.db, env, session)
        return env, [_event(project, env, "resources_changed")]

    return Reply.ok(await ctx.outbox.transaction(write))


@on_command(router, LIFECYCLE, Lifecycle.ENVIRONMENT_DELETE, "Delete an environment")
async def delete_environment(body: EnvironmentRef, project: str = Path()) -> Reply:
    async def write(session):
        env = await store.get(ctx.db, project, body.environment_id, session=session)
        for guard in ENVIRONMENT_DELETE_GUARDS:
            await guard(project, env.id, session)
        await store.delete(ctx.db, project, env.id, session)
        return None, [_event(project, env, "deleted")]

    await ctx.outbox.transaction(write)
    return Reply.ok(None, status=204)


# Checks run before an environment is deleted (e.g. "no instance deployed in it"). Each raises a
# ServiceError to refuse. The instances module appends its own.
ENVIRONMENT_DELETE_GUARDS: list = []
