"""A component instance as the lifecycle rules see it, for unit tests of those rules."""

from __future__ import annotations

from typing import Any

from services.contracts.component_instances import Instance, StatusDetail


def an_instance(status: str = "RUNNING", replica: int = 2, available: int = 2, **fields: Any) -> Instance:
    """Instance ``i1`` of component ``c`` in environment ``env1``; ``fields`` override its fields and
    ``status_detail`` (a dict) adds to its status detail."""
    detail = fields.pop("status_detail", {})
    base: dict[str, Any] = {
        "id": "i1",
        "name": "web",
        "project_id": "p",
        "application_id": "a",
        "component_id": "c",
        "environment_id": "env1",
        "platform_type": "cce",
        "flavor_id": "MICRO-5G:0.5C:1G",
        "artifacts": {},
        "version": "1.0.0",
        "creator": "x",
        "create_time": 1,
        "update_time": 1,
    }
    return Instance(**{**base, **fields}, status_detail=StatusDetail(status=status, replica=replica, available_replica=available, **detail))
