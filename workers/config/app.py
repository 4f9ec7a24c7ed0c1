"""The config worker's FastStream app (`openstage worker config`) and its composition root."""

from __future__ import annotations

from faststream import FastStream

from services.adapters.store import app_configurations as app_configuration_store
from services.adapters.store import config_items as config_item_store
from services.adapters.store import kie_kvs as kie_kv_store
from services.contracts.subjects import CONFIG
from workers.config import app_configurations, items, kie_kvs
from workers.config.deletion_consumers import DeletionConsumers
from workers.config.deps import ConfigDeps
from workers.config.lifecycle_lookup import LifecycleLookup
from workers.runtime import WorkerDeps, build_worker

ROUTERS = [app_configurations.router, items.router, kie_kvs.router]
# CloudEvents type -> model of its data (the AsyncAPI document and docs/bus-reference.md list them)
EVENTS = {**app_configurations.EVENTS, **items.EVENTS, **kie_kvs.EVENTS}


async def compose(base: WorkerDeps) -> ConfigDeps:
    await app_configuration_store.ensure_indexes(base.db)
    await config_item_store.ensure_indexes(base.db)
    await kie_kv_store.ensure_indexes(base.db)
    return ConfigDeps(
        **base.base(), lifecycle=LifecycleLookup(base.nc, base.settings.request_timeout), deletion_consumers=DeletionConsumers()
    )


def build() -> FastStream:
    return build_worker(CONFIG, ROUTERS, compose)
