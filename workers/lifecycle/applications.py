"""Handlers of openstage.cmd.<project>.lifecycle.application.*"""
from __future__ import annotations

import uuid

from faststream import Path

from services.adapters.clock import clock
from services.contracts.applications import (
    Application,
    ApplicationList,
    ApplicationRef,
    CreateApplication,
    ListApplications,
    UpdateApplication,
)
from services.contracts.envelope import Reply
from services.contracts.events import CloudEvent
from services.domain.lifecycle import applications as rules
from services.adapters.store import applications as store
from services.adapters.store import components as component_store
from services.contracts import subjects
from services.contracts.subjects import LIFECYCLE, Lifecycle
from workers.runtime import command_router, ctx, on_command

router = command_router()
# {CloudEvents type: model of the event's data} (for the bus documentation)
EVENTS = {subjects.event_type(LIFECYCLE, "application", verb): Application for verb in ("created", "updated", "deleted")}


def application_event(project: str, app: Application, verb: str) -> CloudEvent:
    return CloudEvent.new(
        project, LIFECYCLE, "application", verb,
        resource_path=f"/v2/{project}/cas/applications/{app.id}",
        data=app.model_dump(mode="json"),
    )


@on_command(router, LIFECYCLE, Lifecycle.APPLICATION_CREATE, "Create an application")
async def create_application(body: CreateApplication, project: str = Path()) -> Reply:
    app = rules.new_application(project, uuid.uuid4().hex, body, clock.millis())

    async def write(session):
        await store.insert(ctx.db, app, session)
        return app, [application_event(project, app, "created")]

    return Reply.ok(await ctx.outbox.transaction(write))


@on_command(router, LIFECYCLE, Lifecycle.APPLICATION_LIST, "List applications")
async def list_applications(body: ListApplications, project: str = Path()) -> Reply:
    total, apps = await store.page(ctx.db, project, body)
    return Reply.ok(ApplicationList(count=total, applications=apps))


@on_command(router, LIFECYCLE, Lifecycle.APPLICATION_GET, "Show an application")
async def get_application(body: ApplicationRef, project: str = Path()) -> Reply:
    return Reply.ok(await store.get(ctx.db, project, body.application_id))


@on_command(router, LIFECYCLE, Lifecycle.APPLICATION_UPDATE, "Change an application's name or description")
async def update_application(body: UpdateApplication, project: str = Path()) -> Reply:
    async def write(session):
        current = await store.get(ctx.db, project, body.application_id, session=session)
        app = rules.modified(current, body.body, clock.millis())
        await store.update_fields(ctx.db, app, session)
        return app, [application_event(project, app, "updated")]

    return Reply.ok(await ctx.outbox.transaction(write))


@on_command(router, LIFECYCLE, Lifecycle.APPLICATION_DELETE, "Delete an application without components")
async def delete_application(body: ApplicationRef, project: str = Path()) -> Reply:
    async def write(session):
        app = await store.get(ctx.db, project, body.application_id, session=session)
        # counted, not read from component_count: the components collection is the truth
        rules.check_deletable(app, await component_store.count_in_application(ctx.db, project, app.id, session))
        for guard in APPLICATION_DELETE_GUARDS:
            await guard(project, app.id, session)
        await store.delete(ctx.db, project, app.id, session)
        return None, [application_event(project, app, "deleted")]

    await ctx.outbox.transaction(write)
    return Reply.ok(None, status=204)


# Further checks run before an application is deleted, after "no components". Each raises a
# ServiceError to refuse; signature: guard(project_id, application_id, session).
APPLICATION_DELETE_GUARDS: list = []
