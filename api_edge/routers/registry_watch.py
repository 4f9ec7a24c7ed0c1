"""``GET /v4/{project_id}/registry/microservices/{service_id}/watcher`` (WebSocket): Service-Center's
instance watch, fed by the registry worker's events.

What Service-Center does (apache/servicecomb-service-center, master ``983f3f39``):

* ``server/rest/controller/v4/instance_watcher.go``: upgrades the request to a WebSocket first;
  ``server/pubsub/pubsub.go`` ``Watch`` then checks that the watching service exists and, if it
  does not, writes the error's text (``"service does not exist"``, ``datasource.ErrServiceNotExists``)
  as one text message and closes.
* ``datasource/*/event/instance_event_handler.go``: every change of an instance of a provider is
  fired at each **consumer** of that provider (``GetConsumerIds``: the services that depend on it
  per the dependency rules), so a watcher receives the instance changes of the services its
  ``serviceId`` depends on, not those of its own instances (unless it depends on itself).
* ``server/pubsub/ws/broker.go``: each change is one text message, ``json.Marshal`` of cari's
  ``WatchInstanceResponse`` with ``response`` dropped::

      {"action": "CREATE", "key": {"tenant": "default/<project>", "environment": "production",
       "appId": "shop", "serviceName": "order", "version": "1.0.0"}, "instance": {...}}

  ``action`` is the store event's type: ``CREATE`` (registered), ``UPDATE`` (status, properties
  or any other change of the instance) and ``DELETE`` (deregistered, and also a lease that expired:
  the store deletes the key, so watchers see a DELETE). ``key`` is ``MicroServiceToKey(domainProject, provider)``
  (Go ``omitempty``: empty fields are left out), ``instance`` the instance as stored (its last state
  for a DELETE).
* a change of a service's tags pushes nothing to watchers. The etcd store's
  ``datasource/etcd/event/tag_event_handler.go`` (L50-97) means to send an ``EXPIRE`` for each
  provider to the watcher of the service whose tags changed, but builds it with
  ``evt.KV.Value.(*pb.MicroServiceInstance)`` (instance_event_handler.go L111) on a value that is
  the tags map (``sd.TypeServiceTag`` is parsed by ``parser.MapParser``, sd/types.go L71-73): the
  assertion panics in the async task and nothing is sent; the MongoDB store has no tag handler
  (``datasource/mongo/event/``). What does happen is that the cached finds of that service are
  dropped (``cache.FindInstances.Remove``), so the next discovery call, which may filter by
  ``tags``, sees the new tags: openstage does the same (workers/registry/caches.py) and sends
  watchers nothing.
* ``server/pubsub/ws/websocket.go``: what the client sends is read and thrown away (read limit 64
  bytes: a bigger message closes the connection with 1009); pings keep it alive.

openstage: the edge subscribes to ``openstage.evt.<project>.registry.>`` with an ephemeral ordered
JetStream consumer (deliver new: stream order, no duplicates), asks the registry worker over the
bus whether the service exists (``service.get``) and which services it depends on
(``dependency.providers``, i.e. ``GET /microservices/{id}/providers``), forwards the instance events
of those providers, and asks again for the providers whenever a ``dependency.changed``,
``service.created`` or ``service.deleted`` event passes (version rules such as ``1.0.0+`` or
``latest`` pick up new versions). Events are handled one after the other, so a provider's instance
event that follows the event that made it a provider is forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from nats.js.api import DeliverPolicy
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from api_edge.bus_client import BusClient
from api_edge.route_commands import Command
from services.contracts import errors, subjects
from services.contracts.registry import MicroServiceInstance, MicroServiceKey, ServiceRefCommand, WatchInstanceResponse

log = logging.getLogger("openstage.edge.watch")

router = APIRouter(tags=["registry watch"])

WATCH_PATH = "/v4/{project_id}/registry/microservices/{service_id}/watcher"

# the registry worker's queries the watch asks (each takes the service id)
SERVICE_GET = Command(subjects.REGISTRY, subjects.Registry.SERVICE_GET)
DEPENDENCY_PROVIDERS = Command(subjects.REGISTRY, subjects.Registry.DEPENDENCY_PROVIDERS)

# registry instance event verb -> Service-Center watch action
INSTANCE_ACTIONS = {"registered": "CREATE", "updated": "UPDATE", "status_changed": "UPDATE", "deregistered": "DELETE", "expired": "DELETE"}
# events after which the providers of the watcher are asked again
REFRESH_EVENTS = {("dependency", "changed"), ("service", "created"), ("service", "deleted")}

SERVICE_NOT_EXISTS_TEXT = "service does not exist"  # datasource.ErrServiceNotExists
READ_MAX_BODY = 64  # server/pubsub/ws/connection.go ReadMaxBody
DOMAIN_HEADER = "x-domain-name"
DEFAULT_DOMAIN = "default"
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011


# --- the pure part: which events become which messages ------------------------------------------
def parse_event_subject(subject: str) -> tuple[str, str, str, str] | None:
    """``openstage.evt.<project>.<domain>.<entity>.<verb>`` -> (project, domain, entity, verb)."""
    prefix = subjects.EVT_PREFIX + "."
    if not subject.startswith(prefix):
        return None
    parts = subject[len(prefix) :].split(".")
    if len(parts) != 4:
        return None
    return parts[0], parts[1], parts[2], parts[3]


def events_filter(project_id: str) -> str:
    """Every registry event of a project: ``openstage.evt.<project>.registry.>``."""
    return subjects.registry_events_filter(project_id)


def tenant_of(domain: str | None, project_id: str) -> str:
    """Service-Center's ``domainProject``: ``<domain>/<project>``."""
    return f"{domain or DEFAULT_DOMAIN}/{project_id}"


def watch_message(verb: str, data: dict[str, Any], tenant: str) -> dict[str, Any] | None:
    """The WatchInstanceResponse JSON for an instance event (``None`` for a verb that is not one)."""
    action = INSTANCE_ACTIONS.get(verb)
    if action is None or not isinstance(data, dict):
        return None
    service = data.get("service") or {}
    instance = dict(data.get("instance") or {})
    instance.setdefault("serviceId", data.get("serviceId"))
    instance.setdefault("instanceId", data.get("instanceId"))
    key = MicroServiceKey(
        tenant=tenant,
        environment=service.get("environment") or None,
        app_id=service.get("appId") or None,
        service_name=service.get("serviceName") or None,
        alias=service.get("alias") or None,
        version=service.get("version") or None,
    )
    return WatchInstanceResponse(action=action, key=key, instance=MicroServiceInstance.model_validate(instance)).to_json()


@dataclass
class WatchState:
    """What one watcher forwards: instance events of its providers."""

    project_id: str
    consumer_id: str
    tenant: str
    providers: set[str] = field(default_factory=set)

    def needs_refresh(self, subject: str) -> bool:
        parsed = parse_event_subject(subject)
        return bool(parsed) and parsed[0] == self.project_id and parsed[1] == subjects.REGISTRY and (parsed[2], parsed[3]) in REFRESH_EVENTS

    def message_for(self, subject: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """The message to send for an event, or None when this watcher does not see it."""
        parsed = parse_event_subject(subject)
        if not parsed or parsed[0] != self.project_id or parsed[1] != subjects.REGISTRY or parsed[2] != "instance":
            return None
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict):
            return None
        provider = data.get("serviceId") or (data.get("instance") or {}).get("serviceId")
        if provider not in self.providers:
            return None
        try:
            return watch_message(parsed[3], data, self.tenant)
        except ValidationError as exc:
            log.warning("instance event on %s not forwarded: %s", subject, exc)
            return None


def provider_ids(result: dict[str, Any] | None) -> set[str]:
    """The service ids of a ``GetProvidersResponse`` (``{}`` when none)."""
    out = set()
    for svc in (result or {}).get("providers") or []:
        if isinstance(svc, dict) and svc.get("serviceId"):
            out.add(svc["serviceId"])
    return out


# --- asking the registry worker -----------------------------------------------------------------
class ServiceMissing(Exception):
    pass


async def _ask_registry(bus: BusClient, project_id: str, command: Command, service_id: str) -> dict[str, Any]:
    reply = await bus.request(project_id, command, ServiceRefCommand(service_id=service_id))
    err = reply.error
    if err is not None:
        # Service-Center's ExistServiceByID: an id that is not a service's (unknown or not even
        # valid) is "service does not exist"
        if err.error_code in ("400012", "400001"):
            raise ServiceMissing(err.detail or err.error_msg or SERVICE_NOT_EXISTS_TEXT)
        raise errors.ServiceError(reply.status, err.error_code, err.error_msg, err.detail)
    return reply.result or {}


async def require_service(bus: BusClient, project_id: str, service_id: str) -> None:
    await _ask_registry(bus, project_id, SERVICE_GET, service_id)


async def fetch_providers(bus: BusClient, project_id: str, service_id: str) -> set[str]:
    return provider_ids(await _ask_registry(bus, project_id, DEPENDENCY_PROVIDERS, service_id))


# --- the WebSocket ------------------------------------------------------------------------------
@router.websocket(WATCH_PATH, name="Watch the instances of a service's providers")
async def watch(websocket: WebSocket, project_id: str, service_id: str):
    bus = websocket.app.state.bus
    state = WatchState(project_id, service_id, tenant_of(websocket.headers.get(DOMAIN_HEADER), project_id))
    sub = None
    try:
        # Everything is set up before the handshake completes: once the client's connect returns,
        # every later change reaches it (Service-Center subscribes after the upgrade, a small window
        # in which a change is lost). The outcome of the checks is reported after the upgrade, as
        # Service-Center does.
        try:
            if bus.nc is None or not bus.nc.is_connected:
                raise errors.unavailable("message bus not connected")
            # subscribe first, so nothing that happens while we ask for the providers is missed
            sub = await bus.nc.jetstream().subscribe(
                events_filter(project_id), stream=subjects.EVENTS_STREAM, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
            )
            await require_service(bus, project_id, service_id)
            state.providers = await fetch_providers(bus, project_id, service_id)
            await websocket.accept()
        except ServiceMissing:
            await _refuse_watch(websocket, SERVICE_NOT_EXISTS_TEXT, 1000)
            return
        except errors.ServiceError as exc:
            await _refuse_watch(websocket, exc.message, CLOSE_INTERNAL_ERROR)
            return
        except Exception as exc:  # the stream or the bus is not there
            log.warning("watch of %s/%s not established: %s", project_id, service_id, exc)
            await _refuse_watch(websocket, f"watch not established: {exc}", CLOSE_INTERNAL_ERROR)
            return

        log.info("watching providers of %s/%s: %s", project_id, service_id, sorted(state.providers))
        sender = asyncio.create_task(_send_provider_events(websocket, sub, state, bus), name=f"watch-{service_id}")
        discarder = asyncio.create_task(_discard_client_messages(websocket), name=f"watch-read-{service_id}")
        done, pending = await asyncio.wait({sender, discarder}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            exc = task.exception()
            if exc and not isinstance(exc, WebSocketDisconnect):
                log.warning("watch of %s/%s ended: %s", project_id, service_id, exc)
    finally:
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


async def _refuse_watch(websocket: WebSocket, text: str, code: int) -> None:
    """Service-Center's SendEstablishError: the error's text as a message, then the end."""
    with contextlib.suppress(Exception):
        if websocket.client_state == WebSocketState.CONNECTING:
            await websocket.accept()
        await websocket.send_text(text)
        await websocket.close(code=code)


async def _discard_client_messages(websocket: WebSocket) -> None:
    """Read and drop what the client sends; a message over 64 bytes ends the watch (1009)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        size = len(message.get("bytes") or b"") + len((message.get("text") or "").encode())
        if size > READ_MAX_BODY:
            with contextlib.suppress(Exception):
                await websocket.close(code=CLOSE_MESSAGE_TOO_BIG)
            return


async def _send_provider_events(websocket: WebSocket, sub, state: WatchState, bus) -> None:
    async for msg in sub.messages:
        try:
            event = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            continue
        if state.needs_refresh(msg.subject):
            try:
                state.providers = await fetch_providers(bus, state.project_id, state.consumer_id)
            except ServiceMissing:
                state.providers = set()
            except errors.ServiceError as exc:  # keep the last known providers
                log.warning("providers of %s not refreshed: %s", state.consumer_id, exc.message)
            continue
        message = state.message_for(msg.subject, event)
        if message is not None:
            await websocket.send_text(orjson.dumps(message).decode())
