"""The registry's CloudEvents (``openstage.evt.<project>.registry.<entity>.<verb>``), built from
the v4 JSON of what changed. Their ``data`` is fixed (services/contracts/registry.py
``*EventData``): the WebSocket watcher and the caches of every registry process consume it."""

from __future__ import annotations

from typing import Any

from services.contracts.events import CloudEvent
from services.contracts.subjects import REGISTRY


def service_path(project: str, service_id: str) -> str:
    return f"/v4/{project}/registry/microservices/{service_id}"


def _event(project: str, entity: str, verb: str, path: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent.new(project, REGISTRY, entity, verb, resource_path=path, data=data)


def service_event(project: str, verb: str, service: dict[str, Any]) -> CloudEvent:
    """``service.created|updated|deleted``: ``{"serviceId", "service"}``."""
    sid = service["serviceId"]
    return _event(project, "service", verb, service_path(project, sid), {"serviceId": sid, "service": service})


def instance_event(project: str, verb: str, data: dict[str, Any]) -> CloudEvent:
    """``instance.<verb>`` with ``data`` from :func:`services.domain.registry.model.instance_event_data`."""
    path = f"{service_path(project, data['serviceId'])}/instances/{data['instanceId']}"
    return _event(project, "instance", verb, path, data)


def schema_event(project: str, service: dict[str, Any], schema_id: str, action: str, summary: str | None = None) -> CloudEvent:
    """``schema.changed``: ``action`` is ``put`` or ``delete``."""
    sid = service["serviceId"]
    data = {"serviceId": sid, "schemaId": schema_id, "action": action, "summary": summary or "", "service": _summary(service)}
    return _event(project, "schema", "changed", f"{service_path(project, sid)}/schemas/{schema_id}", data)


def tags_event(project: str, service: dict[str, Any], tags: dict[str, str]) -> CloudEvent:
    """``tag.changed``: the service's whole tag set now (a find filtering by tags is stale)."""
    sid = service["serviceId"]
    data = {"serviceId": sid, "tags": tags, "service": _summary(service)}
    return _event(project, "tag", "changed", f"{service_path(project, sid)}/tags", data)


def dependency_event(project: str, consumer: dict[str, Any], providers: list[dict[str, str]]) -> CloudEvent:
    """``dependency.changed``: the consumer's whole provider rule list now."""
    cid = consumer["serviceId"]
    data = {"consumerId": cid, "consumer": _summary(consumer), "providers": providers}
    return _event(project, "dependency", "changed", f"{service_path(project, cid)}/providers", data)


def _summary(service: dict[str, Any]) -> dict[str, str]:
    """``{"appId", "serviceName", "version", "environment"}`` of a service, as stored."""
    return {k: service.get(k, "") for k in ("appId", "serviceName", "version", "environment")}
