"""A collection of named pydantic documents: what the environments, applications and components
collections share (services/adapters/store/{environments,applications,components}.py).

Each document is one model stored with ``_id`` = its ``id`` and ``name_key`` = its name ignoring
case (``services.domain.lifecycle.entities.name_key``), unique among the documents of the same
parents: the project for environments and applications, the project and the application for
components. A document's key is its parents' values then its id, e.g. ``(project_id, env_id)``
or ``(project_id, application_id, component_id)``: every read and write filters on all of them,
so an id under the wrong project (or application) is a 404. Filters are built only from the
key's strings, never from a dict taken from input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.adapters.store import group_inserts, mongo
from services.contracts import errors
from services.contracts.envelope import Page
from services.domain.lifecycle.entities import name_key

Document = dict[str, Any]


class NamedModel(Protocol):
    """What a document model has (Environment, Application, Component)."""

    id: str
    name: str
    project_id: str

    def model_dump(self, *, mode: str = "python", by_alias: bool | None = None) -> Document: ...

    @classmethod
    def model_validate(cls, obj: Any) -> Self: ...


M = TypeVar("M", bound=NamedModel)


def _unchanged(doc: Document) -> Document:
    return doc


@dataclass(frozen=True)
class NamedDocuments(Generic[M]):
    """One collection of ``model`` documents (``model`` has ``id``, ``name`` and the ``parents`` fields)."""

    collection: str
    model: type[M]
    parents: tuple[str, ...]  # the fields a document's name is unique within, e.g. ("project_id",)
    noun: str  # in error messages: "environment"
    not_found_code: str
    name_exists_code: str
    name_scope: str = ""  # how the name-taken message says where, e.g. " in this application"
    # the stored shape differs from the model's (e.g. keys holding dots): document -> stored and back
    to_stored: Callable[[Document], Document] = _unchanged
    from_stored: Callable[[Document], Document] = _unchanged
    # what order_by=name sorts on: the name ignoring case (``name_key``), or the name as it is
    # ("name": the instances, whose store sorts them so)
    name_sort_field: str = "name_key"

    # --- errors --------------------------------------------------------------------------------
    def missing(self, doc_id: str) -> errors.ServiceError:
        return errors.not_found(f"{self.noun} {doc_id} not found", self.not_found_code)

    def name_taken(self, name: str) -> errors.ServiceError:
        # The v2 reference lists 400 (not 409) for a create/modify that breaks a rule such as this one.
        return errors.bad_request(f"{self.noun} name {name!r} already exists{self.name_scope}", self.name_exists_code)

    # --- shapes and filters --------------------------------------------------------------------
    def key_of(self, doc: M) -> tuple[str, ...]:
        return (*(getattr(doc, p) for p in self.parents), doc.id)

    def _where(self, key: tuple[str, ...]) -> Document:
        *parents, doc_id = key
        return {"_id": doc_id, **dict(zip(self.parents, parents, strict=True))}

    def _within(self, parents: tuple[str, ...]) -> Document:
        """The parents' documents: ``$eq`` on each parent field, so nx-27017 serves the filter from
        the index the parents lead (``mongo.eq``; the same match as the plain values on MongoDB)."""
        return {p: mongo.eq(v) for p, v in zip(self.parents, parents, strict=True)}

    def _stored(self, doc: M) -> Document:
        stored = self.to_stored(doc.model_dump(mode="json"))
        stored["_id"] = doc.id
        stored["name_key"] = name_key(doc.name)
        return stored

    def _loaded(self, stored: Document) -> M:
        return self.model.model_validate(self.from_stored(stored))

    # --- operations ----------------------------------------------------------------------------
    async def ensure_indexes(self, db: AsyncDatabase) -> None:
        parents = [(p, ASCENDING) for p in self.parents]
        await db[self.collection].create_index([*parents, ("name_key", ASCENDING)], unique=True)
        await db[self.collection].create_index([*parents, ("create_time", DESCENDING)])

    async def get(self, db: AsyncDatabase, *key: str, session: AsyncClientSession | None = None) -> M:
        """The document of ``key``; a ServiceError 404 when there is none."""
        stored = await db[self.collection].find_one(self._where(key), session=session)
        if stored is None:
            raise self.missing(key[-1])
        return self._loaded(stored)

    async def insert(self, db: AsyncDatabase, doc: M, session: AsyncClientSession) -> None:
        """Add ``doc``; 400 when its name is taken among its siblings. In a group commit the insert
        is sent with the group's others (services/adapters/store/group_inserts.py)."""
        stored = self._stored(doc)
        if group_inserts.defer(self.collection, stored):
            return
        try:
            await db[self.collection].insert_one(stored, session=session)
        except DuplicateKeyError:
            raise self.name_taken(doc.name) from None

    async def replace(self, db: AsyncDatabase, doc: M, session: AsyncClientSession) -> None:
        """Write ``doc`` over the stored one (read in the same transaction); 400 name taken, 404 gone."""
        try:
            result = await db[self.collection].replace_one(self._where(self.key_of(doc)), self._stored(doc), session=session)
        except DuplicateKeyError:
            raise self.name_taken(doc.name) from None
        if result.matched_count == 0:
            raise self.missing(doc.id)

    async def delete(self, db: AsyncDatabase, *key: str, session: AsyncClientSession) -> None:
        result = await db[self.collection].delete_one(self._where(key), session=session)
        if result.deleted_count == 0:
            raise self.missing(key[-1])

    async def count(self, db: AsyncDatabase, *parents: str, session: AsyncClientSession | None = None) -> int:
        """How many documents the parents (e.g. project and application) hold."""
        return await mongo.count(db[self.collection], self._within(parents), session=session)

    async def page(self, db: AsyncDatabase, q: Page, *parents: str) -> tuple[int, list[M]]:
        """(total, one page) of the parents' documents in ``q``'s order; "name" sorts ignoring case."""
        sort_field = self.name_sort_field if q.order_by == "name" else q.order_by
        total, found = await mongo.page(db[self.collection], self._within(parents), sort_field, q.order, q.offset, q.limit)
        return total, [self._loaded(d) for d in found]
