"""Handlers of openstage.cmd.<project>.lifecycle.component.*

A component belongs to exactly one application. Creating one raises its application's
``component_count`` and deleting one lowers it, in the same transaction as the component write,
so the count is always the number of components; creating a component in an application that is
gone (or being deleted concurrently) fails as a whole."""
from __future__ import annotations

import uuid

from faststream import Path

from services.adapters.clock import clock
from services.contracts.envelope import Reply
from services.contracts.components import (
    Component,
    ComponentInstanceOverview,
    ComponentList,
    ComponentOverview,
    ComponentOverviewList,
    ComponentRef,
    CreateComponent,
    DeleteComponent,
    ListComponents,
    UpdateComponent,
)
from services.contracts.events import CloudEvent
from services.domain.lifecycle import components as rules
from services.adapters.store import applications as application_store
from services.adapters.store import components as store
from services.contracts import subjects
from services.contracts.subjects import LIFECYCLE, Lifecycle
from workers.runtime import command_router, ctx, on_command

router = command_router()
# {CloudEvents type: model of the event's data} (for the bus documentation)
EVENTS = {subjects.event_type(LIFECYCLE, "component", verb): Component for verb in ("created", "updated", "deleted")}

# Where the instances module keeps component instances (fields project_id, application_id,
# component_id, environment_id). Read here for the overviews only; written by its owner.
INSTANCES_COLLECTION = "instances"


def component_event(project: str, component: Component, verb: str) -> CloudEvent:
    return CloudEvent.new(
        project, LIFECYCLE, "component", verb,
        resource_path=f"/v2/{project}/cas/applications/{component.application_id}/components/{component.id}",
        data=component.model_dump(mode="json", by_alias=True),
    )


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_CREATE, "Create a component in an application")
async def create_component(body: CreateComponent, project: str = Path()) -> Reply:
    component = rules.new_component(project, body.application_id, uuid.uuid4().hex, body.body, body.creator,
                                    clock.millis(), build_id=uuid.uuid4().hex)

    async def write(session):
        # 404 when the application does not exist (in this project); counted with the insert
        await application_store.add_components(ctx.db, project, body.application_id, +1, session)
        await store.insert(ctx.db, component, session)
        return component, [component_event(project, component, "created")]

    return Reply.ok(await ctx.outbox.transaction(write))


async def _application_exists(project: str, application_id: str) -> None:
    await application_store.get(ctx.db, project, application_id)  # 404 for an unknown application


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_LIST, "List an application's components")
async def list_components(body: ListComponents, project: str = Path()) -> Reply:
    await _application_exists(project, body.application_id)
    total, components = await store.page(ctx.db, project, body)
    return Reply.ok(ComponentList(count=total, components=components))


def _instance_overview(doc: dict) -> ComponentInstanceOverview:
    """An instance document as the overview shows it: the SDK's field names where the document
    has them (``instance_id``/``id``/``_id``, ``instance_name``/``name``)."""
    data = {k: v for k, v in doc.items() if k in ComponentInstanceOverview.model_fields}
    data["instance_id"] = str(doc.get("instance_id") or doc.get("id") or doc.get("_id"))
    data.setdefault("instance_name", doc.get("name"))
    for key in list(data):
        try:
            ComponentInstanceOverview.model_validate({"instance_id": "x", key: data[key]})
        except Exception:  # a field the owner stores in another shape: left out of the overview
            data.pop(key)
    return ComponentInstanceOverview.model_validate(data)


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_OVERVIEWS, "List an application's components with their instances")
async def list_component_overviews(body: ListComponents, project: str = Path()) -> Reply:
    await _application_exists(project, body.application_id)
    total, components = await store.page(ctx.db, project, body)
    by_component: dict[str, list[ComponentInstanceOverview]] = {c.id: [] for c in components}
    if components:
        cursor = ctx.db[INSTANCES_COLLECTION].find({
            "project_id": project,
            "application_id": body.application_id,
            "component_id": {"$in": list(by_component)},
        })
        async for doc in cursor:
            by_component.setdefault(doc.get("component_id"), []).append(_instance_overview(doc))
    overviews = [ComponentOverview(**c.model_dump(), instances=by_component.get(c.id, [])) for c in components]
    return Reply.ok(ComponentOverviewList(count=total, components=overviews))


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_GET, "Show a component")
async def get_component(body: ComponentRef, project: str = Path()) -> Reply:
    return Reply.ok(await store.get(ctx.db, project, body.application_id, body.component_id))


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_UPDATE, "Change a component's name, description, source or build")
async def update_component(body: UpdateComponent, project: str = Path()) -> Reply:
    async def write(session):
        current = await store.get(ctx.db, project, body.application_id, body.component_id, session=session)
        component = rules.modified(current, body.body, clock.millis(), build_id=uuid.uuid4().hex)
        await store.replace(ctx.db, component, session)
        return component, [component_event(project, component, "updated")]

    return Reply.ok(await ctx.outbox.transaction(write))


@on_command(router, LIFECYCLE, Lifecycle.COMPONENT_DELETE, "Delete a component without instances")
async def delete_component(body: DeleteComponent, project: str = Path()) -> Reply:
    async def write(session):
        component = await store.get(ctx.db, project, body.application_id, body.component_id, session=session)
        events = []
        if body.force:
            for cascade in COMPONENT_DELETE_CASCADES:
                events.extend(await cascade(project, component.application_id, component.id, session) or [])
        for guard in COMPONENT_DELETE_GUARDS:
            await guard(project, component.application_id, component.id, session)
        await store.delete(ctx.db, project, component.application_id, component.id, session)
        await application_store.add_components(ctx.db, project, component.application_id, -1, session)
        return None, [*events, component_event(project, component, "deleted")]

    await ctx.outbox.transaction(write)
    return Reply.ok(None, status=204)


# Checks run before a component is deleted. Each is
# ``async guard(project_id, application_id, component_id, session)`` and raises a ServiceError
# to refuse (errors.COMPONENT_IN_USE, status 409). The instances module (workers/lifecycle/
# instances.py) appends the one refusing while the component has instances.
COMPONENT_DELETE_GUARDS: list = []

# Run first when the caller asks ``force=true``: each is
# ``async cascade(project_id, application_id, component_id, session) -> list[CloudEvent] | None``
# and removes what the component still has (e.g. its instances), returning the events of those
# removals. The guards still run afterwards, so without a cascade ``force`` refuses like a plain delete.
COMPONENT_DELETE_CASCADES: list = []
