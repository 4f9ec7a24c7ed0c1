"""What the registry worker's handlers use: the shared worker parts plus the process's caches,
its lease keeper, the subscription that keeps the caches true and the fast path. Built once per
process by ``workers.registry.app.compose``; every handler declares ``deps: RegistryDeps = Context()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from services.adapters.registry_events import RegistryEventSubscription
from workers.registry.caches import RegistryCaches
from workers.registry.leases import LeaseKeeper
from workers.registry.transactions import Write, commit_and_apply
from workers.runtime import WorkerDeps

if TYPE_CHECKING:
    from workers.registry.fast_path import FastPath
    from workers.registry.registrations import RegistrationBatcher

T = TypeVar("T")


@dataclass
class RegistryDeps(WorkerDeps):
    caches: RegistryCaches
    leases: LeaseKeeper
    cache_events: RegistryEventSubscription
    fast_path: FastPath | None = None  # set by compose (it calls the handlers with these deps)
    registrations: RegistrationBatcher | None = None  # set by compose: registrations written in batches

    async def commit(self, project: str, write: Write[T]) -> T:
        """One outbox transaction, then this process's caches apply its events at once."""
        return await commit_and_apply(self.outbox, self.caches, project, write)

    async def subscribe(self) -> None:
        """Subscribe, each on a connection of its own, what must be live before the worker takes
        its first command (the broker's subscribers and its ping start after this): first the
        events that keep the caches true, then the fast path's subjects."""
        url = self.settings.nats_url
        assert url is not None  # build_worker does not start without one
        await self.cache_events.subscribe(url)
        if self.fast_path is not None:
            await self.fast_path.subscribe(url)

    async def start(self) -> None:
        """The lease loop: flush heartbeats, expire lapsed instances."""
        self.leases.start()

    async def stop(self) -> None:
        """Stop answering first (the fast path drains), then flush the leases, then the events."""
        if self.fast_path is not None:
            await self.fast_path.stop()
        await self.leases.stop()
        await self.cache_events.stop()


__all__ = ["RegistryDeps"]
