"""Environment rules: building and re-resourcing an environment. Pure: no I/O.
(Renaming one, and name uniqueness: ``services.domain.lifecycle.entities``.)"""

from __future__ import annotations

from services.contracts.environments import (
    BASE_RESOURCE_TYPES,
    CreateEnvironment,
    Environment,
    EnvironmentResourceModify,
    Resource,
)
from services.contracts.errors import bad_request
from services.domain.lifecycle.entities import created_fields


def _check_base(resources: list[Resource]) -> None:
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


def new_environment(project_id: str, env_id: str, cmd: CreateEnvironment, now_ms: int) -> Environment:
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
    optional = [
        r for r in _dedupe(env.optional_resources + change.add_optional_resources) if (r.type, r.id) not in removed
    ]
    if not base:
        raise bad_request("an environment needs at least one base resource")
    return env.model_copy(update={"base_resources": base, "optional_resources": optional, "update_time": now_ms})
