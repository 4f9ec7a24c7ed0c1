"""The applications collection (owned by the lifecycle worker)."""
from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.adapters.store import mongo
from services.contracts import errors
from services.contracts.applications import Application, ListApplications
from services.domain.lifecycle.applications import name_key

COLLECTION = "applications"


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    await db[COLLECTION].create_index([("project_id", ASCENDING), ("name_key", ASCENDING)], unique=True)
    await db[COLLECTION].create_index([("project_id", ASCENDING), ("create_time", DESCENDING)])


def _doc(app: Application) -> dict:
    doc = app.model_dump(mode="json")
    doc["_id"] = app.id
    doc["name_key"] = name_key(app.name)
    return doc


def _app(doc: dict) -> Application:
    return Application.model_validate(doc)


def name_taken(name: str) -> errors.ServiceError:
    # The v2 reference lists 400 (not 409) for a create/modify that breaks a rule such as this one.
    return errors.bad_request(f"application name {name!r} already exists", errors.APPLICATION_NAME_EXISTS)


def missing(app_id: str) -> errors.ServiceError:
    return errors.not_found(f"application {app_id} not found", errors.APPLICATION_NOT_FOUND)


async def insert(db: AsyncIOMotorDatabase, app: Application, session: AsyncIOMotorClientSession) -> None:
    try:
        await db[COLLECTION].insert_one(_doc(app), session=session)
    except DuplicateKeyError:
        raise name_taken(app.name) from None


async def update_fields(db: AsyncIOMotorDatabase, app: Application, session: AsyncIOMotorClientSession) -> None:
    """Write the caller-changeable fields (name, description, update_time). ``component_count``
    is left as stored: only ``add_components`` changes it."""
    try:
        result = await db[COLLECTION].update_one(
            {"_id": app.id, "project_id": app.project_id},
            {"$set": {"name": app.name, "name_key": name_key(app.name), "description": app.description,
                      "update_time": app.update_time}},
            session=session,
        )
    except DuplicateKeyError:
        raise name_taken(app.name) from None
    if result.matched_count == 0:
        raise missing(app.id)


async def add_components(db: AsyncIOMotorDatabase, project_id: str, app_id: str, delta: int,
                         session: AsyncIOMotorClientSession) -> Application:
    """Change the application's ``component_count`` by ``delta`` (in the component's transaction);
    404 when the application is gone. Returns the application as it is now."""
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": app_id, "project_id": project_id},
        {"$inc": {"component_count": delta}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if doc is None:
        raise missing(app_id)
    return _app(doc)


async def get(db: AsyncIOMotorDatabase, project_id: str, app_id: str, session=None) -> Application:
    doc = await db[COLLECTION].find_one({"_id": app_id, "project_id": project_id}, session=session)
    if doc is None:
        raise missing(app_id)
    return _app(doc)


async def delete(db: AsyncIOMotorDatabase, project_id: str, app_id: str, session: AsyncIOMotorClientSession) -> None:
    result = await db[COLLECTION].delete_one({"_id": app_id, "project_id": project_id}, session=session)
    if result.deleted_count == 0:
        raise missing(app_id)


async def page(db: AsyncIOMotorDatabase, project_id: str, q: ListApplications) -> tuple[int, list[Application]]:
    sort_field = "name_key" if q.order_by == "name" else q.order_by
    total, docs = await mongo.page(db[COLLECTION], {"project_id": project_id}, sort_field, q.order, q.offset, q.limit)
    return total, [_app(d) for d in docs]