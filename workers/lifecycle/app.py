"""The lifecycle worker's FastStream app: `openstage worker lifecycle`."""
from __future__ import annotations

from faststream import FastStream

from services.store import environments as environment_store
from services.subjects import LIFECYCLE
from workers.lifecycle import environments, metadata
from workers.runtime import WorkerContext, build_worker

ROUTERS = [metadata.router, environments.router]


async def _indexes(c: WorkerContext) -> None:
    await environment_store.ensure_indexes(c.db)


def build() -> FastStream:
    return build_worker(LIFECYCLE, ROUTERS, on_startup=[_indexes])
