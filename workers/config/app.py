"""The config worker's FastStream app: `openstage worker config`.

Append further routers (e.g. config-center items, ``workers/config/items.py``) to ROUTERS and
their index hooks to ON_STARTUP."""
from __future__ import annotations

from faststream import FastStream

from services.adapters.store import app_configurations as app_configuration_store
from services.contracts.subjects import CONFIG
from workers.config import app_configurations, items
from workers.runtime import WorkerContext, build_worker

ROUTERS = [app_configurations.router, items.router]
# CloudEvents type -> model of its data (the AsyncAPI document and docs/bus-reference.md list them)
EVENTS = {**app_configurations.EVENTS, **items.EVENTS}


async def _app_configuration_indexes(c: WorkerContext) -> None:
    await app_configuration_store.ensure_indexes(c.db)


# hooks run once the store and bus are connected (create indexes here)
ON_STARTUP = [_app_configuration_indexes, items.ensure_indexes]
# hooks run once the subscribers are live (start background consumers here), and at shutdown
AFTER_STARTUP = [app_configurations.start_deletion_consumers]
ON_SHUTDOWN = [app_configurations.stop_deletion_consumers]


def build() -> FastStream:
    return build_worker(CONFIG, ROUTERS, on_startup=ON_STARTUP, after_startup=AFTER_STARTUP, on_shutdown=ON_SHUTDOWN)
