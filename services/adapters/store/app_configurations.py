"""The application configuration collections (owned by the config worker).

``app_configurations``: the current state of each (project, application, environment)
configuration, one document each, ``_id`` = ``<project>/<application>/<environment>`` (ids are
``[A-Za-z0-9_-]`` only, so the key is unambiguous). A deleted configuration keeps its document
(``deleted: true``, no variables) so revisions keep counting.
``app_configuration_history``: one document per revision, ``_id`` = ``<key>/<revision>``.

Writes are optimistic: a revision is written only over the revision it was computed from, so two
concurrent changes of the same configuration cannot both become revision n+1 (the loser gets 409).
"""

from __future__ import annotations

from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.contracts import errors
from services.contracts.app_configurations import AppConfiguration, AppConfigurationRevision, ConfigurationBody

COLLECTION = "app_configurations"
HISTORY = "app_configuration_history"
# Without this many revisions, a history answer is cut (newest kept).
HISTORY_MAX = 1000


class Stored(BaseModel):
    """A configuration's current document."""

    project_id: str
    application_id: str
    environment_id: str
    revision: int
    deleted: bool
    configuration: ConfigurationBody | None = None
    creator: str
    create_time: int
    update_time: int

    def view(self) -> AppConfiguration:
        return AppConfiguration(
            application_id=self.application_id,
            environment_id=self.environment_id,
            configuration=self.configuration or ConfigurationBody(env=[]),
            revision=self.revision,
            update_time=self.update_time,
        )


def key(project_id: str, application_id: str, environment_id: str) -> str:
    return f"{project_id}/{application_id}/{environment_id}"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[COLLECTION].create_index([("project_id", ASCENDING), ("application_id", ASCENDING)])
    await db[COLLECTION].create_index([("project_id", ASCENDING), ("environment_id", ASCENDING)])
    await db[HISTORY].create_index(
        [("project_id", ASCENDING), ("application_id", ASCENDING), ("environment_id", ASCENDING), ("revision", ASCENDING)], unique=True
    )


def concurrent_change() -> errors.ServiceError:
    return errors.conflict("the configuration was changed concurrently: retry")


def missing(application_id: str, environment_id: str) -> errors.ServiceError:
    return errors.not_found(
        f"application {application_id} has no configuration in environment {environment_id}", errors.APP_CONFIG_NOT_FOUND
    )


async def current(
    db: AsyncDatabase, project_id: str, application_id: str, environment_id: str, session: AsyncClientSession | None = None
) -> Stored | None:
    """The configuration's document, deleted or not; None when it was never configured."""
    doc = await db[COLLECTION].find_one({"_id": key(project_id, application_id, environment_id)}, session=session)
    return Stored.model_validate(doc) if doc else None


async def live(db: AsyncDatabase, project_id: str, application_id: str, environment_id: str | None = None) -> list[Stored]:
    """The application's configurations that are not deleted (one environment's, or all), by environment id."""
    query: dict = {"project_id": project_id, "application_id": application_id, "deleted": False}
    if environment_id is not None:
        query["environment_id"] = environment_id
    cursor = db[COLLECTION].find(query).sort([("environment_id", ASCENDING)])
    return [Stored.model_validate(d) async for d in cursor]


async def live_for(
    db: AsyncDatabase, project_id: str, *, application_id: str | None = None, environment_id: str | None = None
) -> list[Stored]:
    """Configurations not deleted of an application or of an environment (for clean-up)."""
    query: dict = {"project_id": project_id, "deleted": False}
    if application_id is not None:
        query["application_id"] = application_id
    if environment_id is not None:
        query["environment_id"] = environment_id
    return [Stored.model_validate(d) async for d in db[COLLECTION].find(query)]


async def write_revision(
    db: AsyncDatabase, new: Stored, previous_revision: int | None, entry: AppConfigurationRevision, session: AsyncClientSession
) -> None:
    """Store ``new`` as the current document, written over ``previous_revision`` only (None: there
    was none), and its history entry."""
    doc = new.model_dump(mode="json")
    doc["_id"] = key(new.project_id, new.application_id, new.environment_id)
    try:
        if previous_revision is None:
            await db[COLLECTION].insert_one(doc, session=session)
        else:
            result = await db[COLLECTION].replace_one({"_id": doc["_id"], "revision": previous_revision}, doc, session=session)
            if result.matched_count == 0:
                raise concurrent_change()
        history = entry.model_dump(mode="json")
        history["_id"] = f"{doc['_id']}/{entry.revision}"
        history["project_id"] = new.project_id
        await db[HISTORY].insert_one(history, session=session)
    except DuplicateKeyError:
        raise concurrent_change() from None


async def history(db: AsyncDatabase, project_id: str, application_id: str, environment_id: str) -> list[AppConfigurationRevision]:
    cursor = (
        db[HISTORY]
        .find({"project_id": project_id, "application_id": application_id, "environment_id": environment_id})
        .sort([("revision", ASCENDING)])
    )
    entries = [AppConfigurationRevision.model_validate(d) async for d in cursor]
    return entries[-HISTORY_MAX:]
