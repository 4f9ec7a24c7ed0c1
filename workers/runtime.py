"""What every domain worker shares: its connections, the command error mapping, the ping
subject, the outbox relay, and how a FastStream app is put together from routers."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Sequence

from faststream import FastStream
from faststream.middlewares import ExceptionMiddleware
from faststream.nats import NatsBroker, NatsRouter
from motor.motor_asyncio import AsyncIOMotorDatabase
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, PyMongoError

from services.adapters import bus

from services.contracts import subjects
from services.contracts.envelope import Reply
from services.contracts.errors import INTERNAL, INVALID_PARAMETER, ServiceError, unavailable
from services.settings import Settings, get_settings
from services.contracts.input_validation import describe_validation_error
from services.adapters.store import mongo, nx_sessions
from services.adapters.store.outbox import Outbox

log = logging.getLogger("openstage.worker")
SHUTDOWN_STEP_SECONDS = 3.0


@dataclass
class WorkerContext:
    """Connections a handler uses. Filled in when the worker starts (one per process)."""

    settings: Settings = field(default_factory=get_settings)
    db: AsyncIOMotorDatabase | None = None
    nc: NATS | None = None
    js: JetStreamContext | None = None
    outbox: Outbox | None = None


ctx = WorkerContext()


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
    return isinstance(exc, PyMongoError) and (exc.has_error_label("TransientTransactionError")
                                              or exc.has_error_label("UnknownTransactionCommitResult"))


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


def command_router() -> NatsRouter:
    return NatsRouter(middlewares=[command_errors])


def on_command(router: NatsRouter, domain: str, action: str, description: str | None = None):
    """Subscribe a handler to ``openstage.cmd.{project}.<domain>.<action>`` in the domain's queue group."""
    return router.subscriber(
        subjects.command_template(domain, action),
        queue=domain,
        title=f"{domain}.{action}",
        description=description,
    )


Hook = Callable[[WorkerContext], Awaitable[None]]


def build_worker(
    domain: str,
    routers: Sequence[NatsRouter],
    on_startup: Sequence[Hook] = (),
    after_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    streams: Sequence[StreamConfig] = (),
    settings: Settings | None = None,
) -> FastStream:
    """A FastStream app for one domain worker.

    on_startup hooks run after the store and bus are connected (create indexes there);
    after_startup hooks run once the subscribers are live (start background loops there)."""
    settings = settings or get_settings()
    ctx.settings = settings
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

    @app.on_startup
    async def _connect() -> None:
        db_name = mongo.database_name(settings.mongodb_db, domain)
        if settings.store_serialize_writes:  # embedded nx-27017: see services/adapters/store/nx_sessions.py
            await nx_sessions.enable(settings.data_dir / "store-sessions", db_name).abort_dead(settings.mongodb_url)
        ctx.db = mongo.connect(settings.mongodb_url, db_name, serialize_writes=settings.store_serialize_writes)
        ctx.nc = await bus.connect(settings.nats_url, name=f"openstage-{domain}-events")
        ctx.js = ctx.nc.jetstream()
        await bus.ensure_streams(ctx.js, list(streams))
        ctx.outbox = Outbox(ctx.db, ctx.js)
        for hook in on_startup:
            await hook(ctx)

    @app.after_startup
    async def _started() -> None:
        ctx.outbox.start_sweeper(settings.outbox_sweep_seconds)
        for hook in after_startup:
            await hook(ctx)
        log.info("worker %s ready", domain)

    @app.on_shutdown
    async def _stop() -> None:
        # Each step is bounded: a worker asked to stop must stop (SIGTERM from `openstage up`,
        # compose or a test), whatever a connection is waiting for.
        steps = [(f"hook {h.__name__}", h(ctx)) for h in on_shutdown]
        if ctx.outbox:
            steps.append(("outbox", ctx.outbox.stop()))
        if ctx.nc:
            # flush what was published, then close (drain() can wait on a pull subscription's
            # pending request for seconds)
            steps.append(("events flush", ctx.nc.flush(timeout=1)))
            steps.append(("events connection", ctx.nc.close()))
        for name, step in steps:
            started = time.monotonic()
            try:
                await asyncio.wait_for(step, SHUTDOWN_STEP_SECONDS)
            except BaseException as exc:  # noqa: BLE001 - log and go on stopping
                log.warning("worker %s: shutdown step %s did not finish cleanly: %r", domain, name, exc)
            if time.monotonic() - started > 0.5:
                log.warning("worker %s: shutdown step %s took %.1fs", domain, name, time.monotonic() - started)
        log.info("worker %s: shutdown hooks done", domain)

    @app.after_shutdown
    async def _stopped() -> None:
        log.info("worker %s stopped", domain)

    return app
