"""Read models: the environments, applications and components of a project kept in a lifecycle
process's memory, so ``show`` and ``list`` do not go to the store (on nx-27017 a list is a scan of
the project's documents: its sort is not served by the index).

Only a collection whose writes all emit an event carrying the whole document can have one:
environments, applications and components are written through ``EntityWrites``
(workers/lifecycle/crud.py) and the component delete paths of workers/lifecycle/components.py,
each with its event (a forced delete's mark is ``component.deleting`` with the marked document).
One write has no event of its own: an application's ``component_count`` moves in the transaction
of a component's create or delete (services/adapters/store/applications.py ``add_components``), so
every component event also drops its project's applications (``follows``). Instances are also
written without an event carrying them whole (the job lock, the job's steps), so their model never
merges a change: every instance, job or task event, this process's own included, drops the
project's instances (``apply_own_changes=False``); they are read from memory between jobs.

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
from typing import Any, Generic, Protocol

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters import bus
from services.adapters.store.documents import M, NamedDocuments
from services.adapters.store.mongo import UNPAGED_MAX
from services.contracts.applications import Application
from services.contracts.component_instances import Instance
from services.contracts.components import Component
from services.contracts.environments import Environment
from services.contracts.events import CloudEvent
from services.contracts.subjects import EVT_PREFIX, LIFECYCLE
from services.domain.lifecycle.entities import name_key

log = logging.getLogger("openstage.lifecycle.read_models")

MAX_OWN_EVENTS = 100_000
# Documents kept per read model at most (every project's); past it, the projects loaded so far go.
MAX_DOCUMENTS = 500_000
Parents = tuple[str, ...]


class PageQuery(Protocol):
    """What a list query gives: ``Page`` and the instances' ``ListInstances``."""

    limit: int | None
    offset: int
    order_by: str
    order: str


@dataclass
class _Project(Generic[M]):
    docs: dict[str, M]
    sorted: dict[tuple[str, str], list[M]] = field(default_factory=dict)
    # each document's JSON as replies carry it (by alias, no None), made on its first answer
    json: dict[str, bytes] = field(default_factory=dict)


class NamedReadModel(Generic[M]):
    """The documents of one :class:`NamedDocuments` collection, per parents (e.g. the project)."""

    def __init__(self, db: AsyncDatabase, documents: NamedDocuments[M], entity: str, list_key: str, apply_own_changes: bool = True) -> None:
        self.db = db
        self.documents = documents
        self.entity = entity
        self.list_key = list_key  # the list reply's field: {"count": n, "<list_key>": [...]}
        # False: this process's own changes drop the project too (its documents are also written
        # without an event carrying them whole: the instances' job lock)
        self.apply_own_changes = apply_own_changes
        self.projects: dict[Parents, _Project[M]] = {}
        self.generations: dict[Parents, int] = {}
        self._loading: dict[Parents, asyncio.Task] = {}

    # --- reads from memory only (the fast path: None = not in memory, ask the store) -------------
    def cached(self, *key: str) -> M | None:
        """The document of ``key`` if its parents are loaded and hold it; else None (and the
        parents start loading, so the next read finds them)."""
        parents, doc_id = tuple(key[:-1]), key[-1]
        project = self.projects.get(parents)
        if project is None:
            self._load_later(parents)
            return None
        return project.docs.get(doc_id)

    def cached_json(self, *key: str) -> bytes | None:
        """``cached(*key)`` as the JSON a reply carries."""
        doc = self.cached(*key)
        if doc is None:
            return None
        return self._json(self.projects[tuple(key[:-1])], doc)

    def cached_page_json(self, q: PageQuery, *parents: str) -> bytes | None:
        """``page(q, *parents)`` as the list reply's JSON (``{"count": n, "<list_key>": [...]}``),
        if the parents are loaded; else None (and they start loading)."""
        key = tuple(parents)
        project = self.projects.get(key)
        if project is None:
            self._load_later(key)
            return None
        ordered = self._ordered(key, project, q)
        if ordered is None:
            return None
        page = ordered[q.offset : q.offset + (q.limit or UNPAGED_MAX)]
        items = b",".join(self._json(project, doc) for doc in page)
        return b'{"count":%d,"%s":[%s]}' % (len(ordered), self.list_key.encode(), items)

    def _json(self, project: _Project[M], doc: M) -> bytes:
        found = project.json.get(doc.id)
        if found is None:
            found = doc.model_dump_json(by_alias=True, exclude_none=True).encode()
            if project.docs.get(doc.id) is doc:
                project.json[doc.id] = found
        return found

    # --- reads (from memory when loaded, else the store) ----------------------------------------
    async def get(self, *key: str) -> M:
        """The document of ``key`` (404 as the store answers it). A document not in memory is
        asked of the store: one created by another process is never reported missing."""
        found = self.cached(*key)
        if found is not None:
            return found
        return await self.documents.get(self.db, *key)

    async def page(self, q: PageQuery, *parents: str) -> tuple[int, list[M]]:
        """(total, one page) in ``q``'s order, as ``NamedDocuments.page`` answers it."""
        key = tuple(parents)
        docs = await self._documents(key)
        ordered = self._ordered(key, docs, q)
        if ordered is None:  # a value the in-memory order cannot compare as MongoDB does
            return await self.documents.page(self.db, q, *parents)  # type: ignore[arg-type]
        return len(ordered), ordered[q.offset : q.offset + (q.limit or UNPAGED_MAX)]

    def _ordered(self, parents: Parents, docs: _Project[M], q: PageQuery) -> list[M] | None:
        field_name = self.documents.name_sort_field if q.order_by == "name" else q.order_by
        cached = docs.sorted.get((field_name, q.order))
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
        keys.sort(key=lambda k: k[0], reverse=q.order == "desc")
        ordered = [doc for _, doc in keys]
        if self.projects.get(parents) is docs:
            docs.sorted[(field_name, q.order)] = ordered
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
        """One of this process's committed changes of this entity (in commit order)."""
        if not self.apply_own_changes:
            self.drop_project(event.openstageproject)
            return
        try:
            doc = self.documents.model.model_validate(event.data)
        except Exception:  # not a whole resource: be safe
            self.clear()
            return
        parents = tuple(getattr(doc, p) for p in self.documents.parents)
        self._changed(parents)
        project = self.projects.get(parents)
        if project is None:
            return
        project.sorted.clear()
        project.json.pop(doc.id, None)
        if verb == "deleted":
            project.docs.pop(doc.id, None)
        else:
            project.docs[doc.id] = doc

    def drop_project(self, project_id: str) -> None:
        """Forget every document of ``project_id`` (another process changed it, or a change this
        model cannot apply): the next read loads them again."""
        for parents in [p for p in self.projects if p[0] == project_id] + [p for p in self._loading if p[0] == project_id]:
            self._changed(parents)
            self.projects.pop(parents, None)

    def clear(self) -> None:
        for parents in list(self.projects) + list(self._loading):
            self._changed(parents)
        self.projects.clear()


class LifecycleReadModels:
    """The read models of one lifecycle process and what keeps them true (see the module).

    ``follows`` names, per model, the other entities whose changes also change its documents
    without an event of its own: an application's ``component_count`` moves in the transaction of
    a component's create or delete, so a component event drops its project's applications."""

    def __init__(self, models: Sequence[NamedReadModel], follows: dict[str, Sequence[str]] | None = None) -> None:
        self.by_entity = {m.entity: m for m in models}
        # entity of an event -> the models it drops (other than its own model)
        self.dependents: dict[str, list[NamedReadModel]] = {}
        for entity, followed in (follows or {}).items():
            for other in followed:
                self.dependents.setdefault(other, []).append(self.by_entity[entity])
        self._own: set[str] = set()  # ids of this process's events not heard back yet
        self.nc: NATS | None = None

    @property
    def environments(self) -> NamedReadModel[Environment]:
        return self.by_entity["environment"]

    @property
    def applications(self) -> NamedReadModel[Application]:
        return self.by_entity["application"]

    @property
    def components(self) -> NamedReadModel[Component]:
        return self.by_entity["component"]

    @property
    def instances(self) -> NamedReadModel[Instance]:
        return self.by_entity["instance"]

    def watched(self) -> set[str]:
        return set(self.by_entity) | set(self.dependents)

    def on_commit(self, events: Sequence[CloudEvent]) -> None:
        """``Outbox.commit_listeners``: this process's committed events."""
        for e in events:
            _, _, entity, verb = e.type.rsplit(".", 3)
            model = self.by_entity.get(entity)
            dependents = self.dependents.get(entity, ())
            if model is None and not dependents:
                continue
            if len(self._own) >= MAX_OWN_EVENTS:
                self._own.clear()
            self._own.add(e.id)
            if model is not None:
                model.apply_own(e, verb)
            for dependent in dependents:
                dependent.drop_project(e.openstageproject)

    def on_message(self, subject: str, payload: bytes) -> None:
        # openstage.evt.<project>.lifecycle.<entity>.<verb>
        parts = subject.split(".")
        if len(parts) != 6 or f"{parts[0]}.{parts[1]}" != EVT_PREFIX or parts[3] != LIFECYCLE:
            return
        entity, project = parts[4], parts[2]
        model = self.by_entity.get(entity)
        dependents = self.dependents.get(entity, ())
        if model is None and not dependents:
            return
        try:
            event_id = orjson.loads(payload)["id"]
        except Exception:  # unreadable: be safe
            event_id = None
        if event_id is not None and event_id in self._own:  # this process's own: applied at commit
            self._own.discard(event_id)
            return
        for affected in (model, *dependents) if model is not None else dependents:
            affected.drop_project(project)

    async def subscribe(self, nats_url: str) -> None:
        """Hear every lifecycle event of the watched entities (core NATS, from now on) on a
        connection of its own; when it drops or comes back (events may have been missed),
        everything is dropped."""

        async def lost(*_args: object) -> None:
            self.lost()

        async def on_event(msg: Msg) -> None:
            self.on_message(msg.subject, msg.data)

        self.nc = await bus.connect(nats_url, name="openstage-lifecycle-read-models", disconnected_cb=lost, reconnected_cb=lost)
        for entity in sorted(self.watched()):
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


async def build_read_models(db: AsyncDatabase, outbox: Any, nats_url: str | None) -> LifecycleReadModels:
    """The read models of a lifecycle process (environments, applications, components,
    instances): they
    hear the process's own commits (``outbox.commit_listeners``) and, on a connection of their
    own, every other process's events; built once by the composition root (workers/lifecycle/app.py)."""
    from services.adapters.store.applications import APPLICATIONS
    from services.adapters.store.component_instances import INSTANCE_READS
    from services.adapters.store.components import COMPONENTS
    from services.adapters.store.environments import ENVIRONMENTS

    models = LifecycleReadModels(
        [
            NamedReadModel(db, ENVIRONMENTS, "environment", "environments"),
            NamedReadModel(db, APPLICATIONS, "application", "applications"),
            NamedReadModel(db, COMPONENTS, "component", "components"),
            # an instance's job lock and job steps change it: every instance, job or task event
            # (this process's too) drops its project's instances
            NamedReadModel(db, INSTANCE_READS, "instance", "instances", apply_own_changes=False),
        ],
        follows={"application": ["component"], "instance": ["job", "task"]},
    )
    outbox.commit_listeners.append(models.on_commit)
    if nats_url:  # (in-process handler tests have no bus: their own commits suffice)
        await models.subscribe(nats_url)
    return models
