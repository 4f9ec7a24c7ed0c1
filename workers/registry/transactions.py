"""Every registry change: one outbox transaction (the state change and its events), then this
process's caches apply those events at once, so its next read sees the change without waiting
for the event to come back over NATS (the other processes apply it when it does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from services.adapters.store.outbox import Outbox
from services.contracts.events import CloudEvent
from workers.registry.caches import RegistryCaches

T = TypeVar("T")
Write = Callable[[Any], Awaitable[tuple[T, Sequence[CloudEvent]]]]


def apply_events(caches: RegistryCaches, project: str, events: Sequence[CloudEvent]) -> None:
    for e in events:
        entity, verb = e.type.rsplit(".", 2)[-2:]
        caches.apply_event(project, entity, verb, e.data)


async def commit_and_apply(outbox: Outbox, caches: RegistryCaches, project: str, write: Write[T]) -> T:
    """``outbox.transaction(write)`` (``write(session)`` returns ``(result, events)``), then the
    caches apply the events ``write`` produced, whatever happened after it (a cache entry dropped
    is only a miss; an instance remembered that does not exist is forgotten by the next lease
    flush)."""
    produced: list[CloudEvent] = []

    async def wrapped(session: Any) -> tuple[T, Sequence[CloudEvent]]:
        result, events = await write(session)
        produced[:] = list(events)
        return result, events

    try:
        return await outbox.transaction(wrapped)
    finally:
        if produced:
            apply_events(caches, project, produced)
