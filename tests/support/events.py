"""Reading the events stream in tests, as an integration would: from the first sequence."""

from __future__ import annotations

import asyncio
import json

import nats

from services.contracts import subjects


async def read_events(nats_url: str, subject_filter: str, idle_timeout: float = 1.0) -> list[dict]:
    """Every message on OPENSTAGE_EVENTS matching the filter, oldest first, as
    ``{"subject", "headers", "event"}`` (event = the decoded CloudEvent)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject_filter, durable=None, stream=subjects.EVENTS_STREAM)
        out = []
        while True:
            try:
                msgs = await sub.fetch(100, timeout=idle_timeout)
            except (TimeoutError, nats.errors.TimeoutError):  # nats-py raises either
                break
            for m in msgs:
                out.append({"subject": m.subject, "headers": m.headers or {}, "event": json.loads(m.data)})
                await m.ack()
        return out
    finally:
        await nc.close()


def events(nats_url: str, subject_filter: str, idle_timeout: float = 1.0) -> list[dict]:
    return asyncio.run(read_events(nats_url, subject_filter, idle_timeout))
