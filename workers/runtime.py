"""What every domain worker shares: its composition root (WorkerDeps, build_worker), the command
error mapping, the ping subject and the outbox relay."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from faststream import FastStream
from faststream.middlewares import ExceptionMiddleware
from faststream.nats import NatsBroker, NatsRouter
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from services.adapters import bus
from services.adapters.clock import Clock
from services.adapters.store import mongo, nx_sessions
from services.adapters.store.outbox import Outbox
from services.contracts import subjects
from services.contracts.envelope import Reply
from services.contracts.errors import INTERNAL, INVALID_PARAMETER, ServiceError, unavailable
from services.contracts.input_validation import describe_validation_error
from services.settings import Settings, get_settings

log = logging.getLogger("openstage.worker")
SHUTDOWN_STEP_SECONDS = 3.0


@dataclass
class WorkerDeps:
    """What the handlers of one worker process use, built once by that process's composition
    root (``build_worker`` connects; the domain's ``compose`` adds its own parts) and handed to
    every handler by FastStream's context: a handler declares ``deps: <Domain>Deps = Context()``.

    A domain subclasses it with its own parts (driver, caches, delete guards, background loops)
    and lists what runs in the background in ``background()`` (or overrides ``start``/``stop``)."""

    settings: Settings
    clock: Clock
    db: AsyncDatabase
    nc: NATS  # the process's events connection (JetStream publishes, background consumers)
    js: JetStreamContext
    outbox: Outbox

    def background(self) -> list[Any]:
        """The domain's background parts (each with ``async start()`` and ``stop()``)."""
        return []

    async def start(self) -> None:
        """Start background work (loops, consumers) once the subscribers are live."""
        for part in self.background():
            await part.start()

    async def stop(self) -> None:
        """Stop what ``start`` started, last first; each step bounded by the caller."""
        for part in reversed(self.background()):
            await part.stop()

    def base(self) -> dict:
        """The shared parts as keyword arguments, for building a domain's subclass."""
        return {f.name: getattr(self, f.name) for f in fields(WorkerDeps)}


DEPS_KEY = "deps"  # the name handlers declare: ``deps: X = Context()``


# Command and query subscribers answer every failure with a typed Reply: a caller never waits
# for a timeout because a handler raised.
command_errors = ExceptionMiddleware()


@command_errors.add_handler(ServiceError, publish=True)
def _service_error(exc: ServiceError) -> Reply:
    return Reply.failure(exc)


@command_errors.add_handler(ValidationError, publish=True)
def _validation_error(exc: ValidationError) -> Reply:
    return Reply.failure(ServiceError(400, INVALID_PARAMETER, describe_validation_error(exc)))


def store_unavailable(exc: BaseException) -> bool:
    """The store could not be reached (down, restarting, network): the command may be retried."""
    if isinstance(exc, ConnectionFailure):  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
        return True
    return isinstance(exc, PyMongoError) and (
        exc.has_error_label("TransientTransactionError") or exc.has_error_label("UnknownTransactionCommitResult")
    )


def as_service_error(exc: BaseException) -> ServiceError:
    """What a command answers for an exception its handler raised: its own ServiceError; 503 when
    the store is unreachable (as the edge answers when no worker does); else 500."""
    if isinstance(exc, ServiceError):
        return exc
    if store_unavailable(exc):
        log.warning("command failed: the store is unavailable: %s", exc)
        return unavailable("the store is unavailable; try again")
    log.exception("command failed", exc_info=exc)
    return ServiceError(500, INTERNAL, "internal error")


@command_errors.add_handler(Exception, publish=True)
def _unexpected_error(exc: Exception) -> Reply:
    return Reply.failure(as_service_error(exc))


def command_failure(exc: BaseException) -> Reply:
    """What a command subscriber answers for ``exc``, as ``command_errors`` answers it (for the
    subjects a worker serves on plain nats-py)."""
    if isinstance(exc, ValidationError):
        return _validation_error(exc)
    return Reply.failure(as_service_error(exc))


def command_router() -> NatsRouter:
    return NatsRouter(middlewares=[command_errors])


# ``max_workers`` of the subscribers that opt in to concurrency (reads, creates): per process.
CONCURRENT_COMMANDS = 64


def on_command(router: NatsRouter, domain: str, action: str, description: str | None = None, *, reply: Any, max_workers: int | None = None):
    """Subscribe a handler to ``openstage.cmd.{project}.<domain>.<action>`` in the domain's queue group.

    ``reply`` (required) is the model of a successful reply's ``result``, or None for a reply
    without a body (e.g. 204); the bus reference and the AsyncAPI document show it. FastStream
    handles a subscriber's messages one at a time; ``max_workers`` lets up to that many run
    concurrently (their writes then share group commits, services/adapters/store/outbox.py)."""

    def decorate(func):
        func.__reply_model__ = reply
        concurrency: dict[str, Any] = {"max_workers": max_workers} if max_workers else {}
        return router.subscriber(
            subjects.command_template(domain, action), queue=domain, title=f"{domain}.{action}", description=description, **concurrency
        )(func)

    return decorate


# A domain's composition root: given the shared parts, build the domain's deps (indexes, caches,
# driver, guards, background loops) and return them. Handlers receive what it returns.
Compose = Callable[[WorkerDeps], Awaitable[WorkerDeps]]


async def connect_deps(settings: Settings, domain: str, streams: Sequence[StreamConfig] = ()) -> WorkerDeps:
    """The shared parts of a worker process: its database, its events connection, the outbox."""
    db_name = mongo.database_name(settings.mongodb_db, domain)
    if settings.store_serialize_writes:  # embedded nx-27017: see services/adapters/store/nx_sessions.py
        await nx_sessions.enable(settings.data_dir / "store-sessions", db_name).abort_dead(settings.mongodb_url)
    db = mongo.connect(settings.mongodb_url, db_name, serialize_writes=settings.store_serialize_writes)
    nc = await bus.connect(settings.nats_url, name=f"openstage-{domain}-events")
    js = nc.jetstream()
    await bus.ensure_streams(js, list(streams))
    clock = Clock()
    outbox = Outbox(db, js, clock)
    await outbox.ensure_indexes()
    return WorkerDeps(settings=settings, clock=clock, db=db, nc=nc, js=js, outbox=outbox)


def build_worker(
    domain: str,
    routers: Sequence[NatsRouter],
    compose: Compose | None = None,
    streams: Sequence[StreamConfig] = (),
    settings: Settings | None = None,
) -> FastStream:
    """A FastStream app for one domain worker: the process's composition root.

    At start it connects the shared parts (``connect_deps``), lets the domain's ``compose`` build
    its deps from them, and puts the result in the broker's context for every handler; once the
    subscribers are live it starts the outbox sweeper and ``deps.start()``; at shutdown it stops
    them, each step bounded."""
    settings = settings or get_settings()
    if not settings.nats_url or not settings.mongodb_url:
        raise RuntimeError("OPENSTAGE_NATS_URL and OPENSTAGE_MONGODB_URL must be set to run a worker alone")
    broker = NatsBroker(
        settings.nats_url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        logger=logging.getLogger(f"openstage.{domain}.broker"),
        log_level=logging.DEBUG,
    )
    for router in routers:
        broker.include_router(router)

    @broker.subscriber(subjects.ping(domain), title=f"{domain}.ping", description="Liveness of the worker")
    async def ping() -> dict:
        return {"worker": domain, "ok": True}

    app = FastStream(broker, logger=logging.getLogger(f"openstage.{domain}"))
    built: list[WorkerDeps] = []

    @app.on_startup
    async def _connect() -> None:
        base = await connect_deps(settings, domain, streams)
        deps = await compose(base) if compose is not None else base
        built.append(deps)
        broker.context.set_global(DEPS_KEY, deps)

    @app.after_startup
    async def _started() -> None:
        deps = built[0]
        deps.outbox.start_sweeper(settings.outbox_sweep_seconds)
        await deps.start()
        log.info("worker %s ready", domain)

    @app.on_shutdown
    async def _stop() -> None:
        # Each step is bounded: a worker asked to stop must stop (SIGTERM from `openstage up`,
        # compose or a test), whatever a connection is waiting for.
        steps = []
        if built:
            deps = built[0]
            steps.append(("domain parts", deps.stop()))
            steps.append(("outbox", deps.outbox.stop()))
            # flush what was published, then close (drain() can wait on a pull subscription's
            # pending request for seconds)
            steps.append(("events flush", deps.nc.flush(timeout=1)))
            steps.append(("events connection", deps.nc.close()))
        for name, step in steps:
            started = time.monotonic()
            try:
                await asyncio.wait_for(step, SHUTDOWN_STEP_SECONDS)
            except BaseException as exc:  # log and go on stopping
                log.warning("worker %s: shutdown step %s did not finish cleanly: %r", domain, name, exc)
            if time.monotonic() - started > 0.5:
                log.warning("worker %s: shutdown step %s took %.1fs", domain, name, time.monotonic() - started)
        log.info("worker %s: shutdown hooks done", domain)

    @app.after_shutdown
    async def _stopped() -> None:
        # The store client last, once the broker has stopped handling commands (a closed
        # AsyncMongoClient cannot be used again): ends its server sessions, stops its monitor tasks.
        if built:
            try:
                await asyncio.wait_for(built[0].db.client.close(), SHUTDOWN_STEP_SECONDS)
            except BaseException as exc:  # log and go on stopping
                log.warning("worker %s: shutdown step store connection did not finish cleanly: %r", domain, exc)
        log.info("worker %s stopped", domain)

    return app


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_apps(named: dict[str, FastStream]) -> None:
    """Run the FastStream apps of several domains in this one process (`openstage worker
    lifecycle,config,registry,jobs`). Each keeps its own broker, connections, database and
    composition root; they share only the interpreter and its event loop. SIGINT/SIGTERM stop
    them all. When one of them ends by itself (a start-up failure, a crash), the others are
    stopped too and its error is raised: the process exits and its supervisor restarts all of them."""
    apps = list(named.values())
    if len(apps) == 1:
        await apps[0].run()
        return
    tasks = [asyncio.create_task(app.run(), name=domain) for domain, app in named.items()]
    # Each run() installs its own signal handlers as its first step (only the last one's would
    # stay): once they all have, replace them with one that stops every app.
    await asyncio.sleep(0)
    stopping = False

    def stop_all() -> None:
        nonlocal stopping
        stopping = True
        for app in apps:
            app.exit()

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop_all)
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    ended_by_itself = not stopping
    stop_all()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
    if ended_by_itself:
        raise RuntimeError(f"the {', '.join(t.get_name() for t in done)} worker of this process stopped by itself; all of them stopped")
