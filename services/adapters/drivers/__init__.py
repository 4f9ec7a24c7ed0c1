"""Deployment drivers: ``get_driver(settings)`` builds the configured one (``simulated`` by default);
the lifecycle worker's composition root (workers/lifecycle/app.py) calls it once per process."""

from __future__ import annotations

from services.adapters.drivers.base import Driver, Task, TaskContext, TaskFailed, TaskResult, Workload
from services.adapters.drivers.plans import plan_of, tasks_for
from services.settings import Settings

__all__ = ["Driver", "Task", "TaskContext", "TaskFailed", "TaskResult", "Workload", "get_driver", "plan_of", "tasks_for"]


def get_driver(settings: Settings) -> Driver:
    if settings.deployment_driver == "simulated":
        from services.adapters.drivers.simulated import SimulatedDriver

        return SimulatedDriver(task_seconds=settings.simulated_task_seconds)
    raise ValueError(f"unknown deployment driver {settings.deployment_driver!r} (available: simulated)")
