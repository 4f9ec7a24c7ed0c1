"""Environment API bodies and commands (v2, /v2/{project_id}/cas/environments).

Field names are those of the official SDK models (EnvironmentCreate, EnvironmentModify,
EnvironmentResourceModify, Environment, Resource)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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


# The basic resources an environment is built on and an instance deploys to: cce, ecs, as (the
# reference, "Creating an Environment", servicestage_06_0023: "基础资源：cce、ecs、as"). cci is a
# value of the SDK's ResourceType, so it is taken as an optional resource, not as a basic one.
BASE_RESOURCE_TYPES = frozenset({ResourceType.cce, ResourceType.ecs, ResourceType.as_})


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
    # required; missing or empty is refused by the rules with Huawei's 400 SVCSTG.00100422
    # ("base resource can not empty"), not by this model (services.domain.lifecycle.environments)
    base_resources: Annotated[list[Resource], Field(max_length=100)]
    optional_resources: Annotated[list[Resource], Field(max_length=100)] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_base_resources_is_empty(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("base_resources") is None:
            return {**data, "base_resources": []}
        return data


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
    """A page of environments, applications or components, sorted by ``order_by``. Without
    ``limit`` (or with 0) nothing is paged and at most 1000 come back; an explicit limit is 1-100
    (the SDK's List*Request: "取值[0, 100]。不指定的时候表示不分页，最多查询1000条记录"); beyond,
    400 SVCSTG.00100400 in the API's error shape."""

    limit: int = Field(default=0, ge=0, le=100)
    order_by: Literal["create_time", "update_time", "name"] = "create_time"


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
