"""The fast handler tier: each domain's handlers run in-process, through FastStream's
TestNatsBroker (no nats-server), against a real nx-27017 store started once for the session.
Events a handler commits through the outbox are recorded by ``RecordingJetStream`` (the
outbox's publisher port) instead of going to JetStream.

A test builds its domain's deps with the worker's own composition root (``base_deps`` gives the
shared parts on a fresh database; ``compose`` creates the indexes), replaces what talks to other
processes if it must, then calls subjects with ``call``::

    deps = await compose(await base_deps("config"))
    async with handler_broker(ROUTERS, deps) as broker:
        reply = await call(broker, "p1", LIFECYCLE, Lifecycle.ENVIRONMENT_CREATE, body)
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import orjson
import pytest
from faststream.nats import NatsBroker, NatsRouter, TestNatsBroker
from pydantic import BaseModel

from openstage.processes import free_port, mongodb_url, start_store, stop
from services.adapters.clock import Clock
from services.adapters.store import mongo
from services.adapters.store.outbox import Outbox
from services.contracts import subjects
from services.contracts.envelope import Reply
from services.contracts.events import CloudEvent
from services.settings import Settings
from workers.runtime import DEPS_KEY, WorkerDeps


class RecordingJetStream:
    """The outbox's publisher port, recording what would go to JetStream."""

    def __init__(self) -> None:
        self.published: list[CloudEvent] = []

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
        event = CloudEvent.model_validate_json(payload)
        assert event.openstagesubject == subject and (headers or {}).get("Nats-Msg-Id") == event.id
        self.published.append(event)

    def types(self) -> list[str]:
        return [e.type for e in self.published]


@pytest.fixture(scope="session")
def store_url(tmp_path_factory) -> str:
    """One nx-27017 for the whole tier; each test works in a database of its own."""
    data_dir = tmp_path_factory.mktemp("handler-store")
    port = free_port()
    child = start_store(data_dir, port, log_dir=data_dir / "logs")
    yield mongodb_url("127.0.0.1", port)
    stop(child)


@pytest.fixture
def base_deps(store_url) -> Callable[[str], Awaitable[WorkerDeps]]:
    """``await base_deps(domain)``: the shared parts of a worker on a fresh database.

    nx-27017 deviation: a transaction on a database that does not exist yet fails at commit ("No
    session specified"); MongoDB creates it. A worker's ``compose`` creates its indexes first, so
    build deps through it (as the running worker does)."""

    async def make(domain: str) -> WorkerDeps:
        settings = Settings(
            mongodb_url=store_url, nats_url="nats://unused:4222", store_serialize_writes=True, mongodb_db=f"h{uuid.uuid4().hex[:12]}"
        )
        db = mongo.connect(store_url, mongo.database_name(settings.mongodb_db, domain), serialize_writes=True)
        js = RecordingJetStream()
        clock = Clock()
        return WorkerDeps(
            settings=settings,
            clock=clock,
            db=db,
            nc=None,
            js=js,  # type: ignore[arg-type]
            outbox=Outbox(db, js, clock),
        )  # type: ignore[arg-type]

    return make


@contextlib.asynccontextmanager
async def handler_broker(routers: Sequence[NatsRouter], deps: WorkerDeps) -> AsyncIterator[NatsBroker]:
    """The worker's routers on an in-memory broker, with ``deps`` where handlers find them."""
    broker = NatsBroker()
    for router in routers:
        broker.include_router(router)
    broker.context.set_global(DEPS_KEY, deps)
    async with TestNatsBroker(broker) as test_broker:
        yield test_broker


async def call(broker: NatsBroker, project: str, domain: str, action: str, body: BaseModel | dict | None = None) -> Reply:
    """Request a command subject as the edge does and decode the typed reply."""
    if isinstance(body, BaseModel):
        payload: Any = orjson.loads(body.model_dump_json(by_alias=True))
    else:
        payload = body or {}
    msg = await broker.request(payload, subjects.command(project, domain, action), timeout=5)
    return Reply.model_validate(orjson.loads(msg.body))
