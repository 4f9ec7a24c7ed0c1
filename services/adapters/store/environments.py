"""The environments collection (owned by the lifecycle worker): named documents unique per project."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.store.documents import NamedDocuments
from services.contracts import errors
from services.contracts.environments import Environment

ENVIRONMENTS = NamedDocuments(
    collection="environments",
    model=Environment,
    parents=("project_id",),
    noun="environment",
    not_found_code=errors.ENVIRONMENT_NOT_FOUND,
    name_exists_code=errors.ENVIRONMENT_NAME_EXISTS,
)
ensure_indexes = ENVIRONMENTS.ensure_indexes


async def get(db: AsyncDatabase, project_id: str, environment_id: str, session: AsyncClientSession | None = None) -> Environment:
    """The environment an instance is deployed to (404 when there is none)."""
    return await ENVIRONMENTS.get(db, project_id, environment_id, session=session)
