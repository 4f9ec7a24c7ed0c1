"""Component instance API bodies and commands
(v2, /v2/{project_id}/cas/applications/{application_id}/components/{component_id}/instances).

Field names are those of the official SDK models (InstanceCreate, InstanceModify, InstanceAction,
InstanceActionParameters, ShowInstanceDetailResponse, InstanceListView, InstanceStatusView,
InstanceSnapshotView, ExternalAccessesCreate, ExternalAccesses, ReferResourceCreate,
ConfigurationEnvParam). Cross-field rules (flavor, artifacts against the platform, resources
against the environment, actions against the status) are in ``services.domain.lifecycle.component_instances``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.contracts.envelope import Offset
from services.contracts.environments import EntityId, ResourceType
from services.contracts.input_validation import JsonObject, check_json_value

# 2-63 characters: lower-case letters, digits and '-'; starts with a lower-case letter and ends
# with a lower-case letter or digit (Huawei v2 reference, "Creating an Application Component Instance").
INSTANCE_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])$"
# Semantic versioning 2.0.0 ("meets version semantics, e.g. 1.0.0").
VERSION_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
MAX_REPLICA = 200

InstanceName = Annotated[str, StringConstraints(pattern=INSTANCE_NAME_PATTERN)]
Version = Annotated[str, StringConstraints(max_length=64, pattern=VERSION_PATTERN)]
FlavorText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Replica = Annotated[int, Field(ge=1, le=MAX_REPLICA)]
Description = Annotated[str, StringConstraints(max_length=128)]
ArtifactKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
EnvName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_.-][A-Za-z0-9_.-]*$")]


class InstanceStatus(str, Enum):
    """SDK InstanceStatusType."""

    INITIALIZING = "INITIALIZING"
    UPGRADING = "UPGRADING"
    FAILED = "FAILED"
    RUNNING = "RUNNING"
    DOWN = "DOWN"
    DELETING = "DELETING"
    DELETED = "DELETED"
    RESERVED = "RESERVED"
    STARTING = "STARTING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    RESTARTING = "RESTARTING"
    PENDING = "PENDING"
    UNKNOWN = "UNKNOWN"
    PARTIALLY_FAILED = "PARTIALLY_FAILED"


class InstanceActionType(str, Enum):
    """SDK InstanceActionType (the v2 reference lists exactly these five)."""

    start = "start"
    stop = "stop"
    restart = "restart"
    scale = "scale"
    rollback = "rollback"


class Artifact(BaseModel):
    """One entry of ``artifacts`` (key: component name, or container name for Docker multi-container)."""

    model_config = ConfigDict(extra="ignore")

    storage: Literal["swr", "obs", "devcloud"]
    type: Literal["package", "image"]
    url: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\s]+$")]
    auth: Literal["iam", "none"] = "iam"
    version: Annotated[str, StringConstraints(max_length=64)] | None = None
    properties: JsonObject | None = None


class EnvVariable(BaseModel):
    """SDK ConfigurationEnvParam."""

    model_config = ConfigDict(extra="ignore")

    name: EnvName
    value: Annotated[str, StringConstraints(max_length=4096)]


class InstanceConfiguration(BaseModel):
    """SDK InstanceConfiguration: ``env`` is checked; the other sections (storage, strategy,
    lifecycle, scheduler, probes, container_spec, logs) are kept as given."""

    model_config = ConfigDict(extra="allow")

    env: Annotated[list[EnvVariable], Field(max_length=200)] | None = None
    strategy: JsonObject | None = None

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return check_json_value(data)  # the sections kept as given, too


class ExternalAccessCreate(BaseModel):
    """SDK ExternalAccessesCreate."""

    model_config = ConfigDict(extra="ignore")

    protocol: Literal["http", "https", "HTTP", "HTTPS"]
    address: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")]
    forward_port: Annotated[int, Field(ge=1, le=65535)]


class ExternalAccess(BaseModel):
    """SDK ExternalAccesses (as returned)."""

    id: str
    protocol: str
    address: str
    forward_port: int
    type: str = "SPECIFIED"
    status: str = "NORMAL"
    create_time: int
    update_time: int


class ReferResource(BaseModel):
    """SDK ReferResourceCreate / ReferResources."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\s$]+$")]
    type: ResourceType
    refer_alias: Annotated[str, StringConstraints(max_length=64)] | None = None
    parameters: JsonObject | None = None


class InstanceCreate(BaseModel):
    """Body of POST .../instances."""

    model_config = ConfigDict(extra="ignore")

    name: InstanceName
    environment_id: EntityId
    flavor_id: FlavorText
    replica: Replica
    artifacts: Annotated[dict[ArtifactKey, Artifact], Field(max_length=20)] | None = None
    version: Version
    configuration: InstanceConfiguration | None = None
    description: Description | None = None
    external_accesses: Annotated[list[ExternalAccessCreate], Field(max_length=20)] | None = None
    refer_resources: Annotated[list[ReferResource], Field(min_length=1, max_length=50)]


class InstanceModify(BaseModel):
    """Body of PUT .../instances/{instance_id}: ``version`` is mandatory, the rest replaces what it names."""

    model_config = ConfigDict(extra="ignore")

    version: Version
    flavor_id: FlavorText | None = None
    # an empty one is refused by the rules (400 SVCSTG.00100425 "instance artifacts can not be empty")
    artifacts: Annotated[dict[ArtifactKey, Artifact], Field(max_length=20)] | None = None
    configuration: InstanceConfiguration | None = None
    description: Description | None = None
    external_accesses: Annotated[list[ExternalAccessCreate], Field(max_length=20)] | None = None
    refer_resources: Annotated[list[ReferResource], Field(min_length=1, max_length=50)] | None = None


class InstanceActionParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    replica: Annotated[int, Field(ge=0)] | None = None
    hosts: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=64)]], Field(max_length=200)] | None = None
    version: Annotated[str, StringConstraints(max_length=64)] | None = None


class InstanceAction(BaseModel):
    """Body of POST .../instances/{instance_id}/action. ``action`` is one of InstanceActionType;
    another string is refused by the rules with Huawei's 400 SVCSTG.00100418 ("component instance
    action not defined"), not by this model."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    action: Annotated[str, StringConstraints(max_length=64), Field(json_schema_extra={"enum": [a.value for a in InstanceActionType]})]
    parameters: InstanceActionParameters | None = None


class StatusDetail(BaseModel):
    """SDK InstanceStatusView. ``fail_detail`` takes the SDK InstanceFailDetail values (an
    infrastructure cause such as ``resource_deleted``); a failed job's own message is on its tasks."""

    model_config = ConfigDict(use_enum_values=True)

    status: InstanceStatus
    available_replica: int = 0
    replica: int
    fail_detail: str | None = None
    last_job_id: str | None = None
    last_job_status: str | None = None
    enterprise_project_id: str | None = None


class Instance(BaseModel):
    """An instance as GET .../instances/{instance_id} returns it (ShowInstanceDetailResponse),
    plus the list view's fields (InstanceListView)."""

    id: str
    name: str
    description: str | None = None
    project_id: str
    application_id: str
    application_name: str | None = None
    component_id: str
    component_name: str | None = None
    environment_id: str
    environment_name: str | None = None
    platform_type: Literal["cce", "vmapp"]
    flavor_id: str
    artifacts: dict[str, Any]
    version: str
    configuration: dict[str, Any] = Field(default_factory=dict)
    creator: str
    create_time: int
    update_time: int
    external_accesses: list[ExternalAccess] = Field(default_factory=list)
    refer_resources: list[ReferResource] = Field(default_factory=list)
    status_detail: StatusDetail


class InstanceList(BaseModel):
    count: int
    instances: list[Instance]


class Snapshot(BaseModel):
    """SDK InstanceSnapshotView (create_time, description, instance_id, version) plus what a
    rollback redeploys: artifacts, configuration, flavor_id, replica."""

    instance_id: str
    version: str
    description: str | None = None
    create_time: int
    artifacts: dict[str, Any] = Field(default_factory=dict)
    configuration: dict[str, Any] = Field(default_factory=dict)
    flavor_id: str
    replica: int
    job_id: str | None = None


class SnapshotList(BaseModel):
    count: int
    snapshots: list[Snapshot]


class JobAccepted(BaseModel):
    """CreateInstanceResponse (with instance_id) / Change/Delete/UpdateInstanceActionResponse."""

    instance_id: str | None = None
    job_id: str


# --- commands (the bus payloads; the project comes from the subject) ---------------------------
class ComponentScope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    application_id: EntityId
    component_id: EntityId


class CreateInstance(ComponentScope):
    """instance.create. ``creator`` is set by the edge from the caller's credential."""

    body: InstanceCreate
    creator: str = "openstage"


class ListInstances(ComponentScope):
    """instance.list: limit 0-100 pages; without it, up to 1000 instances."""

    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    offset: Offset = 0
    order_by: Literal["create_time", "update_time", "name"] = "create_time"
    order: Literal["desc", "asc"] = "desc"


class InstanceRef(ComponentScope):
    """instance.get"""

    instance_id: EntityId


class UpdateInstance(InstanceRef):
    """instance.update"""

    body: InstanceModify
    creator: str = "openstage"


class DeleteInstance(InstanceRef):
    """instance.delete. ``force``: cancel the job the instance is running and delete it after."""

    force: bool = False
    creator: str = "openstage"


class ActOnInstance(InstanceRef):
    """instance.action"""

    body: InstanceAction
    creator: str = "openstage"


class ListSnapshots(InstanceRef):
    """instance.snapshots"""

    limit: Annotated[int, Field(ge=0, le=100)] | None = None
    offset: Offset = 0
    snapshot_order_by: Literal["create_time", "version"] = "create_time"
    order: Literal["desc", "asc"] = "desc"
