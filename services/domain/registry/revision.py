"""Discovery revisions: the ``rev`` / ``X-Resource-Revision`` / 304 protocol, and the registry's
HTTP header names.

Sources (apache/servicecomb-service-center): ``pkg/util/common.go`` (``HeaderRev =
"X-Resource-Revision"``), ``server/handler/context/context.go`` (the client's revision is read
from the ``rev`` query parameter only) and ``server/resource/disco/instance_resource.go`` (find /
list / get-one set ``X-Resource-Revision`` on every 200 and answer 304 with an empty body when the
request's ``rev`` is non-empty and equal).

openstage has no etcd revisions: a result's revision is the sha1 of its JSON bytes
(:func:`services.domain.registry.model.body_revision`), the same in every process for the same
instances; any change the result shows gives a new one, a heartbeat none.
"""

from __future__ import annotations

REVISION_HEADER = "X-Resource-Revision"
CONSUMER_ID_HEADER = "X-ConsumerId"
DOMAIN_HEADER = "X-Domain-Name"
SCHEMA_SUMMARY_HEADER = "X-Schema-Summary"
DEPRECATION_HEADER = "Deprecation"

__all__ = ["CONSUMER_ID_HEADER", "DEPRECATION_HEADER", "DOMAIN_HEADER", "REVISION_HEADER", "SCHEMA_SUMMARY_HEADER"]
