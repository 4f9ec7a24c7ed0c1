"""Component instance rules: building and changing an instance, which action is allowed in which
status, and how a job moves the instance's status. Pure: no I/O.

Status transitions (status_detail.status, SDK InstanceStatusType) -- see docs/instances-and-jobs.md:

    operation   accepted in                          while the job runs  job SUCCEEDED  job FAILED
    create      -                                    INITIALIZING        RUNNING        FAILED*
    modify      any idle status                      UPGRADING           RUNNING        FAILED*
    rollback    any idle status                      UPGRADING           RUNNING        FAILED*
    scale       RUNNING, PARTIALLY_FAILED, FAILED    UPGRADING           RUNNING        FAILED*
    start       STOPPED, FAILED, DOWN                STARTING            RUNNING        FAILED*
    stop        RUNNING, PARTIALLY_FAILED, FAILED,   STOPPING            STOPPED        FAILED*
                DOWN, UNKNOWN
    restart     RUNNING, PARTIALLY_FAILED, FAILED    RESTARTING          RUNNING        FAILED*
    delete      any idle status                      DELETING            (removed)      FAILED*

    * PARTIALLY_FAILED instead when some but not all replicas are available after the failure.

How a job moves its instance (``locked_for_job``, ``job_running``, ``replicas_available``,
``after_job``) are pure functions: they take the instance as it is and return it as it becomes,
with the events to emit; the job runner (workers/lifecycle/job_runner.py) persists and publishes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.contracts import errors
from services.contracts.component_instances import (
    MAX_REPLICA,
    Artifact,
    ExternalAccess,
    ExternalAccessCreate,
    Instance,
    InstanceAction,
    InstanceActionType,
    InstanceCreate,
    InstanceModify,
    InstanceStatus,
    ReferResource,
    Snapshot,
    StatusDetail,
)
from services.contracts.environments import BASE_RESOURCE_TYPES, Environment
from services.contracts.jobs import ExecutionStatus, JobOperation, JobType
from services.domain.lifecycle.catalogue import is_valid_flavor
from services.domain.lifecycle.deployments import with_hosts

S = InstanceStatus
Op = JobOperation

# operation -> (status while its job runs, status when it succeeds)
OPERATIONS: dict[JobOperation, tuple[InstanceStatus, InstanceStatus | None]] = {
    Op.DEPLOY: (S.INITIALIZING, S.RUNNING),
    Op.UPGRADE: (S.UPGRADING, S.RUNNING),
    Op.ROLLBACK: (S.UPGRADING, S.RUNNING),
    Op.SCALE: (S.UPGRADING, S.RUNNING),
    Op.START: (S.STARTING, S.RUNNING),
    Op.STOP: (S.STOPPING, S.STOPPED),
    Op.RESTART: (S.RESTARTING, S.RUNNING),
    Op.DELETE: (S.DELETING, None),
}
TRANSITIONAL = frozenset(s for s, _ in OPERATIONS.values()) | {S.PENDING}
_ACTION_ALLOWED = {
    "start": {S.STOPPED, S.FAILED, S.DOWN},
    "stop": {S.RUNNING, S.PARTIALLY_FAILED, S.FAILED, S.DOWN, S.UNKNOWN},
    "restart": {S.RUNNING, S.PARTIALLY_FAILED, S.FAILED},
    "scale": {S.RUNNING, S.PARTIALLY_FAILED, S.FAILED},
}
ACTIONS = frozenset(a.value for a in InstanceActionType)
# JOB_TYPE of each operation (DAILY_OPERATION for the others).
JOB_TYPES = {Op.DEPLOY: JobType.PROVISION, Op.DELETE: JobType.DEPROVISION}

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DCS_ALIASES = {"distributed_session", "distributed_cache"}


def invalid(message: str) -> errors.ServiceError:
    return errors.bad_request(message, errors.INSTANCE_INVALID)


def new_job_id() -> str:
    return f"JOB{uuid.uuid4()}"


def job_type(operation: JobOperation) -> JobType:
    return JOB_TYPES.get(operation, JobType.DAILY_OPERATION)


def status_after_failure(replica: int, available: int) -> InstanceStatus:
    return S.PARTIALLY_FAILED if 0 < available < replica else S.FAILED


# --- validation against the catalogue and the environment --------------------------------------
def check_flavor(flavor_id: str) -> None:
    if not is_valid_flavor(flavor_id):
        raise invalid(
            f"flavor_id {flavor_id!r} is neither a flavor of GET /v2/{{project_id}}/cas/metadata/flavors nor a "
            "custom one in the form CUSTOM-<storage>G:<cpu limit>m-<cpu request>m:<memory limit>Gi-<memory request>Gi "
            "(e.g. CUSTOM-10G:250m-250m:0.5Gi-0.5Gi; requests may not exceed limits)"
        )


def platform_of(env: Environment, refer: list[ReferResource]) -> str:
    """cce for containers (a cce resource), vmapp for virtual machines (ecs/as)."""
    base = [r.type for r in refer if r.type in {t.value for t in BASE_RESOURCE_TYPES}]
    if base:
        return "vmapp" if base[0] in ("ecs", "as") else "cce"
    return "vmapp" if env.deploy_mode == "virtualmachine" else "cce"


def check_refer_resources(env: Environment, refer: list[ReferResource]) -> None:
    """Each resource must be one of the environment's (ecs may be given as id "Default" when the
    environment has ECS); exactly one basic resource (cce, ecs, as) says where the instance
    runs; cce needs parameters.namespace, ecs parameters.hosts; dcs takes refer_alias values."""
    known = {(r.type, r.id) for r in [*env.base_resources, *env.optional_resources]}
    env_types = {r.type for r in [*env.base_resources, *env.optional_resources]}
    base_types = {t.value for t in BASE_RESOURCE_TYPES}
    seen: set[tuple[str, str]] = set()
    basics = []
    for i, r in enumerate(refer):
        where = f"refer_resources[{i}]"
        if (r.type, r.id) in seen:
            raise invalid(f"{where}: {r.type} {r.id} is listed twice")
        seen.add((r.type, r.id))
        if (r.type, r.id) not in known and not (r.type == "ecs" and r.id == "Default" and "ecs" in env_types):
            raise invalid(f"{where}: {r.type} {r.id} is not a resource of environment {env.id}")
        params = r.parameters or {}
        if r.type in base_types:
            basics.append(r)
        if r.type == "cce":
            ns = params.get("namespace")
            if not isinstance(ns, str) or not _DNS_LABEL.match(ns):
                raise invalid(f'{where}: a cce resource needs parameters.namespace, a DNS label such as "default"')
        if r.type == "ecs":
            hosts = params.get("hosts")
            if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
                raise invalid(f"{where}: an ecs resource needs parameters.hosts, a list of ECS ids")
        if r.type == "dcs" and r.refer_alias is not None:
            aliases = {a.strip() for a in r.refer_alias.split(",")}
            if not aliases <= _DCS_ALIASES:
                raise invalid(f"{where}: refer_alias takes distributed_session and/or distributed_cache")
    if len(basics) != 1:
        raise invalid(f"refer_resources must name exactly one basic resource (cce, ecs or as) to deploy on; got {len(basics)}")


def check_artifacts(artifacts: Mapping[str, Artifact], platform: str) -> None:
    if not artifacts:
        raise errors.huawei_error(
            errors.INSTANCE_ARTIFACTS_EMPTY,
            "give at least one artifact (storage, type, url), or give the component a software package source",
        )
    for key, a in artifacts.items():
        if platform == "vmapp" and a.type != "package":
            raise invalid(f"artifacts.{key}: a VM deployment takes type package, not {a.type}")


def _accesses(items: list[ExternalAccessCreate] | None, now_ms: int) -> list[ExternalAccess]:
    out = []
    seen = set()
    for a in items or []:
        key = (a.protocol.upper(), a.address, a.forward_port)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            ExternalAccess(
                id=uuid.uuid4().hex,
                protocol=a.protocol.upper(),
                address=a.address,
                forward_port=a.forward_port,
                create_time=now_ms,
                update_time=now_ms,
            )
        )
    return out


def default_artifacts(component_source: dict[str, Any] | None, component_name: str) -> dict[str, dict[str, Any]]:
    """The artifact a component's software-package source implies (used when none is given)."""
    if not component_source or component_source.get("kind") != "artifact":
        return {}
    spec = component_source.get("spec") or {}
    if not spec.get("url"):
        return {}
    return {
        component_name: {
            "storage": spec.get("storage") or "obs",
            "type": spec.get("type") or "package",
            "url": spec["url"],
            "auth": spec.get("auth") or "iam",
        }
    }


def new_instance(
    project_id: str,
    application_id: str,
    component_id: str,
    instance_id: str,
    job_id: str,
    env: Environment,
    body: InstanceCreate,
    creator: str,
    now_ms: int,
    fallback_artifacts: dict[str, dict[str, Any]] | None = None,
) -> Instance:
    check_flavor(body.flavor_id)
    platform = platform_of(env, body.refer_resources)
    check_refer_resources(env, body.refer_resources)
    artifacts = body.artifacts
    if not artifacts and fallback_artifacts:
        artifacts = {k: Artifact.model_validate(v) for k, v in fallback_artifacts.items()}
    check_artifacts(artifacts or {}, platform)
    return Instance(
        id=instance_id,
        name=body.name,
        description=body.description,
        project_id=project_id,
        application_id=application_id,
        component_id=component_id,
        environment_id=env.id,
        environment_name=env.name,
        platform_type=platform,
        flavor_id=body.flavor_id,
        artifacts={k: v.model_dump(exclude_none=True) for k, v in (artifacts or {}).items()},
        version=body.version,
        configuration=body.configuration.model_dump(exclude_none=True) if body.configuration else {},
        creator=creator,
        create_time=now_ms,
        update_time=now_ms,
        external_accesses=_accesses(body.external_accesses, now_ms),
        refer_resources=body.refer_resources,
        status_detail=StatusDetail(
            status=S.INITIALIZING,
            available_replica=0,
            replica=body.replica,
            last_job_id=job_id,
            last_job_status=ExecutionStatus.SUBMITTED.value,
            enterprise_project_id=env.enterprise_project_id,
        ),
    )


def modified(current: Instance, change: InstanceModify, env: Environment) -> Instance:
    """The instance an upgrade job deploys (applied to the instance when the job succeeds)."""
    update: dict[str, Any] = {"version": change.version}
    if change.flavor_id is not None:
        check_flavor(change.flavor_id)
        update["flavor_id"] = change.flavor_id
    if change.description is not None:
        update["description"] = change.description
    if change.configuration is not None:
        update["configuration"] = change.configuration.model_dump(exclude_none=True)
    if change.artifacts is not None:
        check_artifacts(change.artifacts, current.platform_type)
        update["artifacts"] = {k: v.model_dump(exclude_none=True) for k, v in change.artifacts.items()}
    if change.refer_resources is not None:
        check_refer_resources(env, change.refer_resources)
        if platform_of(env, change.refer_resources) != current.platform_type:
            raise invalid("refer_resources cannot move an instance between container and VM platforms")
        update["refer_resources"] = change.refer_resources
    if change.external_accesses is not None:
        update["external_accesses"] = _accesses(change.external_accesses, current.update_time)
    return current.model_copy(update=update)


# --- actions --------------------------------------------------------------------------------------
def require_idle(inst: Instance) -> None:
    status = inst.status_detail.status
    if status in {s.value for s in TRANSITIONAL}:
        raise errors.bad_request(
            f"instance {inst.name} is {status} (job {inst.status_detail.last_job_id} is running): "
            "wait for that job to finish and try again",
            errors.INSTANCE_BUSY,
        )


@dataclass(frozen=True)
class PlannedAction:
    operation: JobOperation  # start | stop | restart | scale | rollback
    replica: int | None = None
    snapshot: Snapshot | None = None
    hosts: list[str] | None = None  # a scale's parameters.hosts: the VM hosts the replicas run on


def check_action_defined(action: InstanceAction) -> None:
    """The action is one the reference defines (Huawei's 400 SVCSTG.00100418 otherwise)."""
    if action.action not in ACTIONS:
        raise errors.huawei_error(
            errors.INSTANCE_ACTION_NOT_DEFINED, f"action {action.action!r} is not one of {', '.join(a.value for a in InstanceActionType)}"
        )


def plan_action(inst: Instance, action: InstanceAction, snapshots: list[Snapshot]) -> PlannedAction:
    """Check an action against the instance's status and parameters (400 when it breaks a rule;
    404 SVCSTG.00100436 when a rollback names a version the instance has no snapshot of)."""
    check_action_defined(action)
    require_idle(inst)
    name = action.action
    status = inst.status_detail.status
    params = action.parameters
    allowed = _ACTION_ALLOWED.get(name)
    if allowed is not None and status not in {s.value for s in allowed}:
        raise errors.bad_request(
            f"cannot {name} instance {inst.name} while it is {status} (allowed in: {', '.join(sorted(s.value for s in allowed))})",
            errors.INSTANCE_ACTION_NOT_ALLOWED,
        )
    if name == "scale":
        if params is None or params.replica is None:
            raise invalid("scale needs parameters.replica")
        if not 1 <= params.replica <= MAX_REPLICA:
            raise invalid(f"parameters.replica must be between 1 and {MAX_REPLICA} (use stop to run no replica)")
        if inst.platform_type == "vmapp" and params.replica > inst.status_detail.replica and not params.hosts:
            raise invalid("scaling out a VM deployment needs parameters.hosts (the ECS ids to deploy on)")
        return PlannedAction(Op.SCALE, replica=params.replica, hosts=list(params.hosts) if params.hosts else None)
    if name == "rollback":
        if params is None or not params.version:
            raise invalid("rollback needs parameters.version (one of GET .../instances/{instance_id}/snapshots)")
        matching = [s for s in snapshots if s.version == params.version]
        if not matching:
            known = ", ".join(sorted({s.version for s in snapshots})) or "none"
            raise errors.huawei_error(
                errors.SNAPSHOT_NOT_FOUND, f"instance {inst.name} has no snapshot of version {params.version} (snapshots: {known})"
            )
        return PlannedAction(Op.ROLLBACK, snapshot=max(matching, key=lambda s: s.create_time))
    return PlannedAction(JobOperation(name))


def snapshot_of(inst: Instance, job_id: str, now_ms: int) -> Snapshot:
    return Snapshot(
        instance_id=inst.id,
        version=inst.version,
        description=inst.description,
        create_time=now_ms,
        artifacts=inst.artifacts,
        configuration=inst.configuration,
        flavor_id=inst.flavor_id,
        replica=inst.status_detail.replica,
        job_id=job_id,
    )


def from_snapshot(inst: Instance, snap: Snapshot) -> Instance:
    """What a rollback deploys: the snapshot's version, artifacts, configuration and flavor; the
    current replica count stays (scaling is not undone by a rollback)."""
    return inst.model_copy(
        update={"version": snap.version, "artifacts": snap.artifacts, "configuration": snap.configuration, "flavor_id": snap.flavor_id}
    )


_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?")


def version_key(version: str) -> tuple[Any, ...]:
    """Semantic-version order (1.0.10 after 1.0.9; a pre-release before its release)."""
    m = _SEMVER.match(version)
    if not m:
        return (0, 0, 0, 0, ())
    pre = m.group(4)
    pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if pre else 1, pre_key)


def describe(operation: JobOperation, inst: Instance, replica: int | None = None, version: str | None = None) -> str:
    if operation == Op.DEPLOY:
        return f"Deploy instance {inst.name} version {inst.version} with {inst.status_detail.replica} replicas"
    if operation == Op.UPGRADE:
        return f"Upgrade instance {inst.name} to version {version or inst.version}"
    if operation == Op.ROLLBACK:
        return f"Roll back instance {inst.name} to version {version}"
    if operation == Op.SCALE:
        return f"Scale instance {inst.name} from {inst.status_detail.replica} to {replica} replicas"
    return f"{operation.value.capitalize()} instance {inst.name}"


# --- how a job moves its instance -----------------------------------------------------------------
class InstanceVerb(StrEnum):
    """The verb of an ``io.openstage.lifecycle.instance.<verb>`` event."""

    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    DELETED = "deleted"


@dataclass(frozen=True)
class InstanceEvent:
    """An instance event to emit: its verb and the instance it shows."""

    verb: InstanceVerb
    instance: Instance


def _with_detail(inst: Instance, **changes: object) -> Instance:
    return inst.model_copy(update={"status_detail": inst.status_detail.model_copy(update=changes)})


def target_of(inst: Instance, action: PlannedAction) -> Instance:
    """The instance an action's job deploys: a rollback's snapshot, a scale's replica count, else as it is."""
    if action.operation == Op.ROLLBACK and action.snapshot is not None:
        return from_snapshot(inst, action.snapshot)
    if action.operation == Op.SCALE:
        scaled = _with_detail(inst, replica=action.replica)
        if action.hosts and inst.platform_type == "vmapp":
            # the hosts a VM scale names replace the ecs resource's hosts (kept when the job succeeds)
            refer = [
                ReferResource.model_validate(r) for r in with_hosts([r.model_dump(mode="json") for r in inst.refer_resources], action.hosts)
            ]
            scaled = scaled.model_copy(update={"refer_resources": refer})
        return scaled
    return inst


def locked_for_job(current: Instance, operation: JobOperation, job_id: str, replica: int | None = None) -> tuple[Instance, InstanceEvent]:
    """The instance once job ``job_id`` of ``operation`` holds it: in the operation's transitional
    status, showing the job as its last (SUBMITTED)."""
    locked = _with_detail(
        current,
        status=OPERATIONS[operation][0],
        last_job_id=job_id,
        last_job_status=ExecutionStatus.SUBMITTED.value,
        replica=replica if replica is not None else current.status_detail.replica,
    )
    return locked, InstanceEvent(InstanceVerb.STATUS_CHANGED, locked)


@dataclass(frozen=True)
class ProgressOfJob:
    """What a running job reports about its instance (None: unchanged)."""

    last_job_status: ExecutionStatus | None = None
    available_replica: int | None = None


def with_progress(inst: Instance, progress: ProgressOfJob) -> tuple[Instance, InstanceEvent]:
    """The instance after its job reported ``progress`` (the job still holds it)."""
    changes: dict[str, object] = {}
    if progress.last_job_status is not None:
        changes["last_job_status"] = progress.last_job_status.value
    if progress.available_replica is not None:
        changes["available_replica"] = progress.available_replica
    changed = _with_detail(inst, **changes)
    return changed, InstanceEvent(InstanceVerb.STATUS_CHANGED, changed)


@dataclass(frozen=True)
class InstanceAfterJob:
    """Where an ended job leaves its instance."""

    instance: Instance  # as the job leaves it (DELETED when removed)
    removed: bool = False  # a delete job succeeded: the instance and its snapshots are gone
    held_by: str | None = None  # the job that holds the instance next (a forced delete's), else None
    snapshot: Snapshot | None = None  # what a deploy/upgrade deployed (a rollback target)
    events: list[InstanceEvent] = field(default_factory=list)


def after_job(
    current: Instance,
    job_id: str,
    operation: JobOperation,
    status: ExecutionStatus,
    target: Instance,
    available: int,
    handoff_to: str | None,
    now_ms: int,
) -> InstanceAfterJob:
    """The instance after job ``job_id`` (which holds it) ended in ``status``.

    - a delete that succeeded removes it;
    - another success puts it in the operation's final status with all its replicas (none when
      stopped); deploy, upgrade and rollback apply the job's target, deploy and upgrade keep a snapshot;
    - a failure leaves FAILED (PARTIALLY_FAILED when some replicas are ``available``), a
      cancellation leaves the status as it was;
    - then, when a forced delete waits (``handoff_to``), that job takes the instance: DELETING."""
    detail = current.status_detail
    if status == ExecutionStatus.SUCCEEDED and operation == Op.DELETE:
        gone = _with_detail(current, status=S.DELETED, available_replica=0, last_job_status=ExecutionStatus.SUCCEEDED.value)
        return InstanceAfterJob(gone, removed=True, events=[InstanceEvent(InstanceVerb.DELETED, gone)])
    snapshot = None
    verb = InstanceVerb.STATUS_CHANGED
    if status == ExecutionStatus.SUCCEEDED:
        final = target if operation in (Op.DEPLOY, Op.UPGRADE, Op.ROLLBACK) else current
        if operation == Op.SCALE:  # a VM scale may have moved the replicas to other hosts
            final = final.model_copy(update={"refer_resources": target.refer_resources})
        success_status = OPERATIONS[operation][1]
        assert success_status is not None  # only a delete has none, handled above
        if operation in (Op.UPGRADE, Op.ROLLBACK) and target.status_detail.status == S.STOPPED.value:
            # an upgrade (or rollback) of a STOPPED instance records the new version and leaves
            # it stopped: the next start runs it (docs/instances-and-jobs.md)
            success_status = S.STOPPED
        replica = detail.replica
        final = final.model_copy(
            update={
                "update_time": now_ms if operation in (Op.UPGRADE, Op.ROLLBACK) else final.update_time,
                "status_detail": StatusDetail(
                    status=success_status,
                    replica=replica,
                    available_replica=0 if success_status == S.STOPPED else replica,
                    last_job_id=job_id,
                    last_job_status=ExecutionStatus.SUCCEEDED.value,
                    enterprise_project_id=detail.enterprise_project_id,
                ),
            }
        )
        if operation in (Op.DEPLOY, Op.UPGRADE):
            snapshot = snapshot_of(final, job_id, now_ms)
        if operation in (Op.UPGRADE, Op.ROLLBACK):
            verb = InstanceVerb.UPDATED
    else:
        final = _with_detail(
            current,
            status=status_after_failure(detail.replica, available) if status == ExecutionStatus.FAILED else detail.status,
            available_replica=available,
            last_job_status=status.value,
        )
    if handoff_to:
        final = _with_detail(final, status=S.DELETING, last_job_id=handoff_to, last_job_status=ExecutionStatus.SUBMITTED.value)
    return InstanceAfterJob(final, held_by=handoff_to or None, snapshot=snapshot, events=[InstanceEvent(verb, final)])


# --- status that tracks the replicas (the host agents' reports) -----------------------------------
# The statuses an agent's report may change: an instance a job holds is left to the job, and
# STOPPED/FAILED stay until an action changes them (a report of replicas that are being stopped
# or that a failed job left behind does not make the instance RUNNING).
LIVE = frozenset({S.RUNNING, S.PARTIALLY_FAILED, S.DOWN, S.UNKNOWN})


def _changed(inst: Instance, status: InstanceStatus, available: int, fail_detail: str | None) -> tuple[Instance, InstanceEvent | None]:
    d = inst.status_detail
    if (d.status, d.available_replica, d.fail_detail) == (status.value, available, fail_detail):
        return inst, None
    changed = _with_detail(inst, status=status, available_replica=available, fail_detail=fail_detail)
    return changed, InstanceEvent(InstanceVerb.STATUS_CHANGED, changed)


def status_from_replicas(inst: Instance, ready: int, desired: int, detail: str | None) -> tuple[Instance, InstanceEvent | None]:
    """The instance once its hosts report ``ready`` of its ``desired`` replicas ready (``detail``:
    what is wrong with the others): RUNNING when all are, PARTIALLY_FAILED when some are, DOWN when
    none is, each not-RUNNING one with ``fail_detail``. None as the event: nothing changed (or the
    instance is not in a status replicas decide: see ``LIVE``)."""
    if inst.status_detail.status not in {s.value for s in LIVE}:
        return inst, None
    if ready >= desired:
        return _changed(inst, S.RUNNING, desired, None)
    why = detail or f"{desired - ready} of {desired} replicas are not ready"
    return _changed(inst, S.PARTIALLY_FAILED if ready > 0 else S.DOWN, ready, why)


def host_silent(inst: Instance, host_id: str, silent_seconds: float) -> tuple[Instance, InstanceEvent | None]:
    """The instance once a host it runs on has not announced itself for ``silent_seconds``: UNKNOWN."""
    if inst.status_detail.status not in {s.value for s in LIVE}:
        return inst, None
    detail = f"host {host_id} has not been heard from for {silent_seconds:.0f}s: the state of its replicas is unknown"
    return _changed(inst, S.UNKNOWN, inst.status_detail.available_replica, detail)
