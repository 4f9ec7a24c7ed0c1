"""Discovery revisions: the ``rev`` / ``X-Resource-Revision`` / 304 protocol.

Sources (apache/servicecomb-service-center): ``pkg/util/common.go`` (``HeaderRev =
"X-Resource-Revision"``), ``server/handler/context/context.go`` (the client's revision is read
from the ``rev`` **query parameter** only), ``server/resource/disco/instance_resource.go``
(find / list / get-one set ``X-Resource-Revision`` on every 200 and answer 304 with an empty
body when the request's ``rev`` is non-empty and equal) and
``datasource/etcd/util/instance_util.go`` ``FormatRevision`` (sha1 hex of the instances' etcd
revisions and counts).

openstage has no etcd revisions, so the revision is a sha1 over the sorted
``serviceId/instanceId/modTimestamp/status`` of the result: the same result always gives the
same revision and any registration, deregistration, expiry, status or properties change (the
registry bumps ``modTimestamp`` on each) gives a new one. Heartbeats change nothing.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping

from pydantic import BaseModel

REVISION_HEADER = "X-Resource-Revision"
REVISION_QUERY = "rev"
CONSUMER_ID_HEADER = "X-ConsumerId"
DOMAIN_HEADER = "X-Domain-Name"
SCHEMA_SUMMARY_HEADER = "X-Schema-Summary"


def _field(obj: Any, camel: str, snake: str) -> str:
    if isinstance(obj, BaseModel):
        value = getattr(obj, snake, None)
    elif isinstance(obj, Mapping):
        value = obj.get(camel, obj.get(snake))
    else:
        value = getattr(obj, snake, None)
    return "" if value is None else str(value)


def instance_fingerprint(instance: Any) -> str:
    """``serviceId/instanceId/modTimestamp/status`` of one instance (model, dict or object)."""
    return "/".join(
        (
            _field(instance, "serviceId", "service_id"),
            _field(instance, "instanceId", "instance_id"),
            _field(instance, "modTimestamp", "mod_timestamp"),
            _field(instance, "status", "status"),
        )
    )


def instances_revision(instances: Iterable[Any]) -> str:
    """Deterministic revision (40 hex characters) of a discovery result, independent of order."""
    lines = sorted(instance_fingerprint(i) for i in instances)
    h = hashlib.sha1()
    h.update(f"{len(lines)}\n".encode())
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def is_not_modified(request_rev: str | None, current_rev: str) -> bool:
    """True when the edge must answer 304 (empty body, ``X-Resource-Revision`` still set)."""
    return bool(request_rev) and request_rev == current_rev


__all__ = [
    "CONSUMER_ID_HEADER",
    "DOMAIN_HEADER",
    "REVISION_HEADER",
    "REVISION_QUERY",
    "SCHEMA_SUMMARY_HEADER",
    "instance_fingerprint",
    "instances_revision",
    "is_not_modified",
]
