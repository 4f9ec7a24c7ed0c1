"""Shared by the registry handlers: replies, events, and the transaction wrapper that keeps this
process's caches in line with what it just committed.

Replies follow the bus convention (``{"status", "result" | "error"}``) plus an optional
``headers`` object the edge copies onto the HTTP response (``X-Resource-Revision``,
``X-Schema-Summary``). ``result`` absent with status 200 means "200, empty body" (Service-Center
answers its writes that way)."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Sequence, TypeVar

import orjson

from services.contracts.events import CloudEvent
from services.contracts.subjects import REGISTRY
from workers.registry.state import state
from workers.runtime import ctx

T = TypeVar("T")

OK_EMPTY = b'{"status":200}'


def reply(result: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    out: dict[str, Any] = {"status": status}
    if result is not None:
        out["result"] = result
    if headers:
        out["headers"] = headers
    return orjson.dumps(out)


def reply_raw(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    """A reply whose ``result`` is already-serialized JSON (no re-encoding)."""
    head = b'{"status":' + str(status).encode()
    if headers:
        head += b',"headers":' + orjson.dumps(headers)
    return head + b',"result":' + body + b"}"


def service_path(project: str, service_id: str) -> str:
    return f"/v4/{project}/registry/microservices/{service_id}"


def service_event(project: str, verb: str, service: dict[str, Any]) -> CloudEvent:
    return CloudEvent.new(project, REGISTRY, "service", verb,
                          resource_path=service_path(project, service["serviceId"]),
                          data={"serviceId": service["serviceId"], "service": service})


def instance_event(project: str, verb: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent.new(project, REGISTRY, "instance", verb,
                          resource_path=f"{service_path(project, data['serviceId'])}/instances/{data['instanceId']}",
                          data=data)


def schema_event(project: str, service: dict[str, Any], schema_id: str, action: str,
                 summary: str | None = None) -> CloudEvent:
    return CloudEvent.new(project, REGISTRY, "schema", "changed",
                          resource_path=f"{service_path(project, service['serviceId'])}/schemas/{schema_id}",
                          data={"serviceId": service["serviceId"], "schemaId": schema_id, "action": action,
                                "summary": summary or "",
                                "service": {k: service.get(k, "") for k in
                                            ("appId", "serviceName", "version", "environment")}})


def dependency_event(project: str, consumer: dict[str, Any], providers: list[dict[str, str]]) -> CloudEvent:
    return CloudEvent.new(project, REGISTRY, "dependency", "changed",
                          resource_path=f"{service_path(project, consumer['serviceId'])}/providers",
                          data={"consumerId": consumer["serviceId"],
                                "consumer": {k: consumer.get(k, "") for k in
                                             ("appId", "serviceName", "version", "environment")},
                                "providers": providers})


def apply_events(project: str, events: Sequence[CloudEvent]) -> None:
    for e in events:
        entity, verb = e.type.rsplit(".", 2)[-2:]
        state.apply_event(project, entity, verb, e.data)


async def commit(project: str, write: Callable[[Any], Awaitable[tuple[T, Sequence[CloudEvent]]]]) -> T:
    """``ctx.outbox.transaction(write)``, then this process's caches see the events at once."""
    produced: list[CloudEvent] = []

    async def wrapped(session):
        result, events = await write(session)
        produced[:] = list(events)
        return result, events

    try:
        return await ctx.outbox.transaction(wrapped)
    finally:
        if produced:
            apply_events(project, produced)
