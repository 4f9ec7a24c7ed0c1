"""Environment rules: building and re-resourcing an environment, and when one may be deleted.
Pure: no I/O. (Renaming one, and name uniqueness: ``services.domain.lifecycle.entities``.)

From the reference ("Creating an Environment", servicestage_06_0023): the basic resources are
cce, ecs and as; an environment has at least one (Huawei's 400 SVCSTG.00100422 "base resource can
not empty"); the create answer returns ``base_resources`` and ``optional_resources`` empty
("返回为空"), the other calls return them. Deleting an environment documents 204/400/404/500
(servicestage_06_0026): one that still has instances is refused with 400 SVCSTG.00100402
("component was deployed, uninstall first")."""

from __future__ import annotations

from services.contracts import errors
from services.contracts.environments import BASE_RESOURCE_TYPES, CreateEnvironment, Environment, EnvironmentResourceModify, Resource
from services.contracts.errors import bad_request
from services.domain.lifecycle.entities import created_fields


def _check_base(resources: list[Resource]) -> None:
    """Only basic resource types among ``resources``."""
    wrong = [r.type for r in resources if r.type not in {t.value for t in BASE_RESOURCE_TYPES}]
    if wrong:
        allowed = ", ".join(sorted(t.value for t in BASE_RESOURCE_TYPES))
        raise bad_request(f"base_resources: type {wrong[0]} is not a basic resource (allowed: {allowed})")


def _dedupe(resources: list[Resource]) -> list[Resource]:
    seen: set[tuple[str, str]] = set()
    out = []
    for r in resources:
        key = (r.type, r.id)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _check_not_empty(base: list[Resource]) -> None:
    if not base:
        raise errors.huawei_error(errors.BASE_RESOURCE_EMPTY, "base_resources must name at least one basic resource (cce, ecs or as)")


def new_environment(project_id: str, env_id: str, cmd: CreateEnvironment, now_ms: int) -> Environment:
    _check_not_empty(cmd.base_resources)
    _check_base(cmd.base_resources)
    return Environment.model_validate(
        {
            **created_fields(project_id, env_id, cmd, cmd.creator, now_ms),
            "base_resources": _dedupe(cmd.base_resources),
            "optional_resources": _dedupe(cmd.optional_resources),
        }
    )


def with_resources(env: Environment, change: EnvironmentResourceModify, now_ms: int) -> Environment:
    """Add base/optional resources (adding one already present changes nothing) and remove
    resources by (type, id). An environment keeps at least one base resource."""
    _check_base(change.add_base_resources)
    removed = {(r.type, r.id) for r in change.remove_resources}
    base = [r for r in _dedupe(env.base_resources + change.add_base_resources) if (r.type, r.id) not in removed]
    optional = [r for r in _dedupe(env.optional_resources + change.add_optional_resources) if (r.type, r.id) not in removed]
    _check_not_empty(base)
    return env.model_copy(update={"base_resources": base, "optional_resources": optional, "update_time": now_ms})


def as_created(env: Environment) -> Environment:
    """The environment as the create call answers it: its resources empty (the reference's
    response table: "基础资源……返回为空", "可选资源……返回为空"); GET returns them."""
    return env.model_copy(update={"base_resources": [], "optional_resources": []})


def check_deletable(environment_id: str, instance_names: list[str]) -> None:
    """An environment is deleted only once no component instance is deployed in it."""
    if instance_names:
        raise errors.huawei_error(
            errors.COMPONENT_DEPLOYED,
            f"environment {environment_id} has component instances deployed ({', '.join(instance_names)}): delete them first",
        )
