"""PyMongo's native async client (pymongo.AsyncMongoClient, what the store uses) vs motor (deprecated,
no longer an openstage dependency: compared only where it is still importable) on the store's hot
operations: a find_one by _id and an update_one $set by _id (what a lease flush and an instance
lookup do), with `concurrency` tasks in flight, against the same store.

    python -m bench.store_drivers [--url mongodb://...] [--seconds 3] [--runs 3]

Without --url it starts an nx-27017 store of its own."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.loadgen import from_latencies


async def _load(coll, op: str, seconds: float, concurrency: int, ids: list[str]):
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(w: int) -> None:
        i = w
        while time.perf_counter() < deadline:
            key = ids[i % len(ids)]
            i += concurrency
            t0 = time.perf_counter()
            if op == "find_one":
                await coll.find_one({"_id": key})
            else:
                await coll.update_one({"_id": key}, {"$set": {"beat": t0}})
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return from_latencies(latencies, time.perf_counter() - started, 0, {})


async def measure(driver: str, url: str, op: str, seconds: float, concurrency: int):
    if driver == "motor":
        from motor.motor_asyncio import AsyncIOMotorClient

        client = AsyncIOMotorClient(url)
    else:
        from pymongo import AsyncMongoClient

        client = AsyncMongoClient(url)
    coll = client["bench_drivers"]["leases"]
    ids = [f"i{n}" for n in range(200)]
    if await coll.count_documents({}) < len(ids):
        await coll.delete_many({})
        await coll.insert_many([{"_id": i, "beat": 0.0} for i in ids])
    result = await _load(coll, op, seconds, concurrency, ids)
    if driver == "motor":
        client.close()
    else:
        await client.close()
    return result


def drivers() -> tuple[str, ...]:
    """The drivers to measure: motor too while it is still installed."""
    return ("motor", "pymongo-async") if importlib.util.find_spec("motor") else ("pymongo-async",)


def compare(url: str, seconds: float, runs: int, concurrency: int) -> list[dict]:
    rows = []
    measured = drivers()
    for op in ("find_one", "update_one"):
        for driver in measured:
            results = [asyncio.run(measure(driver, url, op, seconds, concurrency)) for _ in range(runs)]
            tps = statistics.median(r.tps for r in results)
            mid = sorted(results, key=lambda r: r.tps)[len(results) // 2]
            rows.append(
                {
                    "operation": op,
                    "driver": driver,
                    "ops_per_s": round(tps, 1),
                    "p50_ms": round(mid.p50_ms, 3),
                    "p95_ms": round(mid.p95_ms, 3),
                    "runs": runs,
                }
            )
    for op in ("find_one", "update_one"):
        if "motor" not in measured:
            break
        m = next(r for r in rows if r["operation"] == op and r["driver"] == "motor")
        p = next(r for r in rows if r["operation"] == op and r["driver"] == "pymongo-async")
        p["ratio_to_motor"] = round(p["ops_per_s"] / m["ops_per_s"], 3) if m["ops_per_s"] else None
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.store_drivers", description=__doc__)
    p.add_argument("--url")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--output", default="bench/results/store_drivers.json")
    args = p.parse_args(argv)
    store = None
    url = args.url
    if not url:
        from openstage.processes import free_port, mongodb_url, start_store

        port = free_port()
        data = Path(tempfile.mkdtemp(prefix="openstage-drivers-"))
        store = start_store(data, port, log_dir=data / "logs")
        url = mongodb_url("127.0.0.1", port)
    try:
        rows = compare(url, args.seconds, args.runs, args.concurrency)
    finally:
        if store:
            from openstage.processes import stop

            stop(store)
            shutil.rmtree(data, ignore_errors=True)
    print("| operation | driver | ops/s | p50 ms | p95 ms | ratio to motor |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['operation']} | {r['driver']} | {r['ops_per_s']:,.0f} | {r['p50_ms']} | {r['p95_ms']} | {r.get('ratio_to_motor', '')} |"
        )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"url_kind": "nx-27017" if store else "external", "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
