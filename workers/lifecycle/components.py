"""Handlers of openstage.cmd.<project>.lifecycle.component.*

A component belongs to exactly one application. Creating one raises its application's
``component_count`` and deleting one lowers it, in the same transaction as the component write,
so the count is always the number of components; creating a component in an application that is
gone (or being deleted concurrently) fails as a whole.

Deleting one that has instances is refused (400 SVCSTG.00100402) unless ``force=true``: then, in
one transaction, the delete jobs of its instances are queued (``deps.delete_guards.component_force``)
and the component is marked being deleted (``status`` 1, event ``component.deleting``); the job
that removes its last instance deletes it in its own last transaction (``DeletedAfterInstances``,
the job runner's hook), with ``component.deleted``. The caller follows the instances' jobs
(``status_detail.last_job_id`` of each instance, ``GET /v2/{project_id}/cas/jobs/{job_id}``, or the
``io.openstage.lifecycle.job.*`` events) and sees the component 404 once it is gone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from faststream import Context, Path
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.store.applications import add_components
from services.adapters.store.component_instances import names_of_component
from services.adapters.store.components import COMPONENTS, instance_overviews
from services.contracts.component_instances import Instance
from services.contracts.components import (
    Component,
    ComponentList,
    ComponentOverview,
    ComponentOverviewList,
    ComponentRef,
    CreateComponent,
    DeleteComponent,
    ListComponents,
    UpdateComponent,
)
from services.contracts.envelope import Reply
from services.contracts.errors import ServiceError
from services.contracts.events import CloudEvent
from services.contracts.subjects import LIFECYCLE, Lifecycle
from services.domain.lifecycle import components as rules
from workers.lifecycle.crud import EntityWrites, Session, Step
from workers.lifecycle.deps import LifecycleDeps
from workers.runtime import command_router, on_command

router = command_router()
# component.create/get/list: served by the fast path's own subscription at run time (workers/lifecycle/fast_path.py)
fast_path_router = command_router()
COMPONENT_WRITES = EntityWrites(
    "component", COMPONENTS, lambda c: f"/v2/{c.project_id}/cas/applications/{c.application_id}/components/{c.id}"
)
# {CloudEvents type: model of the event's data} (for the bus documentation)
# ("deleting": a forced delete marked the component and queued its instances' delete jobs)
EVENTS = COMPONENT_WRITES.event_models("created", "updated", "deleting", "deleted")


def _count_in_application(deps: LifecycleDeps, delta: int) -> Step[Component]:
    """A step of the component's transaction: its application's ``component_count`` += delta
    (404 when the application does not exist in this project)."""

    async def count(component: Component, session: Session) -> None:
        await add_components(deps.db, component.project_id, component.application_id, delta, session)

    return count


@on_command(fast_path_router, LIFECYCLE, Lifecycle.COMPONENT_CREATE, "Create a component in an application", reply=Component)
async def create_component(body: CreateComponent, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    component = rules.new_component(
        project, body.application_id, uuid.uuid4().hex, body.body, body.creator, deps.clock.millis(), build_id=uuid.uuid4().hex
    )
    return Reply.ok(await COMPONENT_WRITES.create(deps, component, first=_count_in_application(deps, +1)))


async def _components_page(deps: LifecycleDeps, project: str, body: ListComponents) -> tuple[int, list[Component]]:
    await deps.reads.applications.get(project, body.application_id)  # 404 for an unknown application
    return await deps.reads.components.page(body, project, body.application_id)


@on_command(fast_path_router, LIFECYCLE, Lifecycle.COMPONENT_LIST, "List an application's components", reply=ComponentList)
async def list_components(body: ListComponents, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    total, components = await _components_page(deps, project, body)
    return Reply.ok(ComponentList(count=total, components=components))


def list_components_from_memory(deps: LifecycleDeps, project: str, body: ListComponents) -> bytes | None:
    """``list_components``' result as JSON when the application and its components are in memory."""
    reads = deps.reads
    if reads.applications.cached(project, body.application_id) is None:
        return None
    return reads.components.cached_page_json(body, project, body.application_id)


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_OVERVIEWS, "Components with their instances", reply=ComponentOverviewList)
async def list_component_overviews(body: ListComponents, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    total, components = await _components_page(deps, project, body)
    instances = await instance_overviews(deps.db, project, body.application_id, [c.id for c in components])
    overviews = [ComponentOverview(**c.model_dump(), instances=instances.get(c.id, [])) for c in components]
    return Reply.ok(ComponentOverviewList(count=total, components=overviews))


@on_command(fast_path_router, LIFECYCLE, Lifecycle.COMPONENT_GET, "Show a component", reply=Component)
async def get_component(body: ComponentRef, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    return Reply.ok(await deps.reads.components.get(project, body.application_id, body.component_id))


def get_component_from_memory(deps: LifecycleDeps, project: str, body: ComponentRef) -> bytes | None:
    """``get_component``'s result as JSON when the component is in memory."""
    return deps.reads.components.cached_json(project, body.application_id, body.component_id)


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_UPDATE, "Change a component's name, description, source or build", reply=Component)
async def update_component(body: UpdateComponent, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    changed = await COMPONENT_WRITES.change(
        deps,
        (project, body.application_id, body.component_id),
        lambda c: rules.modified(c, body.body, deps.clock.millis(), build_id=uuid.uuid4().hex),
    )
    return Reply.ok(changed)


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_DELETE, "Delete a component (force=true: its instances first)", reply=None)
async def delete_component(body: DeleteComponent, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    key = (project, body.application_id, body.component_id)
    cascade = deps.delete_guards.component_force
    if not body.force or cascade is None:
        # the guards refuse a component with instances (400 SVCSTG.00100402)
        await COMPONENT_WRITES.delete(deps, key, deps.delete_guards.component, first=_count_in_application(deps, -1))
        return Reply.ok(None, status=204)

    async def write(session: Session) -> tuple[None, list[CloudEvent]]:
        component = await COMPONENTS.get(deps.db, *key, session=session)
        now = deps.clock.millis()
        queued = await cascade(project, body.application_id, body.component_id, body.creator, now, session)
        if not await names_of_component(deps.db, *key, session=session):
            return None, await _delete_now(deps.db, component, session)  # nothing to wait for
        marked = rules.marked_for_deletion(component, now)
        if marked == component:  # already being deleted: only the instances not being deleted yet were queued
            return None, queued
        await COMPONENTS.replace(deps.db, marked, session)
        return None, [COMPONENT_WRITES.event(marked, "deleting"), *queued]

    await deps.outbox.transaction(write)
    return Reply.ok(None, status=204)


async def _delete_now(db: AsyncDatabase, component: Component, session: Session) -> list[CloudEvent]:
    """Delete the component (and count it out of its application) in ``session``; its event."""
    await COMPONENTS.delete(db, *COMPONENTS.key_of(component), session=session)
    await add_components(db, component.project_id, component.application_id, -1, session)
    return [COMPONENT_WRITES.event(component, "deleted")]


@dataclass(frozen=True)
class DeletedAfterInstances:
    """The end of a forced delete (the job runner's InstanceRemoved hook, registered in
    app.compose): when a delete job removes the last instance of a component being deleted, the
    same transaction deletes the component. A failed instance delete leaves the component being
    deleted (``status`` 1) with that instance; ``DELETE ...?force=true`` again queues its delete."""

    db: AsyncDatabase

    async def instance_removed(self, inst: Instance, session: Session) -> list[CloudEvent]:
        key = (inst.project_id, inst.application_id, inst.component_id)
        try:
            component = await COMPONENTS.get(self.db, *key, session=session)
        except ServiceError:
            return []
        if not rules.being_deleted(component) or await names_of_component(self.db, *key, session=session):
            return []
        return await _delete_now(self.db, component, session)
