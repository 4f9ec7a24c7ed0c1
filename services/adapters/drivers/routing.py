"""Which driver carries out a job: ``DriverByTarget`` sends a workload to the process driver when
every ecs host it names (services/domain/lifecycle/deployments.py ``hosts_of``) is a known host --
one whose agent has announced itself at least once (the lifecycle worker keeps them, persisted, in
its ``hosts`` collection: workers/lifecycle/hosts.py) -- and to the simulated driver otherwise
(cce, cci, an ecs id with no agent). Upgrade, rollback and the actions go by the instance's
current target. A known host stays known, so a job resumed after a crash gets the same plan."""

from __future__ import annotations

from typing import Protocol

from services.adapters.drivers.base import Driver, Task, Workload
from services.domain.lifecycle.deployments import hosts_of


class HostDirectory(Protocol):
    """The hosts agents have announced (workers/lifecycle/hosts.py ``HostTable``)."""

    def known(self, host_id: str) -> bool: ...

    def projects(self, host_id: str) -> list[str] | None:
        """The projects the host serves (its last announcement), None when it never announced."""
        ...


class DriverByTarget(Driver):
    name = "by-target"

    def __init__(self, process: Driver, simulated: Driver, hosts: HostDirectory) -> None:
        self.process = process
        self.simulated = simulated
        self.hosts = hosts

    def for_workload(self, w: Workload) -> Driver:
        names = hosts_of(w.refer_resources)
        if names and all(self.hosts.known(h) for h in names):
            return self.process
        return self.simulated

    def deploy(self, w: Workload) -> list[Task]:
        return self.for_workload(w).deploy(w)

    def upgrade(self, current: Workload, target: Workload) -> list[Task]:
        return self.for_workload(current).upgrade(current, target)

    def rollback(self, current: Workload, target: Workload) -> list[Task]:
        return self.for_workload(current).rollback(current, target)

    def start(self, w: Workload) -> list[Task]:
        return self.for_workload(w).start(w)

    def stop(self, w: Workload) -> list[Task]:
        return self.for_workload(w).stop(w)

    def restart(self, w: Workload) -> list[Task]:
        return self.for_workload(w).restart(w)

    def scale(self, w: Workload, replica: int, hosts: list[str] | None = None) -> list[Task]:
        return self.for_workload(w).scale(w, replica, hosts)

    def delete(self, w: Workload) -> list[Task]:
        return self.for_workload(w).delete(w)
