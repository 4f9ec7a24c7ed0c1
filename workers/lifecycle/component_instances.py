"""Handlers of openstage.cmd.<project>.lifecycle.instance.*

Create, modify, delete and every action answer at once with a ``job_id`` (create also with the
``instance_id``); the job runs in the job runner (workers/lifecycle/job_runner.py). The instance
holds a job lock (``active_job_id``): a second mutating call while a job runs is refused with 400
SVCSTG.00100633 (``DELETE ...?force=true`` instead cancels the running job and deletes after it).

Rules are checked before the transaction opens (reads only), so a transaction rarely aborts: with
nx-27017 an aborted transaction also rolls back writes other sessions made meanwhile."""
from __future__ import annotations

import uuid

from faststream import Path

from services.contracts import errors
from services.adapters.clock import clock
from services.contracts.envelope import Reply
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
from services.domain.lifecycle import component_instances as rules
from services.adapters.store import components as component_store
from services.adapters.store import environments as environment_store
from services.adapters.store import component_instances as store
from services.contracts.subjects import LIFECYCLE, Instances
from services.adapters.drivers import get_driver
from workers.lifecycle import components as component_handlers
from workers.lifecycle import environments as environment_handlers
from workers.lifecycle.component_instance_events import instance_event, iso, job_event, task_data, work_item
from workers.lifecycle.job_runner import tasks_for
from workers.runtime import command_router, ctx, on_command

router = command_router()
_driver = None


def driver():
    global _driver
    if _driver is None:
        _driver = get_driver(ctx.settings)
    return _driver


def busy(inst: Instance, job_id: str | None) -> errors.ServiceError:
    return errors.bad_request(
        f"instance {inst.name} has a job in progress ({job_id}): wait for it to finish "
        "(GET /v2/{project_id}/cas/jobs/" f"{job_id}) and try again", errors.INSTANCE_BUSY)


def _job(project: str, inst: Instance, operation: str, job_id: str, creator: str, before: Instance,
         target: Instance, now: int, replica: int | None = None, version: str | None = None,
         handoff_from: str | None = None) -> dict:
    plan = tasks_for(driver(), operation, before, target, replica)
    return {
        "_id": job_id,
        "project_id": project,
        "application_id": inst.application_id,
        "component_id": inst.component_id,
        "instance_id": inst.id,
        "operation": operation,
        "job_type": rules.job_type(operation),
        "job_name": f"{operation}-{inst.name}",
        "job_desc": rules.describe(operation, before, replica=replica, version=version or target.version),
        "created_by": creator,
        "created_at": iso(now),
        "create_time": now,
        "status": "SUBMITTED",
        "before": before.model_dump(mode="json"),
        "target": target.model_dump(mode="json"),
        "replica": replica,
        "plan": [{"index": i, "key": t.key, "name": t.name, "type": t.type} for i, t in enumerate(plan)],
        "tasks": {f"t{i}": {"status": "SUBMITTED", "messages": ""} for i in range(len(plan))},
        "next_task": 0,
        "seq": 0,
        "available": before.status_detail.available_replica,
        "runner": None,
        "lease_until": 0,
        "attempts": 0,
        "cancel_requested": False,
        "handoff_to": None,
        "waits_for": handoff_from,
    }


def _submitted_events(job: dict, now: int) -> list:
    tasks = [task_data(job, i, "SUBMITTED", "", 0) for i in range(len(job["plan"]))]
    return [job_event(job, "submitted", "SUBMITTED", 0, now, tasks=tasks), work_item(job)]


async def _component(project: str, application_id: str, component_id: str):
    return await component_store.get(ctx.db, project, application_id, component_id)


async def _environment(project: str, environment_id: str):
    return await environment_store.get(ctx.db, project, environment_id)


@on_command(router, LIFECYCLE, Instances.CREATE, "Create a component instance (answers with a deploy job)")
async def create_instance(body: CreateInstance, project: str = Path()) -> Reply:
    component = await _component(project, body.application_id, body.component_id)
    env = await _environment(project, body.body.environment_id)
    if await store.name_exists(ctx.db, project, component.id, env.id, body.body.name):
        raise store.name_taken(body.body.name)
    now = clock.millis()
    job_id = rules.new_job_id()
    source = component.source.model_dump(mode="json") if getattr(component, "source", None) else None
    inst = rules.new_instance(project, body.application_id, component.id, str(uuid.uuid4()), job_id, env, body.body,
                              body.creator, now, fallback_artifacts=rules.default_artifacts(source, component.name))
    inst = inst.model_copy(update={"component_name": component.name})
    job = _job(project, inst, "deploy", job_id, body.creator, inst, inst, now)

    async def write(session):
        await store.insert(ctx.db, inst, job_id, session)
        await store.insert_job(ctx.db, job, session)
        return None, [instance_event(inst, "created"), *_submitted_events(job, now)]

    await ctx.outbox.transaction(write)
    return Reply.ok(JobAccepted(instance_id=inst.id, job_id=job_id))


@on_command(router, LIFECYCLE, Instances.LIST, "List a component's instances")
async def list_instances(body: ListInstances, project: str = Path()) -> Reply:
    await _component(project, body.application_id, body.component_id)
    total, items = await store.page(ctx.db, project, body)
    return Reply.ok(InstanceList(count=total, instances=items))


@on_command(router, LIFECYCLE, Instances.GET, "Show a component instance")
async def get_instance(body: InstanceRef, project: str = Path()) -> Reply:
    return Reply.ok(await store.get(ctx.db, project, body.application_id, body.component_id, body.instance_id))


async def _submit(project: str, current: Instance, operation: str, creator: str, target: Instance,
                  replica: int | None = None, version: str | None = None) -> str:
    """Lock the instance for a new job of ``operation`` and queue the job; 400 when busy."""
    now = clock.millis()
    job_id = rules.new_job_id()
    job = _job(project, current, operation, job_id, creator, current, target, now, replica=replica, version=version)
    transitional = rules.OPERATIONS[operation][0]
    detail = current.status_detail.model_copy(update={
        "status": transitional, "last_job_id": job_id, "last_job_status": "SUBMITTED",
        "replica": replica if replica is not None else current.status_detail.replica,
    })
    shown = current.model_copy(update={"status_detail": detail})

    async def write(session):
        if not await store.lock(ctx.db, current.id, job_id, detail.model_dump(mode="json"), session):
            return False, []  # another job got the instance first: nothing written
        await store.insert_job(ctx.db, job, session)
        return True, [instance_event(shown, "status_changed"), *_submitted_events(job, now)]

    if not await ctx.outbox.transaction(write):
        doc = await store.by_id(ctx.db, current.id)
        raise busy(current, (doc or {}).get("active_job_id"))
    return job_id


async def _idle_instance(body: InstanceRef, project: str) -> tuple[Instance, dict]:
    doc = await store.get_doc(ctx.db, project, body.application_id, body.component_id, body.instance_id)
    inst = store.instance(doc)
    if doc.get("active_job_id"):
        raise busy(inst, doc["active_job_id"])
    return inst, doc


@on_command(router, LIFECYCLE, Instances.UPDATE, "Modify a component instance (answers with an upgrade job)")
async def update_instance(body: UpdateInstance, project: str = Path()) -> Reply:
    inst, _ = await _idle_instance(body, project)
    env = await _environment(project, inst.environment_id)
    target = rules.modified(inst, body.body, env)
    job_id = await _submit(project, inst, "upgrade", body.creator, target, version=body.body.version)
    return Reply.ok(JobAccepted(job_id=job_id))


@on_command(router, LIFECYCLE, Instances.ACTION, "Start, stop, restart, scale or roll back an instance")
async def act_on_instance(body: ActOnInstance, project: str = Path()) -> Reply:
    inst, _ = await _idle_instance(body, project)
    snapshots = await store.snapshots(ctx.db, inst.id) if body.body.action == "rollback" else []
    planned = rules.plan_action(inst, body.body, snapshots)
    target = inst
    if planned.operation == "rollback":
        target = rules.from_snapshot(inst, planned.snapshot)
    elif planned.operation == "scale":
        target = inst.model_copy(update={"status_detail": inst.status_detail.model_copy(
            update={"replica": planned.replica})})
    job_id = await _submit(project, inst, planned.operation, body.creator, target, replica=planned.replica,
                           version=planned.snapshot.version if planned.snapshot else None)
    return Reply.ok(JobAccepted(job_id=job_id))


@on_command(router, LIFECYCLE, Instances.DELETE, "Delete a component instance (answers with a delete job)")
async def delete_instance(body: DeleteInstance, project: str = Path()) -> Reply:
    doc = await store.get_doc(ctx.db, project, body.application_id, body.component_id, body.instance_id)
    inst = store.instance(doc)
    running = doc.get("active_job_id")
    if not running:
        job_id = await _submit(project, inst, "delete", body.creator, inst)
        return Reply.ok(JobAccepted(job_id=job_id))
    if not body.force:
        raise errors.bad_request(
            f"instance {inst.name} has a job in progress ({running}): wait for it to finish, or delete with "
            "force=true to cancel that job and delete the instance after it", errors.INSTANCE_BUSY)
    # force: cancel the running job at its next task boundary; the delete job waits for its lock
    holder = await store.job(ctx.db, running)
    if holder is not None and holder.get("handoff_to"):
        raise errors.bad_request(f"instance {inst.name} is already being deleted (job {holder['handoff_to']})",
                                 errors.INSTANCE_BUSY)
    now = clock.millis()
    job_id = rules.new_job_id()
    job = _job(project, inst, "delete", job_id, body.creator, inst, inst, now, handoff_from=running)

    async def write(session):
        claimed = await store.update_job(ctx.db, running, None, {"cancel_requested": True, "handoff_to": job_id},
                                         session)
        if not claimed:
            return False, []
        await store.insert_job(ctx.db, job, session)
        return True, _submitted_events(job, now)

    if not await ctx.outbox.transaction(write):
        raise busy(inst, running)
    return Reply.ok(JobAccepted(job_id=job_id))


@on_command(router, LIFECYCLE, Instances.SNAPSHOTS, "List an instance's snapshots")
async def list_snapshots(body: ListSnapshots, project: str = Path()) -> Reply:
    inst = await store.get(ctx.db, project, body.application_id, body.component_id, body.instance_id)
    items = await store.snapshots(ctx.db, inst.id)
    return Reply.ok(SnapshotList(count=len(items), snapshots=store.order_snapshots(items, body)))


# --- refusing to delete what still has instances -------------------------------------------------
async def refuse_environment_with_instances(project: str, environment_id: str, session) -> None:
    names = await store.names_in_environment(ctx.db, project, environment_id, session=session)
    if names:
        raise errors.ServiceError(
            409, errors.ENVIRONMENT_IN_USE,
            f"environment {environment_id} has component instances deployed ({', '.join(names)}): delete them first")


async def refuse_component_with_instances(project: str, application_id: str, component_id: str, session) -> None:
    names = await store.names_of_component(ctx.db, project, application_id, component_id, session=session)
    if names:
        raise errors.ServiceError(
            409, errors.COMPONENT_IN_USE,
            f"component {component_id} has instances ({', '.join(names)}): delete them first")


if refuse_environment_with_instances not in environment_handlers.ENVIRONMENT_DELETE_GUARDS:
    environment_handlers.ENVIRONMENT_DELETE_GUARDS.append(refuse_environment_with_instances)
if refuse_component_with_instances not in component_handlers.COMPONENT_DELETE_GUARDS:
    component_handlers.COMPONENT_DELETE_GUARDS.append(refuse_component_with_instances)
