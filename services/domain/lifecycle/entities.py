"""Rules every environment, application and component follows. Pure: no I/O.

- A name is unique ignoring case among its siblings (the reference: "Letters are case
  insensitive"): the project's environments or applications, the application's components.
- A new one gets its id, project, creator and both times; an enterprise project not given is "0".
- A change (PUT) gives at least one field; the ones given replace the current values."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from services.contracts.errors import bad_request

Entity = TypeVar("Entity", bound=BaseModel)


def name_key(name: str) -> str:
    """What name uniqueness is checked on."""
    return name.lower()


def created_fields(project_id: str, entity_id: str, body: BaseModel, creator: str, now_ms: int) -> dict[str, Any]:
    """The fields of a new environment or application: the create body's, then its identity and times."""
    return {
        **body.model_dump(),
        "id": entity_id,
        "project_id": project_id,
        "enterprise_project_id": getattr(body, "enterprise_project_id", None) or "0",
        "creator": creator,
        "create_time": now_ms,
        "update_time": now_ms,
    }


def given_fields(change: BaseModel) -> dict[str, Any]:
    """The fields a change body sets; 400 "nothing to change" when it sets none."""
    fields = change.model_dump(exclude_unset=True, exclude_none=True)
    if not fields:
        names = list(type(change).model_fields)
        choices = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
        raise bad_request(f"nothing to change: give {choices}")
    return fields


def modified(entity: Entity, change: BaseModel, now_ms: int) -> Entity:
    """``entity`` with the fields ``change`` gives (at least one) and a new update time."""
    return entity.model_copy(update={**given_fields(change), "update_time": now_ms})
