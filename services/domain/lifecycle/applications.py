"""Application rules: building an application, and when one may be deleted. Pure: no I/O.
(Renaming one, and name uniqueness: ``services.domain.lifecycle.entities``.)"""

from __future__ import annotations

from services.contracts.applications import Application, CreateApplication
from services.contracts.errors import APPLICATION_HAS_COMPONENTS, ServiceError
from services.domain.lifecycle.entities import created_fields


def new_application(project_id: str, app_id: str, cmd: CreateApplication, now_ms: int) -> Application:
    return Application.model_validate({**created_fields(project_id, app_id, cmd, cmd.creator, now_ms), "component_count": 0})


def check_deletable(app: Application, components: int) -> None:
    """An application is deleted only once it has no components: the caller deletes them first
    (each of which is itself refused while it has instances). 409: the request conflicts with
    the application's current state, and succeeds once the components are gone."""
    if components > 0:
        raise ServiceError(409, APPLICATION_HAS_COMPONENTS, f"application {app.id} still has {components} component(s): delete them first")
