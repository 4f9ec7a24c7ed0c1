"""The writes environments, applications and components share.

Each write is one outbox transaction (``deps.outbox.transaction``): it reads what it needs inside
the transaction, writes the document and commits the CloudEvent of the change with it
(``io.openstage.lifecycle.<entity>.<verb>``, ``subject`` = the resource's API path, ``data`` =
the resource as the API returns it). The handlers stay in ``workers/lifecycle/<entity>s.py``,
one named function per subject; they build the resource with the domain rules and call these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic

from pymongo.asynchronous.client_session import AsyncClientSession

from services.adapters.store.documents import M, NamedDocuments
from services.contracts import subjects
from services.contracts.events import CloudEvent
from services.contracts.subjects import LIFECYCLE
from workers.lifecycle.deps import LifecycleDeps

Session = AsyncClientSession
# Another write or check of the same transaction, given the resource (e.g. counting the
# application's components); it raises a ServiceError to refuse.
Step = Callable[[M, Session], Awaitable[None]]
# A delete guard (``deps.delete_guards``), called with the resource's key and the session.
Guard = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class EntityWrites(Generic[M]):
    """Create, change and delete of one kind of lifecycle resource, each with its event."""

    entity: str  # "environment": the event types io.openstage.lifecycle.environment.<verb>
    documents: NamedDocuments[M]
    api_path: Callable[[M], str]  # e.g. /v2/{project}/cas/environments/{id}: the events' subject

    def event(self, resource: M, verb: str) -> CloudEvent:
        data = resource.model_dump(mode="json", by_alias=True)
        return CloudEvent.new(resource.project_id, LIFECYCLE, self.entity, verb, resource_path=self.api_path(resource), data=data)

    def event_models(self, *verbs: str) -> dict[str, type[M]]:
        """{CloudEvents type: model of its data} for the bus documentation."""
        return {subjects.event_type(LIFECYCLE, self.entity, verb): self.documents.model for verb in verbs}

    async def create(self, deps: LifecycleDeps, resource: M, first: Step[M] | None = None) -> M:
        """Insert ``resource`` (400 when its name is taken); ``first`` runs before, in the same transaction."""

        async def write(session: Session) -> tuple[M, list[CloudEvent]]:
            if first is not None:
                await first(resource, session)
            await self.documents.insert(deps.db, resource, session)
            return resource, [self.event(resource, "created")]

        return await deps.outbox.transaction(write)

    async def change(self, deps: LifecycleDeps, key: tuple[str, ...], edit: Callable[[M], M], verb: str = "updated") -> M:
        """Read the resource of ``key`` (404), write ``edit(resource)`` and emit ``verb``."""

        async def write(session: Session) -> tuple[M, list[CloudEvent]]:
            changed = edit(await self.documents.get(deps.db, *key, session=session))
            await self.documents.replace(deps.db, changed, session)
            return changed, [self.event(changed, verb)]

        return await deps.outbox.transaction(write)

    async def delete(self, deps: LifecycleDeps, key: tuple[str, ...], guards: Sequence[Guard], first: Step[M] | None = None) -> None:
        """Delete the resource of ``key`` (404) unless ``first`` or a guard refuses; guards are
        called as ``guard(*key, session)``."""

        async def write(session: Session) -> tuple[None, list[CloudEvent]]:
            resource = await self.documents.get(deps.db, *key, session=session)
            if first is not None:
                await first(resource, session)
            for guard in guards:
                await guard(*key, session)
            await self.documents.delete(deps.db, *key, session=session)
            return None, [self.event(resource, "deleted")]

        await deps.outbox.transaction(write)
