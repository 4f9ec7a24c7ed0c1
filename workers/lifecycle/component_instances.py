"""Handlers of openstage.cmd.<project>.lifecycle.instance.*

Create, modify, delete and every action answer at once with a ``job_id`` (create also with the
``instance_id``); the job runs in the job runner (workers/lifecycle/job_runner.py). The instance
holds a job lock (``active_job_id``): a second mutating call while a job runs is refused with 400
SVCSTG.00100633 (``DELETE ...?force=true`` instead cancels the running job and deletes after it).

Rules are checked before the transaction opens (reads only), so a transaction rarely aborts: with
nx-27017 an aborted transaction also rolls back writes other sessions made meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from faststream import Context, Path
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.drivers import Driver, plan_of, tasks_for
from services.adapters.store import component_instances as store
from services.adapters.store import components as component_store
from services.adapters.store import environments as environment_store
from services.adapters.store.component_instances import StoredInstance
from services.contracts import errors
from services.contracts.component_instances import (
    ActOnInstance,
    CreateInstance,
    DeleteInstance,
    Instance,
    InstanceList,
    InstanceRef,
    JobAccepted,
    ListInstances,
    ListSnapshots,
    SnapshotList,
    UpdateInstance,
)
from services.contracts.components import Component
from services.contracts.envelope import Reply
from services.contracts.environments import Environment
from services.contracts.events import CloudEvent
from services.contracts.jobs import Job, JobOperation, JobUpdate
from services.contracts.subjects import LIFECYCLE, ComponentInstances
from services.domain.jobs import transitions as jobs
from services.domain.lifecycle import component_instances as rules
from services.domain.lifecycle import components as component_rules
from services.domain.lifecycle import environments as environment_rules
from services.domain.lifecycle.component_instances import InstanceEvent, InstanceVerb
from services.domain.lifecycle.deployments import hosts_of, serves
from workers.lifecycle.component_instance_events import cloud_events, work_item
from workers.lifecycle.deps import LifecycleDeps
from workers.runtime import command_router, on_command

router = command_router()
# instance.create/get/list: served by the fast path's own subscription at run time (workers/lifecycle/fast_path.py)
fast_path_router = command_router()
Op = JobOperation
Session = AsyncClientSession


def busy(inst: Instance, job_id: str | None) -> errors.ServiceError:
    return errors.bad_request(
        f"instance {inst.name} has a job in progress ({job_id}): wait for it to finish "
        f"(GET /v2/{{project_id}}/cas/jobs/{job_id}) and try again",
        errors.INSTANCE_BUSY,
    )


def _driver(deps: LifecycleDeps) -> Driver:
    if deps.driver is None:
        raise RuntimeError("the lifecycle worker was composed without a deployment driver")
    return deps.driver


def _new_job(
    driver: Driver,
    job_id: str,
    operation: JobOperation,
    creator: str,
    before: Instance,
    target: Instance,
    now: int,
    replica: int | None = None,
    version: str | None = None,
    waits_for: str | None = None,
) -> Job:
    plan = plan_of(tasks_for(driver, operation, before, target, replica))
    return jobs.new_job(job_id, operation, before, target, plan, creator, now, replica=replica, version=version, waits_for=waits_for)


async def _check_hosts_serve(deps: LifecycleDeps, project: str, inst: Instance) -> None:
    """400 when the instance names an agent's host that does not serve its project
    (HostAnnouncement.projects). A host whose agent runs but has not announced itself to this
    process yet is waited for a moment, so the job is planned for the process driver."""
    if deps.hosts is None:
        return
    for host in hosts_of([r.model_dump(mode="json") for r in inst.refer_resources]):
        await deps.hosts.heard_of(host)
        projects = deps.hosts.projects(host)
        if projects is not None and not serves(projects, project):
            raise rules.invalid(f"host {host} does not serve project {project}: its agent serves {', '.join(projects) or 'no project'}")


def _submitted_events(job: Job, now: int) -> list[CloudEvent]:
    return [*cloud_events([jobs.submitted(job, now)]), work_item(job)]


async def _component_and_environment(deps: LifecycleDeps, project: str, body: CreateInstance) -> tuple[Component, Environment]:
    """The component and the environment of a create, refused as before (404 component, 400 component
    being deleted, 404 environment, 400 name taken, in that order). The three reads go together:
    the component and the environment from the read models (memory when loaded, else the store),
    the name from the store. A read model may lag another process's change by an event's transit:
    the component is read again inside the transaction (``create_instance``), and the unique index
    refuses a name taken meanwhile."""
    reads = deps.reads
    found = await asyncio.gather(
        reads.components.get(project, body.application_id, body.component_id),
        reads.environments.get(project, body.body.environment_id),
        store.name_exists(deps.db, project, body.component_id, body.body.environment_id, body.body.name),
        return_exceptions=True,
    )
    for outcome in found:
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, Component):
            component_rules.check_accepts_instances(outcome)
    component, env, taken = found
    assert isinstance(component, Component) and isinstance(env, Environment)
    if taken:
        raise store.name_taken(body.body.name)
    return component, env


@on_command(
    fast_path_router, LIFECYCLE, ComponentInstances.CREATE, "Create a component instance (answers with a deploy job)", reply=JobAccepted
)
async def create_instance(body: CreateInstance, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    db = deps.db
    component, env = await _component_and_environment(deps, project, body)
    now = deps.clock.millis()
    job_id = rules.new_job_id()
    source = component.source.model_dump(mode="json") if component.source else None
    inst = rules.new_instance(
        project,
        body.application_id,
        component.id,
        str(uuid.uuid4()),
        job_id,
        env,
        body.body,
        body.creator,
        now,
        fallback_artifacts=rules.default_artifacts(source, component.name),
    )
    inst = inst.model_copy(update={"component_name": component.name})
    await _check_hosts_serve(deps, project, inst)
    job = _new_job(_driver(deps), job_id, Op.DEPLOY, body.creator, inst, inst, now)

    async def write(session):
        # A delete of the component (plain, or forced: marked, its instances' delete jobs queued)
        # may have committed since it was read (or run earlier in this group commit): read it
        # again here. The deletes look for instances in their own transaction, so whichever of the
        # two commits second sees the other and no instance is left without its component. (Kept
        # although it costs a store round trip inside the transaction: no write of this
        # transaction can stand in for it, and a process's memory cannot know another's delete.)
        current = await component_store.get(db, project, body.application_id, body.component_id, session=session)
        component_rules.check_accepts_instances(current)
        await store.insert(db, inst, job_id, session)
        await store.insert_job(db, job, session)
        return None, [*cloud_events([InstanceEvent(InstanceVerb.CREATED, inst)]), *_submitted_events(job, now)]

    await deps.outbox.transaction(write)
    return Reply.ok(JobAccepted(instance_id=inst.id, job_id=job_id))


@on_command(fast_path_router, LIFECYCLE, ComponentInstances.LIST, "List a component's instances", reply=InstanceList)
async def list_instances(body: ListInstances, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    reads = deps.reads
    await reads.components.get(project, body.application_id, body.component_id)  # 404 for an unknown component
    total, items = await reads.instances.page(body, project, body.application_id, body.component_id)
    return Reply.ok(InstanceList(count=total, instances=items))


def list_instances_from_memory(deps: LifecycleDeps, project: str, body: ListInstances) -> bytes | None:
    """``list_instances``' result as JSON when the component and its instances are in memory."""
    reads = deps.reads
    if reads.components.cached(project, body.application_id, body.component_id) is None:
        return None
    return reads.instances.cached_page_json(body, project, body.application_id, body.component_id)


@on_command(fast_path_router, LIFECYCLE, ComponentInstances.GET, "Show a component instance", reply=Instance)
async def get_instance(body: InstanceRef, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    return Reply.ok(await deps.reads.instances.get(project, body.application_id, body.component_id, body.instance_id))


def get_instance_from_memory(deps: LifecycleDeps, project: str, body: InstanceRef) -> bytes | None:
    """``get_instance``'s result as JSON when the instance is in memory."""
    return deps.reads.instances.cached_json(project, body.application_id, body.component_id, body.instance_id)


async def _submit(
    deps: LifecycleDeps,
    current: Instance,
    operation: JobOperation,
    creator: str,
    target: Instance,
    replica: int | None = None,
    version: str | None = None,
) -> str:
    """Lock the instance for a new job of ``operation`` and queue the job; 400 when busy."""
    now = deps.clock.millis()
    job_id = rules.new_job_id()
    job = _new_job(_driver(deps), job_id, operation, creator, current, target, now, replica=replica, version=version)
    locked, event = rules.locked_for_job(current, operation, job_id, replica)

    async def write(session):
        if not await store.lock(deps.db, current.id, job_id, locked.status_detail, session):
            return False, []  # another job got the instance first: nothing written
        await store.insert_job(deps.db, job, session)
        return True, [*cloud_events([event]), *_submitted_events(job, now)]

    if not await deps.outbox.transaction(write):
        stored = await store.by_id(deps.db, current.id)
        raise busy(current, stored.active_job_id if stored else None)
    return job_id


async def _idle_instance(deps: LifecycleDeps, body: InstanceRef, project: str) -> Instance:
    stored = await store.get_stored(deps.db, project, body.application_id, body.component_id, body.instance_id)
    if stored.active_job_id:
        raise busy(stored.instance, stored.active_job_id)
    return stored.instance


@on_command(router, LIFECYCLE, ComponentInstances.UPDATE, "Modify a component instance (answers with an upgrade job)", reply=JobAccepted)
async def update_instance(body: UpdateInstance, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    inst = await _idle_instance(deps, body, project)
    env = await environment_store.get(deps.db, project, inst.environment_id)
    target = rules.modified(inst, body.body, env)
    await _check_hosts_serve(deps, project, target)
    job_id = await _submit(deps, inst, Op.UPGRADE, body.creator, target, version=body.body.version)
    return Reply.ok(JobAccepted(job_id=job_id))


@on_command(router, LIFECYCLE, ComponentInstances.ACTION, "Start, stop, restart, scale or roll back an instance", reply=JobAccepted)
async def act_on_instance(body: ActOnInstance, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    rules.check_action_defined(body.body)  # 400 SVCSTG.00100418 before anything is read
    inst = await _idle_instance(deps, body, project)
    snapshots = await store.snapshots(deps.db, inst.id) if body.body.action == "rollback" else []
    planned = rules.plan_action(inst, body.body, snapshots)
    target = rules.target_of(inst, planned)
    await _check_hosts_serve(deps, project, target)
    job_id = await _submit(
        deps,
        inst,
        planned.operation,
        body.creator,
        target,
        replica=planned.replica,
        version=planned.snapshot.version if planned.snapshot else None,
    )
    return Reply.ok(JobAccepted(job_id=job_id))


@on_command(router, LIFECYCLE, ComponentInstances.DELETE, "Delete a component instance (answers with a delete job)", reply=JobAccepted)
async def delete_instance(body: DeleteInstance, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    stored = await store.get_stored(deps.db, project, body.application_id, body.component_id, body.instance_id)
    inst, running = stored.instance, stored.active_job_id
    if not running:
        job_id = await _submit(deps, inst, Op.DELETE, body.creator, inst)
        return Reply.ok(JobAccepted(job_id=job_id))
    if not body.force:
        raise errors.bad_request(
            f"instance {inst.name} has a job in progress ({running}): wait for it to finish, or delete with "
            "force=true to cancel that job and delete the instance after it",
            errors.INSTANCE_BUSY,
        )
    # force: cancel the running job at its next task boundary; the delete job waits for its lock
    holder = await store.job(deps.db, running)
    if holder is not None and holder.handoff_to:
        raise errors.bad_request(f"instance {inst.name} is already being deleted (job {holder.handoff_to})", errors.INSTANCE_BUSY)
    now = deps.clock.millis()
    job_id = rules.new_job_id()
    job = _new_job(_driver(deps), job_id, Op.DELETE, body.creator, inst, inst, now, waits_for=running)

    async def write(session):
        cancel = JobUpdate(cancel_requested=True, handoff_to=job_id)
        if not await store.update_job(deps.db, running, None, cancel, session):
            return False, []
        await store.insert_job(deps.db, job, session)
        return True, _submitted_events(job, now)

    if not await deps.outbox.transaction(write):
        raise busy(inst, running)
    return Reply.ok(JobAccepted(job_id=job_id))


@on_command(router, LIFECYCLE, ComponentInstances.SNAPSHOTS, "List an instance's snapshots", reply=SnapshotList)
async def list_snapshots(body: ListSnapshots, project: str = Path(), deps: LifecycleDeps = Context()) -> Reply:
    inst = await store.get(deps.db, project, body.application_id, body.component_id, body.instance_id)
    items = await store.snapshots(deps.db, inst.id)
    return Reply.ok(SnapshotList(count=len(items), snapshots=store.order_snapshots(items, body)))


# --- deleting what still has instances (registered in app.compose) -------------------------------
@dataclass(frozen=True)
class InstancesInUse:
    """Delete guards: an environment or a component with component instances is not deleted
    (400 SVCSTG.00100402, "component was deployed, uninstall first")."""

    db: AsyncDatabase

    async def refuse_environment(self, project: str, environment_id: str, session: AsyncClientSession | None) -> None:
        names = await store.names_in_environment(self.db, project, environment_id, session=session)
        environment_rules.check_deletable(environment_id, names)

    async def refuse_component(self, project: str, application_id: str, component_id: str, session: AsyncClientSession | None) -> None:
        names = await store.names_of_component(self.db, project, application_id, component_id, session=session)
        component_rules.check_deletable(component_id, names)


@dataclass(frozen=True)
class InstanceDeletes:
    """What ``DELETE .../components/{id}?force=true`` does to the component's instances (the
    component cascade, registered in app.compose): in the delete's own transaction, queue a delete
    job for every instance that is not being deleted yet. An idle instance is locked for its
    delete job; an instance whose job is running has that job cancelled at its next task and
    handed over to the delete job (as ``DELETE .../instances/{id}?force=true`` does). Each job is
    an ordinary instance job: ``job.submitted`` now, then run by the job runner and followed with
    ``GET /v2/{project_id}/cas/jobs/{job_id}`` (the instance's ``status_detail.last_job_id``)."""

    db: AsyncDatabase
    driver: Driver

    async def for_component(
        self, project: str, application_id: str, component_id: str, creator: str, now: int, session: Session
    ) -> list[CloudEvent]:
        events: list[CloudEvent] = []
        for stored in await store.of_component(self.db, project, application_id, component_id, session=session):
            events += await self._queue_delete(stored, creator, now, session)
        return events

    async def _queue_delete(self, stored: StoredInstance, creator: str, now: int, session: Session) -> list[CloudEvent]:
        inst, running = stored.instance, stored.active_job_id
        job_id = rules.new_job_id()
        if running is None:
            job = _new_job(self.driver, job_id, Op.DELETE, creator, inst, inst, now)
            locked, event = rules.locked_for_job(inst, Op.DELETE, job_id)
            if not await store.lock(self.db, inst.id, job_id, locked.status_detail, session):
                return []  # (read in this transaction: another job cannot have taken it)
            await store.insert_job(self.db, job, session)
            return [*cloud_events([event]), *_submitted_events(job, now)]
        holder = await store.job(self.db, running, session=session)
        if holder is None or holder.operation == Op.DELETE or holder.handoff_to:
            return []  # already being deleted
        job = _new_job(self.driver, job_id, Op.DELETE, creator, inst, inst, now, waits_for=running)
        cancel = JobUpdate(cancel_requested=True, handoff_to=job_id)
        if not await store.update_job(self.db, running, None, cancel, session):
            return []
        await store.insert_job(self.db, job, session)
        return _submitted_events(job, now)
