"""NATS connection and JetStream stream set-up shared by the edge and the workers."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from services.contracts import subjects

log = logging.getLogger(__name__)

# Events are kept for 7 days (or 1 GiB), so integrations can replay from a sequence or a time.
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600
EVENTS_MAX_BYTES = 1 << 30
# Publishing with Nats-Msg-Id = event id deduplicates re-publishes within this window.
DUPLICATE_WINDOW_SECONDS = 120
# A queued job nobody ran is dropped after 7 days.
WORK_MAX_AGE_SECONDS = 7 * 24 * 3600


def _file_stream(name: str, subject_filter: str, retention: RetentionPolicy, max_age: float, **limits: Any) -> StreamConfig:
    """A stream on disk whose publishes are deduplicated by ``Nats-Msg-Id``."""
    return StreamConfig(
        name=name,
        subjects=[subject_filter],
        retention=retention,
        storage=StorageType.FILE,
        max_age=max_age,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        **limits,
    )


def events_stream_config() -> StreamConfig:
    """OPENSTAGE_EVENTS: every CloudEvent, kept 7 days or 1 GiB (the oldest go first)."""
    return _file_stream(
        subjects.EVENTS_STREAM,
        f"{subjects.EVT_PREFIX}.>",
        RetentionPolicy.LIMITS,
        EVENTS_MAX_AGE_SECONDS,
        max_bytes=EVENTS_MAX_BYTES,
        discard=DiscardPolicy.OLD,
    )


def jobs_work_stream_config() -> StreamConfig:
    """OPENSTAGE_JOBS_WORK: the deployment jobs' work queue (an item is gone once a runner acks it)."""
    return _file_stream(subjects.JOBS_WORK_STREAM, f"{subjects.WORK_PREFIX}.>", RetentionPolicy.WORK_QUEUE, WORK_MAX_AGE_SECONDS)


async def connect(url: str, name: str, **kwargs) -> NATS:
    """Connect with unlimited reconnects, so a restarted nats-server is picked up again."""
    return await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=5, **kwargs)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except BadRequestError:  # created meanwhile by another process
            pass
        return
    await js.update_stream(config)


async def ensure_streams(js: JetStreamContext, extra: list[StreamConfig] | None = None) -> None:
    for config in [events_stream_config(), *(extra or [])]:
        await ensure_stream(js, config)
