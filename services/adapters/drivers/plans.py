"""From a job to a driver's tasks: the workload a driver acts on (an instance) and the driver
method of each operation."""

from __future__ import annotations

from services.adapters.drivers.base import Driver, Task, Workload
from services.contracts.component_instances import Instance, InstanceStatus
from services.contracts.jobs import JobOperation, PlannedTask
from services.domain.lifecycle.deployments import hosts_of

Op = JobOperation


def workload(inst: Instance) -> Workload:
    return Workload(
        project_id=inst.project_id,
        instance_id=inst.id,
        name=inst.name,
        application_id=inst.application_id,
        component_id=inst.component_id,
        environment_id=inst.environment_id,
        platform_type=inst.platform_type,
        flavor_id=inst.flavor_id,
        version=inst.version,
        replica=inst.status_detail.replica,
        available_replica=inst.status_detail.available_replica,
        artifacts=inst.artifacts,
        configuration=inst.configuration,
        refer_resources=[r.model_dump(mode="json") for r in inst.refer_resources],
        status=InstanceStatus(inst.status_detail.status).value,
    )


def tasks_for(driver: Driver, operation: JobOperation, before: Instance, target: Instance, replica: int | None) -> list[Task]:
    """The tasks that carry out ``operation`` on ``before`` (towards ``target``), in order."""
    if operation == Op.DEPLOY:
        return driver.deploy(workload(target))
    if operation == Op.UPGRADE:
        return driver.upgrade(workload(before), workload(target))
    if operation == Op.ROLLBACK:
        return driver.rollback(workload(before), workload(target))
    if operation == Op.SCALE:
        before_hosts, target_hosts = hosts_of(workload(before).refer_resources), hosts_of(workload(target).refer_resources)
        return driver.scale(
            workload(before), replica or before.status_detail.replica, target_hosts if target_hosts != before_hosts else None
        )
    if operation == Op.START:
        return driver.start(workload(before))
    if operation == Op.STOP:
        return driver.stop(workload(before))
    if operation == Op.RESTART:
        return driver.restart(workload(before))
    if operation == Op.DELETE:
        return driver.delete(workload(before))
    raise ValueError(f"unknown operation {operation}")


def plan_of(tasks: list[Task]) -> list[PlannedTask]:
    """What a job keeps of its tasks (a resumed job checks the driver still plans the same keys)."""
    return [PlannedTask(index=i, key=t.key, name=t.name, type=t.type) for i, t in enumerate(tasks)]
