"""The components collection (owned by the lifecycle worker): named documents unique per application.

A component belongs to exactly one application: its key is (project_id, application_id, id), so a
component id under the wrong application (or project) is a 404. The instances module resolves the
component an instance is deployed from with ``get``."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.store import mongo
from services.adapters.store.component_instances import INSTANCES
from services.adapters.store.documents import Document, NamedDocuments
from services.contracts import errors
from services.contracts.components import Component, ComponentInstanceOverview


def _label_pairs(doc: Document) -> Document:
    """Label keys such as "kubernetes.io/arch" hold dots: stored as [key, value] pairs, never as
    field names of the stored document."""
    build = doc.get("build")
    if build and build.get("parameters", {}).get("node_label_selector") is not None:
        build["parameters"]["node_label_selector"] = [[k, v] for k, v in build["parameters"]["node_label_selector"].items()]
    return doc


def _label_dict(doc: Document) -> Document:
    build = doc.get("build")
    if build and isinstance(build.get("parameters", {}).get("node_label_selector"), list):
        build["parameters"]["node_label_selector"] = {k: v for k, v in build["parameters"]["node_label_selector"]}
    return doc


COMPONENTS = NamedDocuments(
    collection="components",
    model=Component,
    parents=("project_id", "application_id"),
    noun="component",
    not_found_code=errors.COMPONENT_NOT_FOUND,
    name_exists_code=errors.COMPONENT_NAME_EXISTS,
    name_scope=" in this application",
    to_stored=_label_pairs,
    from_stored=_label_dict,
)
ensure_indexes = COMPONENTS.ensure_indexes


async def get(
    db: AsyncDatabase, project_id: str, application_id: str, component_id: str, session: AsyncClientSession | None = None
) -> Component:
    """The component an instance is deployed from (404 SVCSTG.00100621 when there is none)."""
    return await COMPONENTS.get(db, project_id, application_id, component_id, session=session)


# --- the instances of components, as the component overviews show them ------------------------
def _instance_overview(doc: dict[str, Any]) -> ComponentInstanceOverview:
    """An instance document as the overview shows it: the SDK's field names where the document
    has them (``instance_id``/``id``/``_id``, ``instance_name``/``name``)."""
    data = {k: v for k, v in doc.items() if k in ComponentInstanceOverview.model_fields}
    data["instance_id"] = str(doc.get("instance_id") or doc.get("id") or doc.get("_id"))
    data.setdefault("instance_name", doc.get("name"))
    for key in list(data):
        try:
            ComponentInstanceOverview.model_validate({"instance_id": "x", key: data[key]})
        except Exception:  # a field the owner stores in another shape: left out of the overview
            data.pop(key)
    return ComponentInstanceOverview.model_validate(data)


async def instance_overviews(
    db: AsyncDatabase, project_id: str, application_id: str, component_ids: list[str]
) -> dict[str, list[ComponentInstanceOverview]]:
    """{component id: its instances} for the given components of one application (read from the
    instances collection, which the instances module writes)."""
    found: dict[str, list[ComponentInstanceOverview]] = {c: [] for c in component_ids}
    if not component_ids:
        return found
    query = {"project_id": mongo.eq(project_id), "application_id": mongo.eq(application_id), "component_id": {"$in": component_ids}}
    cursor = db[INSTANCES].find(query)
    async for doc in cursor:
        found.setdefault(doc.get("component_id"), []).append(_instance_overview(doc))
    return found
