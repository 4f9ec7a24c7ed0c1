"""Config-center items: the commands the edge sends the config worker for
``/v3/{project}/configuration/items`` (subjects ``openstage.cmd.<project>.config.item.*``).

The HTTP bodies are the registry contracts' :class:`~services.contracts.registry.CreateConfigItemsRequest`
(``{"dimensionsInfo": ..., "items": {...}}``) and :class:`~services.contracts.registry.DeleteConfigItemsRequest`
(``{"dimensionsInfo": ..., "keys": [...]}``); the query answers
:class:`~services.contracts.registry.ConfigItemsResponse`. The rules on dimensionsInfo, keyFilter
and the revision are in :mod:`services.domain.registry.config_center`.

Values. The CSE API documents ``Map<String, Map<String, String>>`` and the go-chassis client pushes
``map[string]interface{}``: openstage accepts strings, numbers and booleans and refuses ``null``,
objects and arrays (400001), so nothing that looks like a MongoDB operator (``{"$gt": ""}``) is
ever stored or used in a filter.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StringConstraints, WithJsonSchema

#: Environments the ``X-Environment`` header selects; anything else means "no environment" ("").
ENVIRONMENTS = ("development", "testing", "acceptance", "production")
#: At most this many items (POST) or keys (DELETE) in one request.
MAX_DIMENSIONS_INFO_LENGTH = 512
MAX_KEY_FILTER_LENGTH = 256
MAX_CONFIG_KEY_LENGTH = 512
MAX_ITEMS_PER_REQUEST = 1000
#: A string value is at most this many characters.
MAX_VALUE_LENGTH = 65536
#: Revisions are sha1 hex; anything longer cannot match and is refused.
MAX_REVISION_LENGTH = 128

ConfigKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONFIG_KEY_LENGTH)]


def _scalar(value: Any) -> Any:
    """A config value: a string, a (64-bit) integer, a finite number or a boolean, kept as it is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return value
        raise ValueError("integer value out of the 64-bit range")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ValueError("number value is not finite")
    if isinstance(value, str):
        if len(value) <= MAX_VALUE_LENGTH:
            return value
        raise ValueError(f"string value longer than {MAX_VALUE_LENGTH} characters")
    raise ValueError("a value must be a string, a number or a boolean")


ConfigValue = Annotated[Any, PlainValidator(_scalar), WithJsonSchema({"type": ["string", "number", "integer", "boolean"]})]
DimensionsText = Annotated[str, StringConstraints(max_length=MAX_DIMENSIONS_INFO_LENGTH)]
Environment = Annotated[str, StringConstraints(pattern=r"^(development|testing|acceptance|production)?$")]


def environment_of(header: str | None) -> str:
    """``X-Environment`` -> the environment items are scoped to (CSE: other values count as none)."""
    value = (header or "").strip()
    return value if value in ENVIRONMENTS else ""


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: Environment = ""


class QueryConfigItems(_Command):
    """``config.item.query``: GET ?dimensionsInfo=..&keyFilter=..&revision=.."""

    dimensions_info: DimensionsText | None = None
    key_filter: Annotated[str, StringConstraints(max_length=MAX_KEY_FILTER_LENGTH)] | None = None
    revision: Annotated[str, StringConstraints(max_length=MAX_REVISION_LENGTH)] | None = None


class UpsertConfigItems(_Command):
    """``config.item.upsert``: POST {dimensionsInfo, items} (creates or overwrites the keys)."""

    dimensions_info: DimensionsText
    items: Annotated[dict[ConfigKey, ConfigValue], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


class DeleteConfigItems(_Command):
    """``config.item.delete``: DELETE {dimensionsInfo, keys}."""

    dimensions_info: DimensionsText
    keys: Annotated[list[ConfigKey], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


class ConfigItemsChanged(BaseModel):
    """Data of ``openstage.evt.<project>.config.item.changed``: the keys whose value is new."""

    dimensionsInfo: str
    environment: str
    items: dict[str, ConfigValue]


class ConfigItemsDeleted(BaseModel):
    """Data of ``openstage.evt.<project>.config.item.deleted``: the keys that were removed."""

    dimensionsInfo: str
    environment: str
    keys: list[str]


__all__ = [
    "ENVIRONMENTS",
    "MAX_ITEMS_PER_REQUEST",
    "MAX_VALUE_LENGTH",
    "ConfigItemsChanged",
    "ConfigItemsDeleted",
    "ConfigValue",
    "DeleteConfigItems",
    "QueryConfigItems",
    "UpsertConfigItems",
    "environment_of",
]
