"""Read models: the environments of a project kept in a lifecycle process's memory, so ``show``
and ``list`` do not go to the store (on nx-27017 a list is a scan of the project's documents: its
sort is not served by the index).

Only a collection whose **every** write emits an event carrying the whole document can have one:
environments are written only through ``EntityWrites`` (workers/lifecycle/crud.py). Applications
are not (their ``component_count`` is changed in the components' transactions without an
application event, services/adapters/store/applications.py ``add_components``), nor are
components (marked for deletion in place), so they read the store.

A project's documents are loaded on its first read (one query), then kept true by events:

* this process's own changes are applied **at commit**, before their events are even published
  (``Outbox.commit_listeners``), in commit order: a read after a write of this process sees it;
* a change made by another process (its event, heard on the bus, is not one of this process's)
  **drops** the project's documents; the next read loads them again. Merging is never attempted,
  so an event arriving late or out of order can never make the model wrong, only cold;
* a load that raced a change of its project (a generation counts them) serves its request but is
  not kept.

What remains is the delay of an event between processes (the same window as the registry's
caches): a process may answer from its memory for a few milliseconds after another process
changed the project. A show that finds nothing asks the store, so a resource created elsewhere is
never reported missing. Lists are sorted as ``mongo.page`` sorts (``order_by`` then ``_id``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic

import orjson
from motor.motor_asyncio import AsyncIOMotorDatabase
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from services.adapters import bus
from services.adapters.store.documents import M, NamedDocuments
from services.adapters.store.mongo import UNPAGED_MAX
from services.contracts.envelope import Page
from services.contracts.events import CloudEvent
from services.contracts.subjects import EVT_PREFIX, LIFECYCLE
from services.domain.lifecycle.entities import name_key

log = logging.getLogger("openstage.lifecycle.read_models")

MAX_OWN_EVENTS = 100_000
# Documents kept per read model at most (every project's); past it, the projects loaded so far go.
MAX_DOCUMENTS = 500_000
Parents = tuple[str, ...]


@dataclass
class _Project(Generic[M]):
    docs: dict[str, M]
    sorted: dict[tuple[str, str], list[M]] = field(default_factory=dict)


class NamedReadModel(Generic[M]):
    """The documents of one :class:`NamedDocuments` collection, per parents (e.g. the project)."""

    def __init__(self, db: AsyncIOMotorDatabase, documents: NamedDocuments[M], entity: str) -> None:
        self.db = db
        self.documents = documents
        self.entity = entity
        self.projects: dict[Parents, _Project[M]] = {}
        self.generations: dict[Parents, int] = {}
        self._own: set[str] = set()  # ids of this process's events not heard back yet
        self._loading: dict[Parents, asyncio.Task] = {}

    # --- reads -----------------------------------------------------------------------------------
    async def get(self, *key: str) -> M:
        """The document of ``key`` (404 as the store answers it)."""
        parents, doc_id = tuple(key[:-1]), key[-1]
        project = self.projects.get(parents)
        if project is None:
            self._load_later(parents)
        else:
            found = project.docs.get(doc_id)
            if found is not None:
                return found
        return await self.documents.get(self.db, *key)

    async def page(self, q: Page, *parents: str) -> tuple[int, list[M]]:
        """(total, one page) in ``q``'s order, as ``NamedDocuments.page`` answers it."""
        docs = await self._documents(tuple(parents))
        field_name = "name_key" if q.order_by == "name" else q.order_by
        ordered = self._sorted(tuple(parents), docs, field_name, q.order)
        if ordered is None:  # a value the in-memory order cannot compare as MongoDB does
            return await self.documents.page(self.db, q, *parents)
        return len(ordered), ordered[q.offset : q.offset + (q.limit or UNPAGED_MAX)]

    def _sorted(self, parents: Parents, docs: _Project[M], field_name: str, order: str) -> list[M] | None:
        cached = docs.sorted.get((field_name, order))
        if cached is not None:
            return cached
        keys = []
        for doc in docs.docs.values():
            value = name_key(doc.name) if field_name == "name_key" else getattr(doc, field_name, None)
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                return None
            keys.append(((value, doc.id), doc))
        if len({type(k[0][0]) for k in keys}) > 1:
            return None
        keys.sort(key=lambda k: k[0], reverse=order == "desc")
        ordered = [doc for _, doc in keys]
        if self.projects.get(parents) is docs:
            docs.sorted[(field_name, order)] = ordered
        return ordered

    async def _documents(self, parents: Parents) -> _Project[M]:
        project = self.projects.get(parents)
        if project is not None:
            return project
        return await asyncio.shield(self._load_later(parents))  # concurrent first reads share one load

    def _load_later(self, parents: Parents) -> asyncio.Task:
        task = self._loading.get(parents)
        if task is None:
            task = asyncio.create_task(self._load(parents), name=f"read-model-{self.entity}")
            self._loading[parents] = task
            task.add_done_callback(lambda t: self._loaded_or_failed(parents, t))
        return task

    def _loaded_or_failed(self, parents: Parents, task: asyncio.Task) -> None:
        self._loading.pop(parents, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s read model: loading %s failed: %s", self.entity, parents, task.exception())

    async def _load(self, parents: Parents) -> _Project[M]:
        generation = self.generations.get(parents, 0)
        cursor = self.db[self.documents.collection].find(self.documents._within(parents))
        loaded = _Project({d["_id"]: self.documents._loaded(d) async for d in cursor})
        if self.generations.get(parents, 0) == generation:  # nothing changed meanwhile: keep it
            if sum(len(p.docs) for p in self.projects.values()) + len(loaded.docs) > MAX_DOCUMENTS:
                self.projects.clear()  # bounded memory: they load again when read
            self.projects[parents] = loaded
        return loaded

    # --- changes ---------------------------------------------------------------------------------
    def _changed(self, parents: Parents) -> None:
        self.generations[parents] = self.generations.get(parents, 0) + 1

    def apply_own(self, event: CloudEvent, verb: str) -> None:
        """One of this process's committed changes (in commit order)."""
        if len(self._own) >= MAX_OWN_EVENTS:
            self._own.clear()
        self._own.add(event.id)
        try:
            doc = self.documents.model.model_validate(event.data)
        except Exception:  # not a whole resource: be safe
            self.projects.clear()
            return
        parents = tuple(getattr(doc, p) for p in self.documents.parents)
        self._changed(parents)
        project = self.projects.get(parents)
        if project is None:
            return
        project.sorted.clear()
        if verb == "deleted":
            project.docs.pop(doc.id, None)
        else:
            project.docs[doc.id] = doc

    def heard(self, event_id: str, data: Any) -> None:
        """An event of this entity heard on the bus: this process's own (already applied) or
        another's (the project's documents are dropped)."""
        if event_id in self._own:
            self._own.discard(event_id)
            return
        try:
            parents = tuple(str(data[_alias(self.documents, p)]) for p in self.documents.parents)
        except Exception:  # unreadable: drop everything
            self.projects.clear()
            return
        self._changed(parents)
        self.projects.pop(parents, None)

    def clear(self) -> None:
        for parents in list(self.projects):
            self._changed(parents)
        self.projects.clear()


def _alias(documents: NamedDocuments, field_name: str) -> str:
    info = documents.model.model_fields.get(field_name)  # type: ignore[attr-defined]
    return (info.alias if info is not None and info.alias else field_name) if info is not None else field_name


class LifecycleReadModels:
    """The read models of one lifecycle process and what keeps them true (see the module)."""

    def __init__(self, models: Sequence[NamedReadModel]) -> None:
        self.by_entity = {m.entity: m for m in models}
        self.nc: NATS | None = None

    def on_commit(self, events: Sequence[CloudEvent]) -> None:
        """``Outbox.commit_listeners``: this process's committed events."""
        for e in events:
            _, _, entity, verb = e.type.rsplit(".", 3)
            model = self.by_entity.get(entity)
            if model is not None:
                model.apply_own(e, verb)

    def on_message(self, subject: str, payload: bytes) -> None:
        # openstage.evt.<project>.lifecycle.<entity>.<verb>
        parts = subject.split(".")
        if len(parts) != 6 or f"{parts[0]}.{parts[1]}" != EVT_PREFIX or parts[3] != LIFECYCLE:
            return
        model = self.by_entity.get(parts[4])
        if model is None:
            return
        try:
            event = orjson.loads(payload)
            model.heard(event["id"], event.get("data") or {})
        except Exception:  # unreadable: be safe
            model.clear()

    async def subscribe(self, nats_url: str) -> None:
        """Hear every lifecycle event of the watched entities (core NATS, from now on) on a
        connection of its own; when it drops or comes back (events may have been missed),
        everything is dropped."""

        async def lost(*_args: object) -> None:
            self.lost()

        async def on_event(msg: Msg) -> None:
            self.on_message(msg.subject, msg.data)

        self.nc = await bus.connect(nats_url, name="openstage-lifecycle-read-models", disconnected_cb=lost, reconnected_cb=lost)
        for entity in self.by_entity:
            await self.nc.subscribe(f"{EVT_PREFIX}.*.{LIFECYCLE}.{entity}.>", cb=on_event)
        await self.nc.flush()

    def lost(self) -> None:
        for model in self.by_entity.values():
            model.clear()

    async def start(self) -> None:
        """(Subscribed when built, before the handlers answer: nothing to start.)"""

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # shutting down
            if self.nc is not None:
                await self.nc.drain()


async def build_read_models(db: AsyncIOMotorDatabase, outbox: Any, nats_url: str | None) -> LifecycleReadModels:
    """The read models of a lifecycle process (environments): they hear the process's own
    commits (``outbox.commit_listeners``) and, on a connection of their own, every other
    process's events; built once by the composition root (workers/lifecycle/app.py)."""
    from services.adapters.store.environments import ENVIRONMENTS

    models = LifecycleReadModels([NamedReadModel(db, ENVIRONMENTS, "environment")])
    outbox.commit_listeners.append(models.on_commit)
    if nats_url:  # (in-process handler tests have no bus: their own commits suffice)
        await models.subscribe(nats_url)
    return models
