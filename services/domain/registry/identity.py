"""Identifiers and timestamps the registry generates, as Service-Center does.

Sources (apache/servicecomb-service-center):

* ``server/plugin/uuid/context/context.go`` with ``uuid.kind: context`` (the default in
  ``etc/conf/app.yaml``, v2.0.0 and HEAD): a service registered without ``serviceId`` gets
  ``sha1(index key)`` in hex, the index key being
  ``/cse-sr/ms/indexes/{domain}/{project}/{environment}/{appId}/{serviceName}/{version}``
  (``datasource/etcd/path/key_generator.go``). The same key therefore always yields the same id,
  even after the service is deleted and registered again.
* ``pkg/util/uuid.go``: instance ids are a UUID with the dashes removed (32 hex characters).
* ``timestamp``/``modTimestamp`` are unix seconds as decimal strings.
"""

from __future__ import annotations

import hashlib
import uuid

SERVICE_INDEX_ROOT = "/cse-sr/ms/indexes"


def service_index_key(domain: str, project: str, environment: str | None, app_id: str, service_name: str, version: str) -> str:
    return "/".join((SERVICE_INDEX_ROOT, domain, project, environment or "", app_id, service_name, version))


def default_service_id(domain: str, project: str, environment: str | None, app_id: str, service_name: str, version: str) -> str:
    """The id Service-Center assigns a service registered without one (40 hex characters)."""
    key = service_index_key(domain, project, environment, app_id, service_name, version)
    return hashlib.sha1(key.encode()).hexdigest()


def new_instance_id() -> str:
    """A fresh instance id: 32 lowercase hex characters (a UUID without dashes)."""
    return uuid.uuid4().hex


def unix_timestamp(now: float) -> str:
    """``timestamp``/``modTimestamp`` form: whole seconds as a string."""
    return str(int(now))


__all__ = ["SERVICE_INDEX_ROOT", "default_service_id", "new_instance_id", "service_index_key", "unix_timestamp"]
