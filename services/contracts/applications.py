"""Application API bodies and commands (v2, /v2/{project_id}/cas/applications).

Field names are those of the official SDK models (ApplicationCreate, ApplicationModify,
ApplicationView, ShowApplicationDetailResponse, ListApplicationsResponse)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from services.contracts.environments import NAME_PATTERN, EntityId, EntityListQuery

# 2-64 characters: letters, digits, '-' and '_'; starts with a letter, ends with a letter or digit.
ApplicationName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class ApplicationCreate(BaseModel):
    """Body of POST /v2/{project_id}/cas/applications, and the application.create command."""

    model_config = ConfigDict(extra="ignore")

    name: ApplicationName
    description: Annotated[str, StringConstraints(max_length=128)] | None = None
    enterprise_project_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class ApplicationModify(BaseModel):
    """Body of PUT /v2/{project_id}/cas/applications/{application_id}."""

    model_config = ConfigDict(extra="ignore")

    name: ApplicationName | None = None
    description: Annotated[str, StringConstraints(max_length=128)] | None = None


class Application(BaseModel):
    """An application as every application call returns it. ``component_count`` is kept by the
    component handlers, in the same transaction that adds or removes a component."""

    id: str
    name: str
    description: str | None = None
    creator: str
    project_id: str
    enterprise_project_id: str | None = None
    create_time: int
    update_time: int
    unified_model: str | None = None
    component_count: int = 0


class ApplicationList(BaseModel):
    count: int
    applications: list[Application]


# --- commands (the bus payloads; the project comes from the subject) ---------------------------
class CreateApplication(ApplicationCreate):
    """application.create. ``creator`` is set by the edge from the caller's credential."""

    creator: str = "openstage"


class ListApplications(EntityListQuery):
    """application.list. Without ``limit`` (or with 0) nothing is paged and at most 1000
    applications come back; an explicit limit is 1-100 (the reference's range)."""


class ApplicationRef(BaseModel):
    """application.get / application.delete"""

    application_id: EntityId


class UpdateApplication(ApplicationRef):
    """application.update"""

    body: ApplicationModify
