"""A request-reply load loop on NATS: `concurrency` requesters in one asyncio process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import nats

from bench.loadgen import Result, from_latencies


async def _run(
    url: str, subject: str, payload: Callable[[int], bytes], seconds: float, concurrency: int, ok: Callable[[bytes], bool]
) -> Result:
    nc = await nats.connect(url)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(wid: int) -> None:
        nonlocal errors
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            t0 = time.perf_counter()
            try:
                msg = await nc.request(subject, payload(wid * 10_000_000 + n), timeout=5)
                if not ok(msg.data):
                    errors += 1
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    await nc.close()
    return from_latencies(latencies, elapsed, errors, {})


def run_nats(
    url: str,
    subject: str,
    payload: Callable[[int], bytes],
    seconds: float,
    concurrency: int,
    ok: Callable[[bytes], bool] = lambda data: True,
) -> Result:
    try:
        import uvloop

        return uvloop.run(_run(url, subject, payload, seconds, concurrency, ok))
    except ImportError:  # pragma: no cover
        return asyncio.run(_run(url, subject, payload, seconds, concurrency, ok))
