"""The lifecycle worker's FastStream app: `openstage worker lifecycle`."""
from __future__ import annotations

from faststream import FastStream

from services.store import environments as environment_store
from services.store import applications as application_store
from services.store import components as component_store
from services.subjects import LIFECYCLE
from workers.lifecycle import environments, metadata
from workers.lifecycle import applications, components
from workers.runtime import WorkerContext, build_worker

ROUTERS = [metadata.router, environments.router]
ROUTERS += [applications.router, components.router]


async def _indexes(c: WorkerContext) -> None:
    await environment_store.ensure_indexes(c.db)
    await application_store.ensure_indexes(c.db)
    await component_store.ensure_indexes(c.db)


def build() -> FastStream:
    return build_worker(LIFECYCLE, ROUTERS, on_startup=[_indexes])
