"""Clean-up after lifecycle deletions: the config worker consumes ``lifecycle.application.deleted``
and ``lifecycle.environment.deleted`` from the events stream (durable pull consumers shared by
every config worker process) and deletes the configurations of what was deleted, each as a new
revision with its event, so nothing is left behind. Redelivery is harmless: a configuration
already deleted is skipped."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson
from nats.errors import TimeoutError as NatsTimeout

from services.adapters.background import cancel_and_wait
from services.adapters.store import app_configurations as store
from services.contracts import errors, subjects
from services.contracts.events import CloudEvent
from services.contracts.subjects import LIFECYCLE
from workers.config.configuration_revisions import delete_revision

if TYPE_CHECKING:
    from workers.config.deps import ConfigDeps

log = logging.getLogger("openstage.config.deletion_consumers")

DELETION_CONSUMERS = {
    # durable consumer name -> (events it reads, which configurations a deletion removes)
    "config-application-deleted": (subjects.event("*", LIFECYCLE, "application", "deleted"), "application_id"),
    "config-environment-deleted": (subjects.event("*", LIFECYCLE, "environment", "deleted"), "environment_id"),
}


async def purge(deps: ConfigDeps, project: str, field: str, deleted_id: str) -> int:
    """Delete (as new revisions) the live configurations of a deleted application or environment."""
    removed = 0
    for cur in await store.live_for(deps.db, project, **{field: deleted_id}):
        reason = f"{field.removesuffix('_id')} {deleted_id} deleted"

        async def write(session, cur=cur, reason=reason) -> tuple[None, list[CloudEvent]]:
            fresh = await store.current(deps.db, project, cur.application_id, cur.environment_id, session)
            if fresh is None or fresh.deleted:
                return None, []
            return None, [await delete_revision(deps, project, fresh, "openstage", session, reason=reason)]

        try:
            await deps.outbox.transaction(write)
            removed += 1
        except errors.ServiceError as exc:  # changed meanwhile: the next delivery looks again
            log.info("configuration %s/%s not purged yet: %s", cur.application_id, cur.environment_id, exc.message)
            raise
    return removed


class DeletionConsumers:
    """The two durable consumers and the tasks that drain them (started once the worker is live)."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task] = []
        self._subs: list = []

    async def start(self, deps: ConfigDeps) -> None:
        for durable, (subject, field) in DELETION_CONSUMERS.items():
            sub = await deps.js.pull_subscribe(subject, durable=durable, stream=subjects.EVENTS_STREAM)
            self._subs.append(sub)
            self._tasks.append(asyncio.create_task(self._consume(deps, sub, field), name=durable))

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:
                pass
        self._subs.clear()

    @staticmethod
    async def _consume(deps: ConfigDeps, sub, field: str) -> None:
        while True:
            try:
                msgs = await sub.fetch(16, timeout=1)
            except (TimeoutError, NatsTimeout):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # bus reconnecting: try again shortly
                log.warning("deletion consumer: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                try:
                    event = CloudEvent.model_validate(orjson.loads(msg.data))
                    deleted_id = event.data["id"]
                    n = await purge(deps, event.openstageproject, field, deleted_id)
                    if n:
                        log.info("purged %d configuration(s) of deleted %s %s", n, field, deleted_id)
                    await msg.ack()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("deletion event %s not handled yet: %s", msg.subject, exc)
                    await msg.nak(delay=1)
