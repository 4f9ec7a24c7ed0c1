"""Handlers of openstage.cmd.<project>.config.app_configuration.*: per-environment application
configuration, versioned.

Existence of the application and the environment. The config worker owns no application or
environment data: before a change (and a read) it *asks the lifecycle worker*, requesting
``lifecycle.application.get`` and ``lifecycle.environment.get`` over the bus (both at once). The
answer is as fresh as the lifecycle store, so a configuration can be written right after its
application is created (a projection fed by events could lag behind). The lifecycle worker's own
404 (``SVCSTG.00100611`` / ``SVCSTG.00100601``) is returned unchanged; when no lifecycle worker
answers in time the call fails with 503 and nothing is written.

Deletions. The worker consumes ``lifecycle.application.deleted`` and
``lifecycle.environment.deleted`` from the events stream (durable pull consumers shared by every
config worker process) and deletes the configurations of what was deleted, each as a new
revision with its event, so nothing is left behind. A configuration written in the instant
between the existence check and a concurrent deletion of its application is invisible (every
read checks the application first) and is removed the same way if the deletion event is
consumed after it.

Events: ``openstage.evt.<project>.config.app_configuration.updated | deleted``, data = the new
revision's history entry (application_id, environment_id, revision, action, configuration,
creator, time, reason).
"""
from __future__ import annotations

import asyncio
import json
import logging

import orjson
from faststream import Path
from nats.errors import NoRespondersError, TimeoutError as NatsTimeout
from pydantic import BaseModel

from services.contracts import subjects

from services.contracts import errors
from services.adapters.clock import clock
from services.domain.config import app_configurations as rules
from services.contracts.app_configurations import (
    AppConfigurationHistory,
    AppConfigurationList,
    AppConfigurationQuery,
    AppConfigurationRef,
    AppConfigurationRevision,
    PutAppConfiguration,
)
from services.contracts.applications import ApplicationRef
from services.contracts.envelope import Reply
from services.contracts.environments import EnvironmentRef
from services.contracts.events import CloudEvent
from services.adapters.store import app_configurations as store
from services.adapters.store.app_configurations import Stored
from services.contracts.subjects import CONFIG, LIFECYCLE, Config, Lifecycle
from workers.runtime import WorkerContext, command_router, ctx, on_command

log = logging.getLogger("openstage.config.app_configurations")
router = command_router()

ENTITY = "app_configuration"
# {CloudEvents type: model of the event's data} (for the bus documentation)
EVENTS = {subjects.event_type(CONFIG, ENTITY, verb): AppConfigurationRevision for verb in ("updated", "deleted")}


# --- asking the lifecycle worker ----------------------------------------------------------------
def _lookup_timeout() -> float:
    # leave the edge (which waits request_timeout for our answer) time to get a reply from us
    return max(0.5, ctx.settings.request_timeout / 2)


async def _lifecycle_get(project: str, action: str, payload: BaseModel, what: str) -> dict:
    try:
        msg = await ctx.nc.request(subjects.command(project, LIFECYCLE, action),
                                   payload.model_dump_json().encode(), timeout=_lookup_timeout())
    except NoRespondersError:
        raise errors.unavailable(f"no lifecycle worker is running: cannot check the {what}") from None
    except (NatsTimeout, asyncio.TimeoutError):
        raise errors.unavailable(f"the lifecycle worker did not answer: cannot check the {what}") from None
    reply = orjson.loads(msg.data)
    err = reply.get("error")
    if err:
        raise errors.ServiceError(int(reply.get("status", 500)), err.get("error_code", errors.INTERNAL),
                                  err.get("error_msg", ""), err.get("detail", ""))
    return reply.get("result") or {}


async def require_references(project: str, application_id: str, environment_id: str | None) -> None:
    """404 unless the application (and the environment, when given) exist in the project."""
    lookups = [_lifecycle_get(project, Lifecycle.APPLICATION_GET, ApplicationRef(application_id=application_id),
                              "application")]
    if environment_id is not None:
        lookups.append(_lifecycle_get(project, Lifecycle.ENVIRONMENT_GET,
                                      EnvironmentRef(environment_id=environment_id), "environment"))
    results = await asyncio.gather(*lookups, return_exceptions=True)
    for result in results:  # the application's failure first
        if isinstance(result, BaseException):
            raise result


# --- events and revisions -----------------------------------------------------------------------
def _event(project: str, entry: AppConfigurationRevision, verb: str) -> CloudEvent:
    return CloudEvent.new(
        project, CONFIG, ENTITY, verb,
        resource_path=(f"/v2/{project}/cas/applications/{entry.application_id}/configuration"
                       f"?environment_id={entry.environment_id}"),
        data=entry.model_dump(mode="json"),
    )


async def _delete_revision(project: str, cur: Stored, creator: str, session, reason: str | None) -> CloudEvent:
    """Write the deletion of ``cur`` as its next revision; the event announcing it."""
    now = clock.millis()
    revision = rules.next_revision(cur.revision)
    new = cur.model_copy(update={"revision": revision, "deleted": True, "configuration": None,
                                 "creator": creator, "update_time": now})
    entry = AppConfigurationRevision(application_id=cur.application_id, environment_id=cur.environment_id,
                                     revision=revision, action="delete", configuration=None, creator=creator,
                                     time=now, reason=reason)
    await store.write_revision(ctx.db, new, cur.revision, entry, session)
    return _event(project, entry, "deleted")


# --- handlers -----------------------------------------------------------------------------------
@on_command(router, CONFIG, Config.APP_CONFIGURATION_PUT, "Add or replace an application's configuration in an environment")
async def put_configuration(body: PutAppConfiguration, project: str = Path()) -> Reply:
    application_id, environment_id = body.application_id, body.body.environment_id
    configuration = rules.normalized(body.body.configuration)
    await require_references(project, application_id, environment_id)

    async def write(session):
        cur = await store.current(ctx.db, project, application_id, environment_id, session)
        live = None if cur is None or cur.deleted else cur.configuration
        if not rules.is_change(live, configuration):
            return cur.view(), []  # the same variables again: no new revision, no event
        now = clock.millis()
        revision = rules.next_revision(cur.revision if cur else None)
        new = Stored(project_id=project, application_id=application_id, environment_id=environment_id,
                     revision=revision, deleted=False, configuration=configuration, creator=body.creator,
                     create_time=cur.create_time if live is not None else now, update_time=now)
        entry = AppConfigurationRevision(application_id=application_id, environment_id=environment_id,
                                         revision=revision, action="put", configuration=configuration,
                                         creator=body.creator, time=now)
        await store.write_revision(ctx.db, new, cur.revision if cur else None, entry, session)
        return new.view(), [_event(project, entry, "updated")]

    return Reply.ok(await ctx.outbox.transaction(write))


@on_command(router, CONFIG, Config.APP_CONFIGURATION_GET, "Show an application's configurations")
async def get_configuration(body: AppConfigurationQuery, project: str = Path()) -> Reply:
    await require_references(project, body.application_id, body.environment_id)
    docs = await store.live(ctx.db, project, body.application_id, body.environment_id)
    return Reply.ok(AppConfigurationList(configuration=[d.view() for d in docs]))


@on_command(router, CONFIG, Config.APP_CONFIGURATION_DELETE, "Delete an application's configuration in an environment")
async def delete_configuration(body: AppConfigurationRef, project: str = Path()) -> Reply:
    await require_references(project, body.application_id, None)

    async def write(session):
        cur = await store.current(ctx.db, project, body.application_id, body.environment_id, session)
        if cur is None or cur.deleted:
            raise store.missing(body.application_id, body.environment_id)
        return None, [await _delete_revision(project, cur, body.creator, session, reason=None)]

    await ctx.outbox.transaction(write)
    return Reply.ok(None, status=204)


@on_command(router, CONFIG, Config.APP_CONFIGURATION_HISTORY, "The revisions of an application's configuration in an environment")
async def configuration_history(body: AppConfigurationRef, project: str = Path()) -> Reply:
    await require_references(project, body.application_id, None)
    entries = await store.history(ctx.db, project, body.application_id, body.environment_id)
    return Reply.ok(AppConfigurationHistory(count=len(entries), revisions=entries))


# --- clean-up after lifecycle deletions ---------------------------------------------------------
DELETION_CONSUMERS = {
    # durable consumer name -> (events it reads, which configurations a deletion removes)
    "config-application-deleted": (subjects.event("*", LIFECYCLE, "application", "deleted"), "application_id"),
    "config-environment-deleted": (subjects.event("*", LIFECYCLE, "environment", "deleted"), "environment_id"),
}


async def purge(project: str, field: str, deleted_id: str) -> int:
    """Delete (as new revisions) the live configurations of a deleted application or environment."""
    removed = 0
    for cur in await store.live_for(ctx.db, project, **{field: deleted_id}):
        reason = f"{field.removesuffix('_id')} {deleted_id} deleted"

        async def write(session, cur=cur, reason=reason):
            fresh = await store.current(ctx.db, project, cur.application_id, cur.environment_id, session)
            if fresh is None or fresh.deleted:
                return None, []
            return None, [await _delete_revision(project, fresh, "openstage", session, reason=reason)]

        try:
            await ctx.outbox.transaction(write)
            removed += 1
        except errors.ServiceError as exc:  # changed meanwhile: the next delivery looks again
            log.info("configuration %s/%s not purged yet: %s", cur.application_id, cur.environment_id, exc.message)
            raise
    return removed


async def _consume(sub, field: str) -> None:
    while True:
        try:
            msgs = await sub.fetch(16, timeout=1)
        except (NatsTimeout, asyncio.TimeoutError):
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # bus reconnecting: try again shortly
            log.warning("deletion consumer: %s", exc)
            await asyncio.sleep(0.5)
            continue
        for msg in msgs:
            try:
                event = json.loads(msg.data)
                project = event["openstageproject"]
                deleted_id = event["data"]["id"]
                n = await purge(project, field, deleted_id)
                if n:
                    log.info("purged %d configuration(s) of deleted %s %s", n, field, deleted_id)
                await msg.ack()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("deletion event %s not handled yet: %s", msg.subject, exc)
                await msg.nak(delay=1)


_tasks: list[asyncio.Task] = []
_subs: list = []


async def start_deletion_consumers(c: WorkerContext) -> None:
    for durable, (subject, field) in DELETION_CONSUMERS.items():
        sub = await c.js.pull_subscribe(subject, durable=durable, stream=subjects.EVENTS_STREAM)
        _subs.append(sub)
        _tasks.append(asyncio.create_task(_consume(sub, field), name=durable))


async def stop_deletion_consumers(c: WorkerContext) -> None:
    for task in _tasks:
        task.cancel()
    for task in _tasks:
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
    _tasks.clear()
    for sub in _subs:
        try:
            await sub.unsubscribe()
        except Exception:
            pass
    _subs.clear()
