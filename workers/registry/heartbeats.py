"""Handlers of openstage.cmd.<project>.registry.instance.heartbeat and .heartbeat_many: lease
renewals. A heartbeat writes nothing: the lease is marked renewed in memory and the lease keeper
(workers/registry/leases.py) flushes renewals in batches. It emits no event.

``heartbeat`` is the hottest subject: :func:`heartbeat_from_memory` answers it synchronously when
the instance is known to this process (workers/registry/fast_path.py calls it for every message
before anything else); otherwise the instance's lease TTL is read once from the store and kept."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.registry import HeartbeatCommand, HeartbeatManyCommand, HeartbeatSetResponse
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import validation as v
from workers.registry.deps import RegistryDeps
from workers.registry.replies import OK_EMPTY, reply
from workers.runtime import command_router, on_command

router = command_router()
# instance.heartbeat: served by the fast path's own subscription at run time (workers/registry/app.py)
fast_path_router = command_router()


def heartbeat_from_memory(deps: RegistryDeps, project: str, service_id: Any, instance_id: Any) -> bytes | None:
    """The answer when this process knows the instance (its lease is marked renewed), else None.

    Takes the ids as the command carries them, before the command model: a known instance's ids
    are strings a registration validated, so any other value is simply not known here and is
    answered by :func:`heartbeat` after validation."""
    ttl = deps.caches.instance_ttls.get((project, service_id, instance_id))
    if ttl is None:
        return None
    deps.leases.renew(project, service_id, instance_id, ttl)
    return OK_EMPTY


async def renew_lease(deps: RegistryDeps, project: str, service_id: Any, instance_id: Any) -> None:
    """Renew an instance's lease in memory (no write): at once when this process knows the
    instance, else after validating the ids and reading the instance's lease TTL from the store
    once (remembered for the next heartbeat); 400017 when there is no such instance."""
    if heartbeat_from_memory(deps, project, service_id, instance_id) is not None:
        return
    sid, iid = v.validate_heartbeat(service_id, instance_id)
    ttl = await store.lease_ttl(deps.db, project, sid, iid)
    if ttl is None:
        raise rerr.instance_not_exists()
    deps.caches.remember_instance(project, sid, iid, ttl)
    deps.leases.renew(project, sid, iid, ttl)


@on_command(fast_path_router, REGISTRY, Registry.INSTANCE_HEARTBEAT, "Renew an instance's lease (flushed in batches)", reply=None)
async def heartbeat(body: HeartbeatCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    await renew_lease(deps, project, body.service_id, body.instance_id)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.INSTANCE_HEARTBEAT_MANY, "Renew several leases (PUT /heartbeats)", reply=HeartbeatSetResponse)
async def heartbeat_many(body: HeartbeatManyCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    results = []
    for n, e in enumerate(v.validate_heartbeat_set(body.body)):
        if n and not n % 200:
            await asyncio.sleep(0)  # a batch of known instances takes no await: give the loop back
        entry: dict[str, Any] = {"serviceId": e.service_id or "", "instanceId": e.instance_id or ""}
        try:
            await renew_lease(deps, project, e.service_id, e.instance_id)
        except rerr.RegistryError as exc:
            entry["errMessage"] = str(exc)
        results.append(entry)
    return reply({"instances": results})
