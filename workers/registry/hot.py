"""The registry's hot paths – ``instance.heartbeat`` and ``instance.find`` – on plain nats-py.

Both are polled by every client all the time. FastStream's per-message machinery (decoding,
dependency injection, middlewares) costs several times what answering from memory does, so a
registry process serves these two subjects with core-NATS subscriptions of its own (same
subjects, same queue group ``registry``, same payloads and replies):

* a message is answered **synchronously** when memory suffices – a heartbeat for a known
  instance (the lease is only marked dirty), a find whose answer is cached (the 200 or 304 reply
  bytes are sent as they are);
* otherwise it is handed to a task running the full handler (one MongoDB read or more), so a
  slow message never holds up the next.

``router`` declares the same two subscribers to FastStream for the bus documentation (AsyncAPI);
the running worker leaves it out (workers/registry/app.py)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import orjson
from faststream import Path

from services.adapters import bus

from services.contracts import subjects
from services.contracts.envelope import Reply
from services.contracts.registry import FindInstancesCommand, HeartbeatCommand
from services.contracts.registry_errors import invalid_params
from services.contracts.subjects import REGISTRY, Registry
from workers.registry.common import OK_EMPTY
from workers.registry.discovery import find_mark, find_reply
from workers.registry.microservice_instances import beat
from workers.registry.leases import leases
from workers.registry.state import state
from workers.runtime import WorkerContext, as_service_error, command_router, on_command

log = logging.getLogger("openstage.registry.hot")

router = command_router()

_FIND_FIELDS = ("app_id", "service_name", "version", "environment", "tags", "consumer_id", "rev")


def _failure(exc: Exception) -> bytes:
    return Reply.failure(as_service_error(exc)).model_dump_json().encode()


def _strings(data: Any, names: tuple[str, ...]) -> tuple:
    if not isinstance(data, dict):
        raise invalid_params("the command must be a JSON object")
    values = tuple(data.get(n) for n in names)
    for n, value in zip(names, values):
        if value is not None and not isinstance(value, str):
            raise invalid_params(f"{n} must be a string")
    return values


# --- heartbeat ---------------------------------------------------------------------------------
def heartbeat_now(project: str, data: dict) -> bytes | None:
    """The answer from memory, or None when the instance is not known here."""
    sid, iid = data.get("service_id"), data.get("instance_id")
    ttl = state.known.get((project, sid, iid))
    if ttl is None:
        return None
    leases.beat(project, sid, iid, ttl)
    return OK_EMPTY


async def heartbeat_slow(project: str, data: Any) -> bytes:
    sid, iid = _strings(data, ("service_id", "instance_id"))
    await beat(project, sid, iid)
    return OK_EMPTY


# --- find ----------------------------------------------------------------------------------------
def find_now(project: str, data: dict) -> bytes | None:
    app_id, name, version, env, tags, cid, rev = (data.get(n) for n in _FIND_FIELDS)
    if cid:
        consumer = state.services.get((project, cid))
        if consumer is None or not isinstance(app_id, str) or not isinstance(name, str):
            return None
        if find_mark(project, consumer, app_id, name, version)[1] not in state.recorded:
            return None
    entry = state.finds.get((project, env or "", app_id or "", name or "", version or "", tags or "", cid or ""))
    if entry is None:
        return None
    if entry.error is not None:
        return _failure(entry.error)
    if rev and rev == entry.rev:
        return entry.not_modified
    return entry.ok


async def find_slow(project: str, data: Any) -> bytes:
    return await find_reply(project, *_strings(data, _FIND_FIELDS))


# --- wiring --------------------------------------------------------------------------------------
HOT: dict[str, tuple[Callable[[str, dict], bytes | None], Callable[[str, Any], Awaitable[bytes]]]] = {
    Registry.INSTANCE_HEARTBEAT: (heartbeat_now, heartbeat_slow),
    Registry.INSTANCE_FIND: (find_now, find_slow),
}

_nc = None
_tasks: set[asyncio.Task] = set()


def _handler(now: Callable[[str, dict], bytes | None], slow: Callable[[str, Any], Awaitable[bytes]]):
    async def run_slow(msg, project: str, data: Any) -> None:
        try:
            out = await slow(project, data)
        except Exception as exc:  # noqa: BLE001 - every failure is a typed reply
            out = _failure(exc)
        if msg.reply:
            await msg.respond(out)

    async def on_message(msg) -> None:
        # openstage.cmd.<project>.registry.<entity>.<action>
        project = msg.subject.split(".", 3)[2]
        try:
            data = orjson.loads(msg.data) if msg.data else {}
            out = now(project, data) if isinstance(data, dict) else None
        except Exception as exc:  # noqa: BLE001
            out, data = _failure(invalid_params(f"Unmarshal error: {exc}")), None
        if out is not None:
            if msg.reply:
                await msg.respond(out)
            return
        task = asyncio.create_task(run_slow(msg, project, data))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    return on_message


async def start(c: WorkerContext) -> None:
    """Subscribe the hot subjects (queue group ``registry``) on a connection of their own."""
    global _nc
    _nc = await bus.connect(c.settings.nats_url, name="openstage-registry-hot")
    for action, (now, slow) in HOT.items():
        await _nc.subscribe(subjects.command("*", REGISTRY, action), queue=REGISTRY, cb=_handler(now, slow),
                            pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30)
    await _nc.flush()


async def stop(c: WorkerContext) -> None:
    if _nc is not None:
        try:
            await _nc.drain()
        except Exception:  # noqa: BLE001 - shutting down
            pass
    for task in list(_tasks):
        task.cancel()


# --- the same subjects as FastStream sees them (documentation only) ---------------------------------
@on_command(router, REGISTRY, Registry.INSTANCE_HEARTBEAT,
            "Renew an instance's lease (answered from memory; flushed to MongoDB in batches)")
async def heartbeat(body: HeartbeatCommand, project: str = Path()) -> bytes:
    return await heartbeat_slow(project, body.model_dump())


@on_command(router, REGISTRY, Registry.INSTANCE_FIND,
            "Discover instances (GET /instances): cached reply bytes, 304 when rev matches")
async def find(body: FindInstancesCommand, project: str = Path()) -> bytes:
    return await find_slow(project, body.model_dump())
