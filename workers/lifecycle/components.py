"""Handlers of openstage.cmd.<project>.lifecycle.component.*

A component belongs to exactly one application. Creating one raises its application's
``component_count`` and deleting one lowers it, in the same transaction as the component write,
so the count is always the number of components; creating a component in an application that is
gone (or being deleted concurrently) fails as a whole."""

from __future__ import annotations

import uuid

from faststream import Context, Path

from services.adapters.store.applications import APPLICATIONS, add_components
from services.adapters.store.components import COMPONENTS, instance_overviews
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
from services.contracts.subjects import LIFECYCLE, Lifecycle
from services.domain.lifecycle import components as rules
from workers.lifecycle.crud import EntityWrites, Session, Step
from workers.lifecycle.deps import LifecycleDeps
from workers.runtime import command_router, on_command

router = command_router()
COMPONENT_WRITES = EntityWrites(
    "component", COMPONENTS, lambda c: f"/v2/{c.project_id}/cas/applications/{c.application_id}/components/{c.id}"
)
# {CloudEvents type: model of the event's data} (for the bus documentation)
EVENTS = COMPONENT_WRITES.event_models("created", "updated", "deleted")


def _count_in_application(deps: LifecycleDeps, delta: int) -> Step[Component]:
    """A step of the component's transaction: its application's ``component_count`` += delta
    (404 when the application does not exist in this project)."""

    async def count(component: Component, session: Session) -> None:
        await add_components(deps.db, component.project_id, component.application_id, delta, session)

    return count


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_CREATE, "Create a component in an application", reply=Component)
async def create_component(body: CreateComponent, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    component = rules.new_component(
        project,
        body.application_id,
        uuid.uuid4().hex,
        body.body,
        body.creator,
        deps.clock.millis(),
        build_id=uuid.uuid4().hex,
    )
    return Reply.ok(await COMPONENT_WRITES.create(deps, component, first=_count_in_application(deps, +1)))


async def _components_page(deps: LifecycleDeps, project: str, body: ListComponents) -> tuple[int, list[Component]]:
    await APPLICATIONS.get(deps.db, project, body.application_id)  # 404 for an unknown application
    return await COMPONENTS.page(deps.db, body, project, body.application_id)


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_LIST, "List an application's components", reply=ComponentList)
async def list_components(body: ListComponents, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    total, components = await _components_page(deps, project, body)
    return Reply.ok(ComponentList(count=total, components=components))


@on_command(
    router,
    LIFECYCLE,
    Lifecycle.COMPONENT_OVERVIEWS,
    "List an application's components with their instances",
    reply=ComponentOverviewList,
)
async def list_component_overviews(
    body: ListComponents, project: str = Path(), deps: LifecycleDeps = Context()
) -> Reply:
    total, components = await _components_page(deps, project, body)
    instances = await instance_overviews(deps.db, project, body.application_id, [c.id for c in components])
    overviews = [ComponentOverview(**c.model_dump(), instances=instances.get(c.id, [])) for c in components]
    return Reply.ok(ComponentOverviewList(count=total, components=overviews))


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_GET, "Show a component", reply=Component)
async def get_component(body: ComponentRef, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    return Reply.ok(await COMPONENTS.get(deps.db, project, body.application_id, body.component_id))


@on_command(
    router,
    LIFECYCLE,
    Lifecycle.COMPONENT_UPDATE,
    "Change a component's name, description, source or build",
    reply=Component,
)
async def update_component(body: UpdateComponent, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    changed = await COMPONENT_WRITES.change(
        deps,
        (project, body.application_id, body.component_id),
        lambda c: rules.modified(c, body.body, deps.clock.millis(), build_id=uuid.uuid4().hex),
    )
    return Reply.ok(changed)


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_DELETE, "Delete a component without instances", reply=None)
async def delete_component(body: DeleteComponent, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    # body.force changes nothing: the guards refuse a component with instances either way
    await COMPONENT_WRITES.delete(
        deps,
        (project, body.application_id, body.component_id),
        deps.delete_guards.component,
        first=_count_in_application(deps, -1),
    )
    return Reply.ok(None, status=204)
