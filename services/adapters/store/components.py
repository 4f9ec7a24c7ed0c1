"""The components collection (owned by the lifecycle worker).

A component belongs to exactly one application: every read and write filters on
(project_id, application_id, _id), so a component id under the wrong application (or project) is
a 404. Other modules of the lifecycle worker (instances) use ``get`` to resolve the component an
instance is deployed from."""
from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from services.adapters.store import mongo
from services.contracts import errors
from services.contracts.components import Component, ListComponents

COLLECTION = "components"


def name_key(name: str) -> str:
    """Component names are case-insensitive (the reference: "Letters are case insensitive")."""
    return name.lower()


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    await db[COLLECTION].create_index(
        [("project_id", ASCENDING), ("application_id", ASCENDING), ("name_key", ASCENDING)], unique=True
    )
    await db[COLLECTION].create_index(
        [("project_id", ASCENDING), ("application_id", ASCENDING), ("create_time", DESCENDING)]
    )


def _doc(component: Component) -> dict:
    doc = component.model_dump(mode="json")
    # Label keys such as "kubernetes.io/arch" hold dots: kept as [key, value] pairs, never as
    # field names of the stored document.
    build = doc.get("build")
    if build and build.get("parameters", {}).get("node_label_selector") is not None:
        build["parameters"]["node_label_selector"] = [
            [k, v] for k, v in build["parameters"]["node_label_selector"].items()
        ]
    doc["_id"] = component.id
    doc["name_key"] = name_key(component.name)
    return doc


def _component(doc: dict) -> Component:
    build = doc.get("build")
    if build and isinstance(build.get("parameters", {}).get("node_label_selector"), list):
        build["parameters"]["node_label_selector"] = {k: v for k, v in build["parameters"]["node_label_selector"]}
    return Component.model_validate(doc)


def name_taken(name: str) -> errors.ServiceError:
    # 400 (not 409), as the v2 reference lists for a create/modify that breaks a rule.
    return errors.bad_request(f"component name {name!r} already exists in this application",
                              errors.COMPONENT_NAME_EXISTS)


def missing(component_id: str) -> errors.ServiceError:
    return errors.not_found(f"component {component_id} not found", errors.COMPONENT_NOT_FOUND)


async def get(db: AsyncIOMotorDatabase, project_id: str, application_id: str, component_id: str,
              session: AsyncIOMotorClientSession | None = None) -> Component:
    """The component ``component_id`` of application ``application_id`` in ``project_id``;
    a ServiceError 404 (SVCSTG.00100621) when there is none."""
    doc = await db[COLLECTION].find_one(
        {"_id": component_id, "project_id": project_id, "application_id": application_id}, session=session
    )
    if doc is None:
        raise missing(component_id)
    return _component(doc)


async def insert(db: AsyncIOMotorDatabase, component: Component, session: AsyncIOMotorClientSession) -> None:
    try:
        await db[COLLECTION].insert_one(_doc(component), session=session)
    except DuplicateKeyError:
        raise name_taken(component.name) from None


async def replace(db: AsyncIOMotorDatabase, component: Component, session: AsyncIOMotorClientSession) -> None:
    try:
        result = await db[COLLECTION].replace_one(
            {"_id": component.id, "project_id": component.project_id, "application_id": component.application_id},
            _doc(component), session=session,
        )
    except DuplicateKeyError:
        raise name_taken(component.name) from None
    if result.matched_count == 0:
        raise missing(component.id)


async def delete(db: AsyncIOMotorDatabase, project_id: str, application_id: str, component_id: str,
                 session: AsyncIOMotorClientSession) -> None:
    result = await db[COLLECTION].delete_one(
        {"_id": component_id, "project_id": project_id, "application_id": application_id}, session=session
    )
    if result.deleted_count == 0:
        raise missing(component_id)


async def count_in_application(db: AsyncIOMotorDatabase, project_id: str, application_id: str,
                               session: AsyncIOMotorClientSession | None = None) -> int:
    return await mongo.count(db[COLLECTION], {"project_id": project_id, "application_id": application_id}, session=session)


async def page(db: AsyncIOMotorDatabase, project_id: str, q: ListComponents) -> tuple[int, list[Component]]:
    query = {"project_id": project_id, "application_id": q.application_id}
    sort_field = "name_key" if q.order_by == "name" else q.order_by
    total, docs = await mongo.page(db[COLLECTION], query, sort_field, q.order, q.offset, q.limit)
    return total, [_component(d) for d in docs]