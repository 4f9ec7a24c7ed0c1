"""The environments collection (owned by the lifecycle worker)."""
from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from services.contracts import errors
from services.adapters.store import mongo
from services.contracts.environments import Environment, ListEnvironments
from services.domain.lifecycle.environments import name_key

COLLECTION = "environments"


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    await db[COLLECTION].create_index([("project_id", ASCENDING), ("name_key", ASCENDING)], unique=True)
    await db[COLLECTION].create_index([("project_id", ASCENDING), ("create_time", DESCENDING)])


def _doc(env: Environment) -> dict:
    doc = env.model_dump(mode="json")
    doc["_id"] = env.id
    doc["name_key"] = name_key(env.name)
    return doc


def _env(doc: dict) -> Environment:
    return Environment.model_validate(doc)


def name_taken(name: str) -> errors.ServiceError:
    # The v2 reference lists 400 (not 409) for a create/modify that breaks a rule such as this one.
    return errors.bad_request(f"environment name {name!r} already exists", errors.ENVIRONMENT_NAME_EXISTS)


def missing(env_id: str) -> errors.ServiceError:
    return errors.not_found(f"environment {env_id} not found", errors.ENVIRONMENT_NOT_FOUND)


async def insert(db: AsyncIOMotorDatabase, env: Environment, session: AsyncIOMotorClientSession) -> None:
    try:
        await db[COLLECTION].insert_one(_doc(env), session=session)
    except DuplicateKeyError:
        raise name_taken(env.name) from None


async def replace(db: AsyncIOMotorDatabase, env: Environment, session: AsyncIOMotorClientSession) -> None:
    try:
        result = await db[COLLECTION].replace_one(
            {"_id": env.id, "project_id": env.project_id}, _doc(env), session=session
        )
    except DuplicateKeyError:
        raise name_taken(env.name) from None
    if result.matched_count == 0:
        raise missing(env.id)


async def get(db: AsyncIOMotorDatabase, project_id: str, env_id: str, session=None) -> Environment:
    doc = await db[COLLECTION].find_one({"_id": env_id, "project_id": project_id}, session=session)
    if doc is None:
        raise missing(env_id)
    return _env(doc)


async def exists(db: AsyncIOMotorDatabase, project_id: str, env_id: str) -> bool:
    return await mongo.exists(db[COLLECTION], {"_id": env_id, "project_id": project_id})


async def delete(db: AsyncIOMotorDatabase, project_id: str, env_id: str, session: AsyncIOMotorClientSession) -> None:
    result = await db[COLLECTION].delete_one({"_id": env_id, "project_id": project_id}, session=session)
    if result.deleted_count == 0:
        raise missing(env_id)


async def page(db: AsyncIOMotorDatabase, project_id: str, q: ListEnvironments) -> tuple[int, list[Environment]]:
    sort_field = "name_key" if q.order_by == "name" else q.order_by
    total, docs = await mongo.page(db[COLLECTION], {"project_id": project_id}, sort_field, q.order, q.offset, q.limit)
    return total, [_env(d) for d in docs]