"""Handlers of openstage.cmd.<project>.lifecycle.application.*"""

from __future__ import annotations

import uuid

from faststream import Context, Path

from services.adapters.store.applications import APPLICATIONS
from services.adapters.store.components import COMPONENTS
from services.contracts.applications import (
    Application,
    ApplicationList,
    ApplicationRef,
    CreateApplication,
    ListApplications,
    UpdateApplication,
)
from services.contracts.envelope import Reply
from services.contracts.subjects import LIFECYCLE, Lifecycle
from services.domain.lifecycle import applications as rules
from services.domain.lifecycle import entities
from workers.lifecycle.crud import EntityWrites, Session
from workers.lifecycle.deps import LifecycleDeps
from workers.runtime import command_router, on_command

router = command_router()
# application.create/get/list: served by the fast path's own subscription at run time (workers/lifecycle/fast_path.py)
fast_path_router = command_router()
APPLICATION_WRITES = EntityWrites("application", APPLICATIONS, lambda app: f"/v2/{app.project_id}/cas/applications/{app.id}")
# {CloudEvents type: model of the event's data} (for the bus documentation)
EVENTS = APPLICATION_WRITES.event_models("created", "updated", "deleted")


@on_command(fast_path_router, LIFECYCLE, Lifecycle.APPLICATION_CREATE, "Create an application", reply=Application)
async def create_application(body: CreateApplication, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    app = rules.new_application(project, uuid.uuid4().hex, body, deps.clock.millis())
    return Reply.ok(await APPLICATION_WRITES.create(deps, app))


@on_command(fast_path_router, LIFECYCLE, Lifecycle.APPLICATION_LIST, "List applications", reply=ApplicationList)
async def list_applications(body: ListApplications, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    total, apps = await deps.reads.applications.page(body, project)
    return Reply.ok(ApplicationList(count=total, applications=apps))


def list_applications_from_memory(deps: LifecycleDeps, project: str, body: ListApplications) -> bytes | None:
    """``list_applications``' result as JSON when the project's applications are in memory."""
    return deps.reads.applications.cached_page_json(body, project)


@on_command(fast_path_router, LIFECYCLE, Lifecycle.APPLICATION_GET, "Show an application", reply=Application)
async def get_application(body: ApplicationRef, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    return Reply.ok(await deps.reads.applications.get(project, body.application_id))


def get_application_from_memory(deps: LifecycleDeps, project: str, body: ApplicationRef) -> bytes | None:
    """``get_application``'s result as JSON when the application is in memory."""
    return deps.reads.applications.cached_json(project, body.application_id)


@on_command(router, LIFECYCLE, Lifecycle.APPLICATION_UPDATE, "Change an application's name or description", reply=Application)
async def update_application(body: UpdateApplication, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    changed = await APPLICATION_WRITES.change(
        deps, (project, body.application_id), lambda app: entities.modified(app, body.body, deps.clock.millis())
    )
    return Reply.ok(changed)


@on_command(router, LIFECYCLE, Lifecycle.APPLICATION_DELETE, "Delete an application without components", reply=None)
async def delete_application(body: ApplicationRef, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    async def without_components(app: Application, session: Session) -> None:
        # counted, not read from component_count: the components collection is the truth
        rules.check_deletable(app, await COMPONENTS.count(deps.db, project, app.id, session=session))

    await APPLICATION_WRITES.delete(deps, (project, body.application_id), deps.delete_guards.application, first=without_components)
    return Reply.ok(None, status=204)
