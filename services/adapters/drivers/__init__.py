"""Deployment drivers: ``get_driver(settings)`` returns the configured one (``simulated`` by default)."""
from __future__ import annotations

from services.settings import Settings
from services.adapters.drivers.base import Driver, Task, TaskContext, TaskFailed, TaskResult, Workload

__all__ = ["Driver", "Task", "TaskContext", "TaskFailed", "TaskResult", "Workload", "get_driver"]


def get_driver(settings: Settings) -> Driver:
    if settings.deployment_driver == "simulated":
        from services.adapters.drivers.simulated import SimulatedDriver

        return SimulatedDriver(task_seconds=settings.simulated_task_seconds)
    raise ValueError(f"unknown deployment driver {settings.deployment_driver!r} (available: simulated)")
