"""Application rules: building and renaming an application, and when one may be deleted. Pure: no I/O."""
from __future__ import annotations

from services.contracts.applications import Application, ApplicationModify, CreateApplication
from services.contracts.errors import APPLICATION_HAS_COMPONENTS, ServiceError, bad_request


def name_key(name: str) -> str:
    """Application names are unique per project ignoring case: this is what uniqueness is checked on."""
    return name.lower()


def new_application(project_id: str, app_id: str, cmd: CreateApplication, now_ms: int) -> Application:
    return Application(
        id=app_id,
        name=cmd.name,
        description=cmd.description,
        creator=cmd.creator,
        project_id=project_id,
        enterprise_project_id=cmd.enterprise_project_id or "0",
        create_time=now_ms,
        update_time=now_ms,
        component_count=0,
    )


def modified(app: Application, change: ApplicationModify, now_ms: int) -> Application:
    fields = change.model_dump(exclude_unset=True, exclude_none=True)
    if not fields:
        raise bad_request("nothing to change: give name or description")
    return app.model_copy(update={**fields, "update_time": now_ms})


def check_deletable(app: Application, components: int) -> None:
    """An application is deleted only once it has no components: the caller deletes them first
    (each of which is itself refused while it has instances). 409: the request conflicts with
    the application's current state, and succeeds once the components are gone."""
    if components > 0:
        raise ServiceError(
            409, APPLICATION_HAS_COMPONENTS,
            f"application {app.id} still has {components} component(s): delete them first",
        )
