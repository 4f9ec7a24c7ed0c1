"""Component API bodies and commands (v2, /v2/{project_id}/cas/applications/{application_id}/components).

Field names are those of the official SDK models (ComponentCreate, ComponentModify, SourceObject,
SourceOrArtifact, ObsProperties, Build, BuildParameters, BuildInfo, ComponentView,
ComponentOverview, ComponentInstanceOverView). The cross-field rules (runtime in the catalogue,
sub-category of the category, the spec a source kind needs, build parameters) are in
``services.domain.lifecycle.components``; these models only check types, enumerations and lengths."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts.environments import NAME_PATTERN, EntityId, EntityListQuery

ComponentName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Text128 = Annotated[str, StringConstraints(max_length=128)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\s]+$")]
# Label keys/values as Kubernetes takes them (a node label selector of the build cluster).
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=r"^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$")]


class ComponentCategory(str, Enum):
    """SDK ComponentCategory."""

    webapp = "Webapp"
    microservice = "MicroService"
    common = "Common"


class SourceKind(str, Enum):
    """SDK SourceKind: source code or a software package (artifact)."""

    code = "code"
    artifact = "artifact"


class RepoType(str, Enum):
    """SDK SourceRepoType."""

    github = "GitHub"
    gitlab = "GitLab"
    gitee = "Gitee"
    bitbucket = "Bitbucket"


class ObsProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    bucket: Annotated[str, StringConstraints(min_length=3, max_length=63)] | None = None
    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None


class SourceSpec(BaseModel):
    """SDK SourceOrArtifact: the code fields (repo_*) or the artifact fields (storage, type, url,
    auth, properties), depending on the source kind."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, use_enum_values=True)

    # artifact (software package)
    storage: Literal["swr", "obs"] | None = None
    type: Literal["package"] | None = None
    url: Url | None = None
    web_url: Url | None = Field(default=None, alias="webUrl")
    auth: Literal["iam", "none"] | None = None
    properties: ObsProperties | None = None
    # code (source repository)
    repo_type: RepoType | None = None
    repo_url: Url | None = None
    repo_ref: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")] | None = None
    repo_auth: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class SourceObject(BaseModel):
    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    kind: SourceKind
    spec: SourceSpec


class BuildParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    build_cmd: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    dockerfile_path: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    artifact_namespace: (
        Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")] | None
    ) = None
    cluster_id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    node_label_selector: Annotated[dict[LabelKey, LabelValue], Field(max_length=20)] | None = None


class Build(BaseModel):
    """SDK Build (request): the build parameters."""

    model_config = ConfigDict(extra="ignore")

    parameters: BuildParameters


class BuildInfo(BaseModel):
    """SDK BuildInfo (response): the build's id and parameters."""

    id: str
    parameters: BuildParameters


class ComponentCreate(BaseModel):
    """Body of POST /v2/{project_id}/cas/applications/{application_id}/components."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    name: ComponentName
    runtime: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    category: ComponentCategory
    sub_category: Annotated[str, StringConstraints(max_length=32)] | None = None
    description: Text128 | None = None
    source: SourceObject | None = None
    build: Build | None = None


class ComponentModify(BaseModel):
    """Body of PUT .../components/{component_id}: name, description, source, build."""

    model_config = ConfigDict(extra="ignore")

    name: ComponentName | None = None
    description: Text128 | None = None
    source: SourceObject | None = None
    build: Build | None = None


class Component(BaseModel):
    """A component as every component call returns it (SDK ComponentView / ShowComponentDetailResponse)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    name: str
    status: int = 0  # 0: normal, 1: being deleted (a forced delete waits for its instances)
    runtime: str
    category: str
    sub_category: str | None = None
    description: str | None = None
    project_id: str
    application_id: str
    source: SourceObject | None = None
    build: BuildInfo | None = None
    pipeline_ids: list[str] = Field(default_factory=list)
    creator: str
    create_time: int
    update_time: int


class ComponentList(BaseModel):
    count: int
    components: list[Component]


class ComponentInstanceOverview(BaseModel):
    """SDK ComponentInstanceOverView: an instance of the component, as the instances collection has it."""

    model_config = ConfigDict(extra="ignore")

    instance_id: str
    instance_name: str | None = None
    description: str | None = None
    environment_id: str | None = None
    platform_type: str | None = None
    flavor_id: str | None = None
    artifacts: dict[str, Any] | None = None
    version: str | None = None
    configuration: dict[str, Any] | None = None
    creator: str | None = None
    create_time: int | None = None
    update_time: int | None = None
    external_accesses: list[dict[str, Any]] | None = None
    refer_resources: list[dict[str, Any]] | None = None
    status_detail: dict[str, Any] | None = None


class ComponentOverview(Component):
    instances: list[ComponentInstanceOverview] = Field(default_factory=list)


class ComponentOverviewList(BaseModel):
    count: int
    components: list[ComponentOverview]


# --- commands (the bus payloads; the project comes from the subject) ---------------------------
class CreateComponent(BaseModel):
    """component.create. ``creator`` is set by the edge from the caller's credential."""

    application_id: EntityId
    body: ComponentCreate
    creator: str = "openstage"


class ComponentListQuery(EntityListQuery):
    """The query of the component lists. Without ``limit`` (or with 0) nothing is paged and at
    most 1000 components come back; an explicit limit is 1-100 (the reference's range)."""


class ListComponents(ComponentListQuery):
    """component.list / component.overviews"""

    application_id: EntityId


class ComponentRef(BaseModel):
    """component.get"""

    application_id: EntityId
    component_id: EntityId


class DeleteComponent(ComponentRef):
    """component.delete. A component that still has instances is refused (400 SVCSTG.00100402)
    unless ``force``: then its instances are deleted through their delete jobs (each recorded as
    created by ``creator``) and the component once the last one is gone."""

    force: bool = False
    creator: str = "openstage"


class UpdateComponent(ComponentRef):
    """component.update"""

    body: ComponentModify
