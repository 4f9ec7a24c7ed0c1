"""Environment API bodies and commands (v2, /v2/{project_id}/cas/environments).

Field names are those of the official SDK models (EnvironmentCreate, EnvironmentModify,
EnvironmentResourceModify, Environment, Resource)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts.envelope import Page

# 2-64 characters: letters, digits, '-' and '_'; starts with a letter, ends with a letter or digit.
NAME_PATTERN = r"^[A-Za-z]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

EnvironmentName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
ResourceId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\s$]+$")]
EntityId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class ResourceType(str, Enum):
    security_group = "security_group"
    eip = "eip"
    elb = "elb"
    cce = "cce"
    cci = "cci"
    ecs = "ecs"
    as_ = "as"
    cse = "cse"
    dcs = "dcs"
    rds = "rds"
    pvc = "pvc"
    apm = "apm"


BASE_RESOURCE_TYPES = frozenset({ResourceType.cce, ResourceType.cci, ResourceType.ecs, ResourceType.as_})


class Resource(BaseModel):
    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    id: ResourceId
    name: Annotated[str, StringConstraints(max_length=128)] | None = None
    type: ResourceType


class EnvironmentCreate(BaseModel):
    """Body of POST /v2/{project_id}/cas/environments, and the environment.create command."""

    model_config = ConfigDict(extra="ignore")

    name: EnvironmentName
    alias: Annotated[str, StringConstraints(max_length=64)] | None = None
    description: Annotated[str, StringConstraints(max_length=128)] | None = None
    enterprise_project_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    charge_mode: Literal["provided", "on_demanded", "monthly"] = "provided"
    deploy_mode: Literal["virtualmachine", "container", "mixed"]
    vpc_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    base_resources: Annotated[list[Resource], Field(min_length=1, max_length=100)]
    optional_resources: Annotated[list[Resource], Field(max_length=100)] = Field(default_factory=list)


class EnvironmentModify(BaseModel):
    """Body of PUT /v2/{project_id}/cas/environments/{environment_id}."""

    model_config = ConfigDict(extra="ignore")

    name: EnvironmentName | None = None
    alias: Annotated[str, StringConstraints(max_length=64)] | None = None
    description: Annotated[str, StringConstraints(max_length=128)] | None = None


class EnvironmentResourceModify(BaseModel):
    """Body of PATCH /v2/{project_id}/cas/environments/{environment_id}/resources."""

    model_config = ConfigDict(extra="ignore")

    add_base_resources: Annotated[list[Resource], Field(max_length=100)] = Field(default_factory=list)
    add_optional_resources: Annotated[list[Resource], Field(max_length=100)] = Field(default_factory=list)
    remove_resources: Annotated[list[Resource], Field(max_length=100)] = Field(default_factory=list)


class Environment(BaseModel):
    """An environment as every environment call returns it."""

    id: str
    name: str
    alias: str | None = None
    description: str | None = None
    project_id: str
    enterprise_project_id: str | None = None
    charge_mode: str
    deploy_mode: str
    vpc_id: str
    base_resources: list[Resource]
    optional_resources: list[Resource]
    creator: str
    create_time: int
    update_time: int


class EnvironmentList(BaseModel):
    count: int
    environments: list[Environment]


# --- list queries of environments, applications and components ---------------------------------
class EntityListQuery(Page):
    """A page of environments, applications or components, sorted by ``order_by``."""

    order_by: Literal["create_time", "update_time", "name"] = "create_time"


class ShortEntityListQuery(EntityListQuery):
    """Without ``limit`` (or with 0) nothing is paged and at most 1000 come back; an explicit
    limit is 1-100 (the reference's range)."""

    limit: int = Field(default=0, ge=0, le=100)


# --- commands (the bus payloads; the project comes from the subject) ---------------------------
class CreateEnvironment(EnvironmentCreate):
    """environment.create. ``creator`` is set by the edge from the caller's credential."""

    creator: str = "openstage"


class ListEnvironments(EntityListQuery):
    """environment.list"""


class EnvironmentRef(BaseModel):
    """environment.get / environment.delete"""

    environment_id: EntityId


class UpdateEnvironment(EnvironmentRef):
    """environment.update"""

    body: EnvironmentModify


class ChangeEnvironmentResources(EnvironmentRef):
    """environment.change_resources"""

    body: EnvironmentResourceModify
