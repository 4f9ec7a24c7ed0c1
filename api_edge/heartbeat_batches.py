"""Heartbeats the edge answered itself (api_edge/registry_memory.py: a live instance), passed on to
the registry workers in batches: ``instance.heartbeat_many``, the command of ``PUT /heartbeats``,
at most ``DELAY_SECONDS`` after the first heartbeat of a batch, each instance once per batch and
at most ``MAX_PER_COMMAND`` per command.

A worker renews a lease in memory either way (workers/registry/leases.py); a batch adds at most
``DELAY_SECONDS`` to a lease of tens of seconds. When the worker no longer knows an instance (its
entry in the reply carries ``errMessage``), or no worker answered, the edge forgets the project:
its next heartbeats and registrations are passed on at once and answered by the worker (400017
for an unknown instance) or by its absence. The batch pending
when the edge stops is sent before its bus connection closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pydantic import ValidationError

from api_edge.bus_client import BusClient
from api_edge.registry_memory import EdgeRegistryMemory, InstanceKey
from api_edge.route_commands import route_command
from api_edge.routers import registry
from services.contracts import errors
from services.contracts.registry import HeartbeatManyCommand, HeartbeatSetElement, HeartbeatSetRequest, HeartbeatSetResponse
from services.domain.registry.validation import MAX_BATCH_CLIENT

log = logging.getLogger("openstage.edge")

DELAY_SECONDS = 0.05
MAX_PER_COMMAND = MAX_BATCH_CLIENT  # what the worker accepts in one PUT /heartbeats
_HEARTBEAT_MANY = route_command(registry.heartbeats)


class HeartbeatBatches:
    def __init__(self, bus: BusClient, memory: EdgeRegistryMemory, delay: float = DELAY_SECONDS) -> None:
        self.bus = bus
        self.memory = memory
        self.delay = delay
        self._pending: dict[str, set[InstanceKey]] = {}
        self._sending: asyncio.Task[None] | None = None

    def add(self, project: str, service_id: str, instance_id: str) -> None:
        """One heartbeat answered by the edge: it leaves with the next batch."""
        self._pending.setdefault(project, set()).add((service_id, instance_id))
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send_later())

    async def _send_later(self) -> None:
        try:
            await asyncio.sleep(self.delay)
        finally:
            self._sending = None
        await self.send()

    async def send(self) -> None:
        """Send every pending heartbeat now."""
        pending, self._pending = self._pending, {}
        for project, instances in pending.items():
            ids = sorted(instances)
            for start in range(0, len(ids), MAX_PER_COMMAND):
                await self._send_one(project, ids[start : start + MAX_PER_COMMAND])

    async def _send_one(self, project: str, ids: list[InstanceKey]) -> None:
        body = HeartbeatSetRequest(instances=[HeartbeatSetElement(service_id=sid, instance_id=iid) for sid, iid in ids])
        try:
            reply = await self.bus.request(project, _HEARTBEAT_MANY, HeartbeatManyCommand(body=body))
            if reply.error is not None:
                raise errors.ServiceError(reply.status, reply.error.error_code, reply.error.error_msg)
            results = HeartbeatSetResponse.model_validate(reply.result or {}).instances or []
        except (errors.ServiceError, ValidationError) as exc:
            log.warning("%d heartbeats of project %s not passed on (%s): its instances are checked again", len(ids), project, exc)
            self.memory.changed(project)
            return
        if any(result.err_message for result in results):
            # an instance the worker no longer knows (an event the edge has not seen yet, or missed):
            # forget the project, so its heartbeats and registrations meet the worker again
            self.memory.changed(project)

    async def stop(self) -> None:
        """Send what is pending (the edge is stopping)."""
        if self._sending is not None:
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending
            self._sending = None
        await self.send()
