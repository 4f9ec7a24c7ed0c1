"""Deployment drivers: ``get_driver(settings, ...)`` builds the one a lifecycle worker process uses;
its composition root (workers/lifecycle/app.py) calls it once per process.

With the bus, the store and the host table given it is ``DriverByTarget``: the process driver
(process.py) for instances on ecs hosts that run ``openstage agent``, the simulated driver
(simulated.py, nothing deployed) for every other target. Without them, the simulated driver alone."""

from __future__ import annotations

from nats.aio.client import Client as NATS
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.drivers.base import Driver, Task, TaskContext, TaskFailed, TaskResult, Workload
from services.adapters.drivers.plans import plan_of, tasks_for
from services.adapters.drivers.routing import HostDirectory
from services.settings import Settings, registry_advertise_url

__all__ = ["Driver", "Task", "TaskContext", "TaskFailed", "TaskResult", "Workload", "get_driver", "plan_of", "tasks_for"]


def get_driver(settings: Settings, nc: NATS | None = None, db: AsyncDatabase | None = None, hosts: HostDirectory | None = None) -> Driver:
    if settings.deployment_driver != "simulated":
        raise ValueError(f"unknown deployment driver {settings.deployment_driver!r} (available: simulated)")
    from services.adapters.drivers.simulated import SimulatedDriver

    simulated = SimulatedDriver(task_seconds=settings.simulated_task_seconds)
    if nc is None or db is None or hosts is None:
        return simulated
    from services.adapters.agent_client import AgentClient
    from services.adapters.drivers.lookups import StoreAndBusLookups
    from services.adapters.drivers.process import ProcessDriver, ProcessSettings
    from services.adapters.drivers.routing import DriverByTarget
    from services.adapters.registry_secret import token_secret
    from services.domain.registry.deploy_accounts import deploy_credentials

    credentials = None
    if "rbac" in {a.strip() for a in settings.registry_auth.split(",")}:
        secret = token_secret(settings)

        def credentials(project: str) -> tuple[str, str]:
            return deploy_credentials(secret, project)

    process = ProcessDriver(
        AgentClient(nc, timeout=settings.agent_command_timeout_seconds),
        hosts,
        StoreAndBusLookups(db, nc, timeout=max(1.0, settings.request_timeout)),
        ProcessSettings(
            registry_url=registry_advertise_url(settings),
            ready_timeout=settings.ready_timeout_seconds,
            registration_timeout=settings.registration_timeout_seconds,
            command_timeout=settings.agent_command_timeout_seconds,
            fetch_timeout=settings.artifact_fetch_timeout_seconds,
        ),
        credentials,
    )
    return DriverByTarget(process, simulated, hosts)
