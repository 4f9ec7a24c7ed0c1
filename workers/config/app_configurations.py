"""Handlers of openstage.cmd.<project>.config.app_configuration.*: per-environment application
configuration, versioned.

Existence of the application and the environment. The config worker owns no application or
environment data: before a change (and a read) it *asks the lifecycle worker*, requesting
``lifecycle.application.get`` and ``lifecycle.environment.get`` over the bus (both at once). The
answer is as fresh as the lifecycle store, so a configuration can be written right after its
application is created (a projection fed by events could lag behind). The lifecycle worker's own
404 (``SVCSTG.00100403`` application not found / ``SVCSTG.00100411`` environment not found) is returned unchanged; when no lifecycle worker
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

from faststream import Context, Path

from services.adapters.store import app_configurations as store
from services.adapters.store.app_configurations import Stored
from services.contracts import subjects
from services.contracts.app_configurations import (
    AppConfiguration,
    AppConfigurationHistory,
    AppConfigurationList,
    AppConfigurationQuery,
    AppConfigurationRef,
    AppConfigurationRevision,
    PutAppConfiguration,
)
from services.contracts.envelope import Reply
from services.contracts.subjects import CONFIG, Config
from services.domain.config import app_configurations as rules
from workers.config.configuration_revisions import configuration_event, delete_revision
from workers.config.deps import ConfigDeps
from workers.runtime import command_router, on_command

router = command_router()

ENTITY = "app_configuration"
# {CloudEvents type: model of the event's data} (for the bus documentation)
EVENTS = {subjects.event_type(CONFIG, ENTITY, verb): AppConfigurationRevision for verb in ("updated", "deleted")}


# --- handlers -----------------------------------------------------------------------------------
@on_command(router, CONFIG, Config.APP_CONFIGURATION_PUT, "Put an application's configuration in an environment", reply=AppConfiguration)
async def put_configuration(body: PutAppConfiguration, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    application_id, environment_id = body.application_id, body.body.environment_id
    configuration = rules.normalized(body.body.configuration)
    await deps.lifecycle.require_references(project, application_id, environment_id)

    async def write(session):
        cur = await store.current(deps.db, project, application_id, environment_id, session)
        live = None if cur is None or cur.deleted else cur.configuration
        if not rules.is_change(live, configuration):
            return cur.view(), []  # the same variables again: no new revision, no event
        now = deps.clock.millis()
        revision = rules.next_revision(cur.revision if cur else None)
        new = Stored(
            project_id=project,
            application_id=application_id,
            environment_id=environment_id,
            revision=revision,
            deleted=False,
            configuration=configuration,
            creator=body.creator,
            create_time=cur.create_time if live is not None else now,
            update_time=now,
        )
        entry = AppConfigurationRevision(
            application_id=application_id,
            environment_id=environment_id,
            revision=revision,
            action="put",
            configuration=configuration,
            creator=body.creator,
            time=now,
        )
        await store.write_revision(deps.db, new, cur.revision if cur else None, entry, session)
        return new.view(), [configuration_event(project, entry, "updated")]

    return Reply.ok(await deps.outbox.transaction(write))


@on_command(router, CONFIG, Config.APP_CONFIGURATION_GET, "Show an application's configurations", reply=AppConfigurationList)
async def get_configuration(body: AppConfigurationQuery, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    await deps.lifecycle.require_references(project, body.application_id, body.environment_id)
    docs = await store.live(deps.db, project, body.application_id, body.environment_id)
    return Reply.ok(AppConfigurationList(configuration=[d.view() for d in docs]))


@on_command(router, CONFIG, Config.APP_CONFIGURATION_DELETE, "Delete an application's configuration in an environment", reply=None)
async def delete_configuration(body: AppConfigurationRef, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    await deps.lifecycle.require_references(project, body.application_id, None)

    async def write(session):
        cur = await store.current(deps.db, project, body.application_id, body.environment_id, session)
        if cur is None or cur.deleted:
            raise store.missing(body.application_id, body.environment_id)
        return None, [await delete_revision(deps, project, cur, body.creator, session, reason=None)]

    await deps.outbox.transaction(write)
    return Reply.ok(None, status=204)


@on_command(router, CONFIG, Config.APP_CONFIGURATION_HISTORY, "A configuration's revision history", reply=AppConfigurationHistory)
async def configuration_history(body: AppConfigurationRef, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    await deps.lifecycle.require_references(project, body.application_id, None)
    entries = await store.history(deps.db, project, body.application_id, body.environment_id)
    return Reply.ok(AppConfigurationHistory(count=len(entries), revisions=entries))
