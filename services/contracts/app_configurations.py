"""Application configuration API bodies and commands
(v2, /v2/{project_id}/cas/applications/{application_id}/configuration).

Field names are those of the official SDK models (ApplicationConfigModify,
ApplicationConfigModifyConfiguration(Env), ChangeApplicationConfigurationResponse,
ShowApplicationConfigurationResponse, ApplicationListConfigConfiguration1). ``revision`` and the
history are openstage's: every change of an (application, environment) configuration is a new
revision, kept, and announced by an event carrying it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts.environments import EntityId

# 1-64 characters: letters, digits, '_', '-' and '.'; does not start with a digit.
ENV_NAME_PATTERN = r"^[A-Za-z_.-][A-Za-z0-9_.-]{0,63}$"
MAX_VARIABLES = 1000
MAX_VALUE_LENGTH = 8192


class EnvVariable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
    value: Annotated[str, StringConstraints(max_length=MAX_VALUE_LENGTH)]


class ConfigurationBody(BaseModel):
    """The configuration of an application in one environment: its environment variables."""

    model_config = ConfigDict(extra="ignore")

    env: Annotated[list[EnvVariable], Field(max_length=MAX_VARIABLES)]


class ApplicationConfigModify(BaseModel):
    """Body of PUT .../applications/{application_id}/configuration."""

    model_config = ConfigDict(extra="ignore")

    environment_id: EntityId
    configuration: ConfigurationBody


class AppConfiguration(BaseModel):
    """One (application, environment) configuration as the calls return it."""

    application_id: str
    environment_id: str
    configuration: ConfigurationBody
    revision: int
    update_time: int


class AppConfigurationList(BaseModel):
    """GET ...: ``{"configuration": [...]}``, one item per environment (none when not configured)."""

    configuration: list[AppConfiguration]


class AppConfigurationRevision(BaseModel):
    """One entry of a configuration's history."""

    application_id: str
    environment_id: str
    revision: int
    action: Literal["put", "delete"]
    configuration: ConfigurationBody | None = None
    creator: str
    time: int
    reason: str | None = None


class AppConfigurationHistory(BaseModel):
    count: int
    revisions: list[AppConfigurationRevision]


# --- commands (the bus payloads; the project comes from the subject) ---------------------------
class PutAppConfiguration(BaseModel):
    """app_configuration.put. ``creator`` is set by the edge from the caller's credential."""

    application_id: EntityId
    body: ApplicationConfigModify
    creator: str = "openstage"


class AppConfigurationQuery(BaseModel):
    """app_configuration.get: every environment's configuration, or one environment's."""

    application_id: EntityId
    environment_id: EntityId | None = None


class AppConfigurationRef(BaseModel):
    """app_configuration.delete / app_configuration.history: one environment's configuration."""

    application_id: EntityId
    environment_id: EntityId
    creator: str = "openstage"
