"""What the config worker's handlers use, built once per process by ``workers/config/app.py``
(its composition root) and handed to each handler through FastStream's context
(``deps: ConfigDeps = Context()``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workers.config.deletion_consumers import DeletionConsumers
from workers.config.lifecycle_lookup import LifecycleLookup
from workers.runtime import WorkerDeps


@dataclass
class ConfigDeps(WorkerDeps):
    lifecycle: LifecycleLookup
    deletion_consumers: DeletionConsumers = field(default_factory=DeletionConsumers)

    async def start(self) -> None:
        await self.deletion_consumers.start(self)

    async def stop(self) -> None:
        await self.deletion_consumers.stop()
