"""The applications collection (owned by the lifecycle worker): named documents unique per project.

``component_count`` is changed only by ``add_components``, in the transaction that adds or
removes a component."""

from __future__ import annotations

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.store.documents import NamedDocuments
from services.contracts import errors
from services.contracts.applications import Application

APPLICATIONS = NamedDocuments(
    collection="applications",
    model=Application,
    parents=("project_id",),
    noun="application",
    not_found_code=errors.APPLICATION_NOT_FOUND,
    name_exists_code=errors.APPLICATION_NAME_EXISTS,
)
ensure_indexes = APPLICATIONS.ensure_indexes


async def add_components(db: AsyncDatabase, project_id: str, app_id: str, delta: int, session: AsyncClientSession) -> Application:
    """Change the application's ``component_count`` by ``delta`` (in the component's transaction);
    404 when the application is gone. Returns the application as it is now."""
    doc = await db[APPLICATIONS.collection].find_one_and_update(
        {"_id": app_id, "project_id": project_id},
        {"$inc": {"component_count": delta}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if doc is None:
        raise APPLICATIONS.missing(app_id)
    return Application.model_validate(doc)
