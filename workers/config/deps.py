"""What the config worker's handlers use, built once per process by ``workers/config/app.py``
(its composition root) and handed to each handler through FastStream's context
(``deps: ConfigDeps = Context()``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workers.config.deletion_consumers import DeletionConsumers
from workers.config.kie_waiters import KieWaiters
from workers.config.lifecycle_lookup import LifecycleLookup
from workers.runtime import WorkerDeps


@dataclass
class ConfigDeps(WorkerDeps):
    lifecycle: LifecycleLookup
    deletion_consumers: DeletionConsumers = field(default_factory=DeletionConsumers)
    kie_waiters: KieWaiters = field(default_factory=KieWaiters)  # Kie long polls (workers/config/kie_waiters.py)

    async def start(self) -> None:
        await self.kie_waiters.start(self.nc)
        await self.deletion_consumers.start(self)

    async def stop(self) -> None:
        await self.kie_waiters.stop()
        await self.deletion_consumers.stop()
