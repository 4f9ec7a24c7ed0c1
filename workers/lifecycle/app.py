"""The lifecycle worker's FastStream app (`openstage worker lifecycle`) and its composition root."""

from __future__ import annotations

from faststream import FastStream

from services.adapters import bus
from services.adapters.agent_client import AgentClient
from services.adapters.drivers import get_driver
from services.adapters.store import applications as application_store
from services.adapters.store import component_instances as instance_store
from services.adapters.store import components as component_store
from services.adapters.store import environments as environment_store
from services.contracts.subjects import LIFECYCLE
from workers.lifecycle import applications, components, environments, fast_path, metadata, read_models
from workers.lifecycle import component_instance_events as instance_events
from workers.lifecycle import component_instances as instances
from workers.lifecycle.deps import DeleteGuards, LifecycleDeps
from workers.lifecycle.hosts import HostTable
from workers.lifecycle.job_runner import JobRunner
from workers.lifecycle.replica_reports import ReplicaReports
from workers.runtime import WorkerDeps, build_worker

# The subjects the fast path serves at run time (show/list of environments, applications,
# components and instances, workers/lifecycle/fast_path.py): their handlers' FastStream subscribers are in the bus
# documentation and the in-process tests, but the worker's broker leaves them out, so no message of
# theirs is ever taken by a second, slower subscriber of the queue group.
FAST_PATH_ROUTERS = [environments.fast_path_router, applications.fast_path_router, components.fast_path_router, instances.fast_path_router]
# Every command subscriber of the worker (the bus documentation reads ROUTERS).
ROUTERS = [metadata.router, environments.router, applications.router, components.router, instances.router, *FAST_PATH_ROUTERS]
BROKER_ROUTERS = [r for r in ROUTERS if r not in FAST_PATH_ROUTERS]
# CloudEvents type -> model of its data (the AsyncAPI document and docs/bus-reference.md list them)
EVENTS = {**environments.EVENTS, **applications.EVENTS, **components.EVENTS, **instance_events.EVENTS}


async def compose(base: WorkerDeps) -> LifecycleDeps:
    """Build what the lifecycle handlers and the job runner use: indexes of every lifecycle
    collection, the deployment driver, the job runner, and every check that can refuse a delete."""
    db = base.db
    await environment_store.ensure_indexes(db)
    await application_store.ensure_indexes(db)
    await component_store.ensure_indexes(db)
    await instance_store.ensure_indexes(db)

    settings = base.settings
    # the hosts of `openstage agent`s and their replicas' reports: which instances the process
    # driver deploys, and their status between jobs (workers/lifecycle/hosts.py, replica_reports.py)
    agents = AgentClient(base.nc, timeout=settings.agent_command_timeout_seconds)
    reports = ReplicaReports(db, base.nc, base.outbox, agents)
    hosts = HostTable(db, base.nc, base.outbox, reports)
    await hosts.load()
    driver = get_driver(settings, nc=base.nc, db=db, hosts=hosts)
    runner = JobRunner(
        db,
        base.js,
        base.outbox,
        base.clock,
        driver,
        lease_seconds=settings.job_lease_seconds,
        concurrency=settings.job_concurrency,
        # a delete job that removes the last instance of a component being force-deleted deletes it
        instance_removed=components.DeletedAfterInstances(db).instance_removed,
    )

    in_use = instances.InstancesInUse(db)
    guards = DeleteGuards(
        environment=[in_use.refuse_environment],  # no environment is deleted while instances are deployed in it
        application=[],
        component=[in_use.refuse_component],  # nor a component that has instances (400 SVCSTG.00100402)...
        # ...unless force=true: then its instances' delete jobs are queued and the component goes after them
        component_force=instances.InstanceDeletes(db, driver).for_component,
    )
    # show/list of environments, applications and components from memory (workers/lifecycle/read_models.py),
    # served on plain nats-py (workers/lifecycle/fast_path.py)
    nats_url = settings.nats_url if base.nc is not None else None  # (in-process handler tests have no bus)
    models = await read_models.build_read_models(db, base.outbox, nats_url)
    deps = LifecycleDeps(
        **base.base(), driver=driver, job_runner=runner, delete_guards=guards, hosts=hosts, replica_reports=reports, read_models=models
    )
    if nats_url:  # subscribed before the broker's subscribers (and its ping) go live
        deps.fast_path = await fast_path.subscribe(deps, nats_url)
    return deps


def build() -> FastStream:
    return build_worker(LIFECYCLE, BROKER_ROUTERS, compose, streams=[bus.jobs_work_stream_config()])
