"""`python -m bench.soak --minutes 30`: a long, steady, mixed load on the whole system, watching
for what grows.

It starts the system on embedded defaults (as `python -m bench` does), measures the capacity of
the mixed load of bench/mixed.py (environments, instances and their jobs, registry registrations,
heartbeats and discovery) with as many operations in flight as --concurrency allows, then runs
it at half that rate (or --rate) for --minutes, sampling every --sample-seconds:

- RSS and open file descriptors of every process (nats-server, store, each worker, edge, and
  the load generator itself);
- event-stream lag: a JetStream consumer of the load's events measures receipt time minus the
  CloudEvent ``time`` (the change, before its commit: commit + outbox publish + delivery) and
  minus the stream's store time (delivery alone);
- throughput, answer latency and errors of the load.

A growth trend is the slope of a linear fit over the last 2/3 of the run (the first third is
warm-up: caches, pools, JIT-less Python allocator arenas). It writes a PNG plot (--plot), the
samples as JSON (--output) and prints a markdown summary. Not part of CI."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nats
import psutil
from nats.js.api import DeliverPolicy

from bench.loadgen import percentile
from bench.mixed import Call, MixedLoad
from openstage.processes import System, free_port
from services.contracts import subjects
from services.contracts.jobs import TERMINAL  # the job statuses that end a job (one set)
from workers import WORKERS

TOKEN = "soak-token-0123456789abcdef"
PROJECT = "soak"


@dataclass
class Window:
    """What happened since the last sample."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    lag_change: list[float] = field(default_factory=list)  # ms, receipt - CloudEvent time
    lag_delivery: list[float] = field(default_factory=list)  # ms, receipt - stream store time

    def on_call(self, c: Call) -> None:
        self.latencies.append(c.seconds * 1000)
        key = str(c.status) if c.status is not None else c.error
        self.statuses[key] = self.statuses.get(key, 0) + 1


@dataclass
class PerOp:
    """Latency and answers of each kind of operation over the whole run."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)

    def on_call(self, c: Call) -> None:
        self.latencies.setdefault(c.op, []).append(c.seconds * 1000)
        key = str(c.status) if c.status is not None else c.error
        counts = self.statuses.setdefault(c.op, {})
        counts[key] = counts.get(key, 0) + 1

    def table(self) -> dict:
        out = {}
        for op in sorted(self.latencies):
            lat = sorted(self.latencies[op])
            out[op] = {
                "calls": len(lat),
                "p50_ms": round(percentile(lat, 50), 1),
                "p95_ms": round(percentile(lat, 95), 1),
                "p99_ms": round(percentile(lat, 99), 1),
                "max_ms": round(lat[-1], 1),
                "answers": self.statuses[op],
            }
        return out


def start_system(data_dir: Path, task_seconds: str) -> System:
    env = {
        "OPENSTAGE_TOKENS": json.dumps([{"token": TOKEN, "projects": ["*"]}]),
        "OPENSTAGE_RATE_LIMIT_PER_SECOND": "0",
        "OPENSTAGE_SIMULATED_TASK_SECONDS": task_seconds,
        "OPENSTAGE_LOG_LEVEL": "WARNING",
    }
    system = System(data_dir=data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
    system.start(list(WORKERS))
    system.wait_ready(90)
    return system


def process_table(system: System) -> dict[str, psutil.Process]:
    procs = {name: psutil.Process(c.proc.pid) for name, c in system.children.items()}
    procs["loadgen"] = psutil.Process(os.getpid())
    return procs


async def measure_capacity(base_url: str, seconds: float, concurrency: int) -> float:
    """Operations/s of the mixed load with ``concurrency`` in flight and no pacing."""
    window = Window()
    load = MixedLoad(
        base_url,
        {"X-Auth-Token": TOKEN},
        project="soakcap",
        rate=10_000,
        concurrency=concurrency,
        keep_calls=False,
        on_call=window.on_call,
        max_envs=20,
        max_instances=12,
        max_registered=40,
    )
    async with load:
        await load.setup()
        window.latencies.clear()
        started = time.perf_counter()
        await load.run(asyncio.Event(), duration=seconds)
        elapsed = time.perf_counter() - started
    return len(window.latencies) / elapsed


async def lag_consumer(nats_url: str, window_ref: list[Window]) -> nats.NATS:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()

    async def on_msg(msg) -> None:
        now = time.time()
        try:
            event = json.loads(msg.data)
            changed = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
            window_ref[0].lag_change.append((now - changed) * 1000)
            window_ref[0].lag_delivery.append((now - msg.metadata.timestamp.timestamp()) * 1000)
        except Exception:
            pass

    await js.subscribe(
        f"{subjects.EVT_PREFIX}.{PROJECT}.>",
        cb=on_msg,
        ordered_consumer=True,
        stream=subjects.EVENTS_STREAM,
        deliver_policy=DeliverPolicy.NEW,
    )
    return nc


def sample(procs: dict[str, psutil.Process], t: float, w: Window, seconds: float) -> dict:
    rss, fds, cpu = {}, {}, {}
    for name, p in procs.items():
        try:
            rss[name] = round(p.memory_info().rss / 1e6, 2)
            fds[name] = p.num_fds()
            cpu[name] = round(p.cpu_percent(None), 1)
        except psutil.Error:
            continue
    lat = sorted(w.latencies)
    lc, ld = sorted(w.lag_change), sorted(w.lag_delivery)
    errors = sum(n for k, n in w.statuses.items() if not k.isdigit() or int(k) >= 500)
    return {
        "t": round(t, 1),
        "rss_mb": rss,
        "fds": fds,
        "cpu_percent": cpu,
        "loadavg1": os.getloadavg()[0],
        "ops_per_s": round(len(lat) / seconds, 1),
        "errors": errors,
        "statuses": dict(w.statuses),
        "latency_p50_ms": round(percentile(lat, 50), 1),
        "latency_p95_ms": round(percentile(lat, 95), 1),
        "events": len(lc),
        "lag_p50_ms": round(percentile(lc, 50), 1),
        "lag_p95_ms": round(percentile(lc, 95), 1),
        "lag_max_ms": round(lc[-1], 1) if lc else 0.0,
        "delivery_p50_ms": round(percentile(ld, 50), 1),
        "delivery_p95_ms": round(percentile(ld, 95), 1),
    }


async def soak(system: System, args: argparse.Namespace) -> dict:
    base_url = f"http://127.0.0.1:{system.port}"
    capacity = None
    rate = args.rate
    if rate is None:
        print(f"measuring capacity: mixed load, {args.concurrency} in flight, {args.capacity_seconds:g}s ...", flush=True)
        capacity = await measure_capacity(base_url, args.capacity_seconds, args.concurrency)
        rate = max(1.0, capacity / 2)
        print(f"capacity {capacity:.1f} ops/s -> soak at {rate:.1f} ops/s", flush=True)
    window = [Window()]
    per_op = PerOp()

    def on_call(c: Call) -> None:
        window[0].on_call(c)
        per_op.on_call(c)

    procs = process_table(system)
    for p in procs.values():
        p.cpu_percent(None)
    nc = await lag_consumer(system.nats_url, window)
    load = MixedLoad(
        base_url,
        {"X-Auth-Token": TOKEN},
        project=PROJECT,
        rate=rate,
        concurrency=args.concurrency,
        keep_calls=False,
        on_call=on_call,
        max_envs=20,
        max_instances=12,
        max_registered=40,
    )
    samples: list[dict] = []
    duration = args.minutes * 60
    async with load:
        await load.setup()
        stop = asyncio.Event()
        runner = asyncio.create_task(load.run(stop))
        started = last = time.monotonic()
        print(f"soak: {args.minutes:g} min at {rate:.1f} ops/s, a sample every {args.sample_seconds:g}s", flush=True)
        while time.monotonic() - started < duration:
            await asyncio.sleep(args.sample_seconds)
            now = time.monotonic()
            w, window[0] = window[0], Window()
            s = sample(procs, now - started, w, now - last)
            last = now
            samples.append(s)
            if len(samples) % max(1, int(60 / args.sample_seconds)) == 0:
                print(
                    f"  {s['t'] / 60:5.1f} min  {s['ops_per_s']:6.1f} ops/s  errors {s['errors']}  "
                    f"lag p95 {s['lag_p95_ms']} ms  rss " + " ".join(f"{k} {v:.0f}" for k, v in s["rss_mb"].items()),
                    flush=True,
                )
        stop.set()
        await runner
    await nc.close()
    end_state = await settle(system.mongodb_url)
    return {"rate": rate, "capacity": capacity, "samples": samples, "end_state": end_state, "per_op": per_op.table()}


async def settle(mongodb_url: str, seconds: float = 30.0) -> dict:
    """After the load: wait until every job is terminal and every outbox empty (bounded)."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    deadline = time.monotonic() + seconds
    try:
        while True:
            lc = client["openstage_lifecycle"]
            open_jobs = len(await lc.instance_jobs.find({"status": {"$nin": [s.value for s in TERMINAL]}}, {"_id": 1}).to_list(None))
            jobs = len(await lc.instance_jobs.find({}, {"_id": 1}).to_list(None))
            outbox = {d: len(await client[f"openstage_{d}"].outbox.find({}, {"_id": 1}).to_list(None)) for d in WORKERS}
            if (not open_jobs and not any(outbox.values())) or time.monotonic() > deadline:
                return {"jobs": jobs, "jobs_not_terminal": open_jobs, "outbox": outbox}
            await asyncio.sleep(1)
    finally:
        await client.close()


# --- analysis ----------------------------------------------------------------------------------------
def trend(ts: list[float], ys: list[float]) -> dict:
    """Linear fit over the last 2/3 of the run: slope per hour and the fitted change over that span;
    and how far the last third's median is above the middle third's (a leak moves the whole level up;
    a garbage collector's sawtooth, connection churn and a plateau reached once do not)."""
    import numpy as np

    if len(ts) < 6:
        return {"slope_per_hour": 0.0, "fitted_change": 0.0, "mean": ys[-1] if ys else 0.0, "level_rise": 0.0, "noise": 0.0}
    third = ts[-1] / 3
    pts = [(t, y) for t, y in zip(ts, ys, strict=True) if t >= third]
    x = np.array([p[0] for p in pts]) / 3600
    y = np.array([p[1] for p in pts])
    slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
    noise = float(np.std(y - (slope * x + intercept)))
    middle = [y for t, y in zip(ts, ys, strict=True) if third <= t < 2 * third]
    last = [y for t, y in zip(ts, ys, strict=True) if t >= 2 * third]
    return {
        "slope_per_hour": round(slope, 2),
        "fitted_change": round(slope * float(x[-1] - x[0]), 2),
        "mean": round(float(y.mean()), 2),
        "level_rise": round(float(np.median(last) - np.median(middle)), 2),
        "noise": round(noise, 2),
    }


def growing(tr: dict, absolute: float, relative: float) -> bool:
    """A growth trend: over the last 2/3 of the run the fit rises by more than ``absolute``, more than
    ``relative`` x the mean and more than twice the scatter around the fit (a garbage collector's
    sawtooth is scatter), and the last third's level is above the middle third's."""
    change = tr["fitted_change"]
    return change > absolute and change > relative * max(tr["mean"], 1e-9) and change > 2 * tr["noise"] and tr["level_rise"] > absolute / 2


def analyse(result: dict) -> dict:
    samples = result["samples"]
    ts = [s["t"] for s in samples]
    names = sorted({n for s in samples for n in s["rss_mb"]})
    per_process = {}
    for n in names:
        rss = [s["rss_mb"].get(n, float("nan")) for s in samples]
        fds = [s["fds"].get(n, 0) for s in samples]
        rt, ft = trend(ts, rss), trend(ts, fds)
        per_process[n] = {
            "rss_start_mb": rss[0],
            "rss_end_mb": rss[-1],
            "rss_max_mb": max(rss),
            "rss_trend": rt,
            "rss_growing": growing(rt, 2.0, 0.05),
            "fds_start": fds[0],
            "fds_end": fds[-1],
            "fds_max": max(fds),
            "fds_trend": ft,
            "fds_growing": growing(ft, 5.0, 0.10),
            "cpu_mean_percent": round(sum(s["cpu_percent"].get(n, 0) for s in samples) / len(samples), 1),
        }
    lag95 = [s["lag_p95_ms"] for s in samples if s["events"]]
    lag_ts = [s["t"] for s in samples if s["events"]]
    statuses: dict[str, int] = {}
    for s in samples:
        for k, v in s["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    total = sum(statuses.values())
    return {
        "minutes": round(ts[-1] / 60, 1) if ts else 0,
        "rate": round(result["rate"], 1),
        "capacity": round(result["capacity"], 1) if result["capacity"] else None,
        "achieved_ops_per_s": round(total / ts[-1], 1) if ts else 0,
        "calls": total,
        "statuses": statuses,
        "events": sum(s["events"] for s in samples),
        "lag_p50_ms_median": round(percentile(sorted(s["lag_p50_ms"] for s in samples if s["events"]), 50), 1),
        "lag_p95_ms_median": round(percentile(sorted(lag95), 50), 1),
        "lag_p95_ms_worst": max(lag95, default=0.0),
        "lag_max_ms": max((s["lag_max_ms"] for s in samples), default=0.0),
        "delivery_p95_ms_median": round(percentile(sorted(s["delivery_p95_ms"] for s in samples if s["events"]), 50), 1),
        "lag_p95_trend": trend(lag_ts, lag95),
        "latency_p95_ms_median": round(percentile(sorted(s["latency_p95_ms"] for s in samples), 50), 1),
        "processes": per_process,
        "end_state": result["end_state"],
        "per_op": result["per_op"],
        "loadavg1_mean": round(sum(s["loadavg1"] for s in samples) / len(samples), 2) if samples else 0,
        "loadavg1_max": round(max((s["loadavg1"] for s in samples), default=0), 2),
    }


def plot(result: dict, summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    t = [s["t"] / 60 for s in samples]
    names = sorted(summary["processes"])
    fig, axes = plt.subplots(5, 1, figsize=(11, 16), sharex=True)
    ax = axes[0]
    for n in names:
        ax.plot(t, [s["rss_mb"].get(n) for s in samples], label=n)
    ax.axvline(t[-1] / 3 if t else 0, color="grey", linestyle=":", linewidth=1)
    ax.set_ylabel("RSS (MB)")
    ax.set_title(
        f"openstage soak: {summary['minutes']} min at {summary['rate']} ops/s "
        f"(capacity {summary['capacity']} ops/s), {os.cpu_count()} CPUs, shared machine"
    )
    ax.legend(loc="upper left", fontsize=8, ncol=4)
    ax = axes[1]
    for n in names:
        ax.plot(t, [s["fds"].get(n) for s in samples], label=n)
    ax.set_ylabel("open file descriptors")
    ax.legend(loc="upper left", fontsize=8, ncol=4)
    ax = axes[2]
    ax.plot(t, [s["lag_p50_ms"] for s in samples], label="event lag p50 (change → receipt)")
    ax.plot(t, [s["lag_p95_ms"] for s in samples], label="event lag p95 (change → receipt)")
    ax.plot(t, [s["delivery_p95_ms"] for s in samples], label="delivery p95 (stream → receipt)")
    ax.set_ylabel("ms")
    ax.set_yscale("log")
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[3]
    ax.plot(t, [s["latency_p50_ms"] for s in samples], label="answer latency p50")
    ax.plot(t, [s["latency_p95_ms"] for s in samples], label="answer latency p95")
    ax.set_ylabel("ms")
    ax.set_yscale("log")
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[4]
    ax.plot(t, [s["ops_per_s"] for s in samples], label="operations/s")
    ax.plot(t, [s["errors"] for s in samples], label="errors (5xx or no answer) per sample")
    ax.set_xlabel("minutes")
    ax.legend(loc="upper left", fontsize=8)
    other = ax.twinx()
    other.plot(
        t, [s["loadavg1"] for s in samples], color="black", linewidth=0.8, linestyle="--", label="machine load average (1 min), all users"
    )
    other.set_ylabel("load average")
    other.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(summary: dict) -> str:
    lines = [
        f"- {summary['minutes']} min at {summary['rate']} ops/s (capacity measured: {summary['capacity']} ops/s); "
        f"achieved {summary['achieved_ops_per_s']} ops/s, {summary['calls']} calls, answers {summary['statuses']}",
        f"- events received: {summary['events']}; lag change → receipt p50 {summary['lag_p50_ms_median']} ms, "
        f"p95 {summary['lag_p95_ms_median']} ms (median of samples; worst sample p95 {summary['lag_p95_ms_worst']} ms, "
        f"max {summary['lag_max_ms']} ms); stream → receipt p95 {summary['delivery_p95_ms_median']} ms; "
        f"lag p95 trend {summary['lag_p95_trend']['slope_per_hour']} ms/h",
        f"- answer latency p95 (median of samples) {summary['latency_p95_ms_median']} ms",
        f"- at the end: {summary['end_state']}",
        f"- machine load average (1 min, every user of the machine): mean {summary['loadavg1_mean']}, "
        f"max {summary['loadavg1_max']} on {os.cpu_count()} CPUs",
        "",
        "| operation | calls | p50 ms | p95 ms | p99 ms | max ms | answers |",
        "|---|---:|---:|---:|---:|---:|---|",
        *[
            f"| {op} | {v['calls']} | {v['p50_ms']} | {v['p95_ms']} | {v['p99_ms']} | {v['max_ms']} | {v['answers']} |"
            for op, v in summary["per_op"].items()
        ],
        "",
        "| process | RSS start → end (max) MB | RSS slope, last 2/3 (MB/h) | growing? | FDs start → end (max) | FD slope (/h) | CPU % |",
        "|---|---|---:|---|---|---:|---:|",
    ]
    for n, p in summary["processes"].items():
        lines.append(
            f"| {n} | {p['rss_start_mb']:.0f} → {p['rss_end_mb']:.0f} ({p['rss_max_mb']:.0f}) | "
            f"{p['rss_trend']['slope_per_hour']:+.1f} | {'**yes**' if p['rss_growing'] else 'no'} | "
            f"{p['fds_start']} → {p['fds_end']} ({p['fds_max']}) | {p['fds_trend']['slope_per_hour']:+.1f}"
            f"{' **growing**' if p['fds_growing'] else ''} | {p['cpu_mean_percent']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=None, help="operations per second (default: half the capacity, measured first)")
    p.add_argument("--concurrency", type=int, default=16, help="operations in flight at most")
    p.add_argument("--capacity-seconds", type=float, default=30.0)
    p.add_argument("--sample-seconds", type=float, default=5.0)
    p.add_argument("--task-seconds", default="0.05", help="OPENSTAGE_SIMULATED_TASK_SECONDS")
    p.add_argument("--plot", default="bench/soak.png")
    p.add_argument("--output", default="bench/results/soak.json")
    p.add_argument("--replot", metavar="JSON", help="analyse and plot the samples of an earlier run (no run)")
    args = p.parse_args(argv)
    if args.replot:
        result = json.loads(Path(args.replot).read_text())
        summary = analyse(result)
        plot(result, summary, Path(args.plot))
        print(markdown(summary))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="openstage-soak-"))
    print(f"openstage soak: data and logs in {data_dir}", flush=True)
    system = start_system(data_dir, args.task_seconds)
    try:
        result = asyncio.run(soak(system, args))
    finally:
        system.stop()
    summary = analyse(result)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_at_end": os.getloadavg()},
                "args": vars(args),
                "summary": summary,
                **result,
            },
            indent=1,
        )
    )
    plot(result, summary, Path(args.plot))
    print()
    print(markdown(summary))
    print(f"\nplot: {args.plot}; samples: {out}")


if __name__ == "__main__":
    main()
