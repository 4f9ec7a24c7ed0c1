"""A revision of an application's configuration: the event that announces it, and the deletion
written as a new revision (by the delete handler and by the clean-up after lifecycle deletions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.adapters.store import app_configurations as store
from services.adapters.store.app_configurations import Stored
from services.contracts.app_configurations import AppConfigurationRevision
from services.contracts.events import CloudEvent
from services.contracts.subjects import CONFIG
from services.domain.config import app_configurations as rules

if TYPE_CHECKING:
    from workers.config.deps import ConfigDeps

ENTITY = "app_configuration"


def configuration_event(project: str, entry: AppConfigurationRevision, verb: str) -> CloudEvent:
    return CloudEvent.new(
        project,
        CONFIG,
        ENTITY,
        verb,
        resource_path=(f"/v2/{project}/cas/applications/{entry.application_id}/configuration?environment_id={entry.environment_id}"),
        data=entry.model_dump(mode="json"),
    )


async def delete_revision(deps: ConfigDeps, project: str, cur: Stored, creator: str, session, reason: str | None) -> CloudEvent:
    """Write the deletion of ``cur`` as its next revision; the event announcing it."""
    now = deps.clock.millis()
    revision = rules.next_revision(cur.revision)
    new = cur.model_copy(update={"revision": revision, "deleted": True, "configuration": None, "creator": creator, "update_time": now})
    entry = AppConfigurationRevision(
        application_id=cur.application_id,
        environment_id=cur.environment_id,
        revision=revision,
        action="delete",
        configuration=None,
        creator=creator,
        time=now,
        reason=reason,
    )
    await store.write_revision(deps.db, new, cur.revision, entry, session)
    return configuration_event(project, entry, "deleted")
