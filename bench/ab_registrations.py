"""`python -m bench.ab_registrations --base /path/to/other/checkout`: registrations A/B with both
systems up at once, loaded in turn.

A shared 2-core machine's speed drifts by 2x within minutes, more than most changes move a
figure, and `bench.ab` runs its sides minutes apart. Here both systems (the base tree's packages
and this tree's) start once and stay up; each round registers ``--per-service`` new instances in
each of 100 services, 10 in flight (the lean client of bench/loadgen.py, as the scale group),
on one system and then the other (the order alternates), so both sides meet the same moments of
the machine. Per side: the median rate and the median server CPU per registration."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from bench.ab import base_tree
from bench.runner import Bench, cpu_seconds

HERE = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ab_registrations", description=__doc__)
    p.add_argument("--base", required=True, help="a checkout of the tree to compare against (e.g. a git worktree of HEAD)")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--per-service", type=int, default=10, help="new instances per service and round (100 services)")
    args = p.parse_args(argv)
    trees = {"base": base_tree(Path(args.base).resolve()), "current": HERE}
    bench_args = argparse.Namespace(seconds=3, runs=1, connections=10, loadgen="auto", smoke=False, scale_connections=10)
    benches: dict[str, Bench] = {}
    rates: dict[str, list[float]] = {side: [] for side in trees}
    cpu: dict[str, list[float]] = {side: [] for side in trees}
    saved = os.environ.get("PYTHONPATH")
    try:
        for side, tree in trees.items():
            os.environ["PYTHONPATH"] = str(tree)  # the system's processes import this side's packages
            benches[side] = Bench(bench_args)
            benches[side].start()
        services = {side: [(b.create_service(f"ab-{i}"), f"ab-{i}") for i in range(100)] for side, b in benches.items()}
        for n in range(args.rounds):
            for side in list(trees) if n % 2 == 0 else list(trees)[::-1]:
                b = benches[side]
                before, t0 = cpu_seconds(b.processes()), time.perf_counter()
                b.register_all([(sid, f"{prefix}-r{n}") for sid, prefix in services[side]], args.per_service, 10)
                took, after = time.perf_counter() - t0, cpu_seconds(b.processes())
                count = 100 * args.per_service
                rates[side].append(count / took)
                cpu[side].append(sum(after[k] - before.get(k, 0.0) for k in after) / count * 1e6)
            print(f"round {n + 1}: " + "  ".join(f"{s} {rates[s][-1]:,.0f}/s {cpu[s][-1]:,.0f} µs" for s in trees), flush=True)
    finally:
        for b in benches.values():
            b.stop()
        shutil.rmtree(trees["base"], ignore_errors=True)  # the folder of symlinks base_tree made (not the base itself)
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    for side in trees:
        print(
            f"{side}: median {statistics.median(rates[side]):,.0f} registrations/s, "
            f"server CPU median {statistics.median(cpu[side]):,.0f} µs per registration"
        )
    b_rate, c_rate = statistics.median(rates["base"]), statistics.median(rates["current"])
    faster = sum(c > b for b, c in zip(rates["base"], rates["current"], strict=True))
    print(f"current / base: {c_rate / b_rate:.2f} (current faster in {faster} of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
