"""`python -m bench.ab --base /path/to/other/checkout`: the same benchmark on two trees, side by side.

Two-core machines shared with other work give noisy absolute figures, so a change is judged by
A/B runs **interleaved in one session**: base, current, base, current… (`--rounds`), each a
`python -m bench --runs 1` of the chosen groups with this tree's bench code (the base tree's
packages, this tree's `bench/`), then the median TPS of each scene per side and their ratio.

    git worktree add /tmp/base HEAD        # the committed tree, next to the working one
    python -m bench.ab --base /tmp/base --only ceilings,registry --rounds 3 --seconds 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PACKAGES = ("services", "workers", "api_edge", "openstage")


def base_tree(base: Path) -> Path:
    """A directory whose packages are the base tree's, with this tree's bench."""
    root = Path(tempfile.mkdtemp(prefix="openstage-ab-"))
    for name in PACKAGES:
        (root / name).symlink_to(base / name)
    (root / "bench").symlink_to(HERE / "bench")
    return root


def run_once(tree: Path, only: str, seconds: float, extra: list[str]) -> dict[str, float]:
    out = Path(tempfile.mkstemp(prefix="openstage-ab-", suffix=".json")[1])
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "bench", "--only", only, "--runs", "1", "--seconds", str(seconds), "--output", str(out), *extra]
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    report = json.loads(out.read_text())
    out.unlink()
    figures = {f"{r['scene']} [{r['via']}]": r["tps"] if "deploy" not in r["scene"] else r["p95_ms"] for r in report["rows"]}
    for r in report["rows"]:  # CPU per request: steadier than the rate on a shared machine
        if r.get("server_cpu_us_per_request") and "deploy" not in r["scene"]:
            figures[f"{r['scene']} [{r['via']}] server CPU µs/request"] = r["server_cpu_us_per_request"]
    extra = report.get("extra", {})
    for key, created in extra.items():  # v2_scale_create_<kind>: {kind: count, "per_second": ...}
        if key.startswith("v2_scale_create_"):
            kind = key.removeprefix("v2_scale_create_")
            figures[f"v2 create {kind}, {created[kind]:,} 20 at a time [HTTP]"] = created["per_second"]
    if "scale_register_seconds" in extra:  # the scale group's 10,000 registrations
        figures["scale: register 10,000 instances, seconds"] = extra["scale_register_seconds"]
    if "idle_footprint" in extra:
        figures["idle footprint: total RSS MB"] = extra["idle_footprint"]["total_rss_mb"]
        figures["idle footprint: processes"] = extra["idle_footprint"]["processes"]
    return figures


def _unit(scene: str) -> str:
    for word, unit in (("deploy", " ms p95"), ("CPU", " µs"), ("seconds", " s"), ("footprint", "")):
        if word in scene:
            return unit
    return "/s"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    p.add_argument("--base", required=True, help="a checkout of the tree to compare against (e.g. a git worktree of HEAD)")
    p.add_argument("--only", default="ceilings,registry")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--output", default="bench/results/ab.json")
    p.add_argument("extra", nargs="*", help="more arguments for python -m bench (after --)")
    args = p.parse_args(argv)
    sides = {"base": base_tree(Path(args.base).resolve()), "current": HERE}
    runs: dict[str, list[dict[str, float]]] = {"base": [], "current": []}
    try:
        for i in range(args.rounds):
            for side, tree in sides.items():
                runs[side].append(run_once(tree, args.only, args.seconds, args.extra))
                print(f"round {i + 1} {side}: " + ", ".join(f"{k} {v:,.0f}" for k, v in runs[side][-1].items()), flush=True)
    finally:
        shutil.rmtree(sides["base"], ignore_errors=True)  # the folder of symlinks base_tree made (not the base itself)
    scenes = list(runs["current"][0])
    table = ["| scene | base (median) | current (median) | current / base |", "|---|---:|---:|---:|"]
    result = {}
    for scene in scenes:
        b = statistics.median(r[scene] for r in runs["base"] if scene in r) if any(scene in r for r in runs["base"]) else None
        c = statistics.median(r[scene] for r in runs["current"])
        ratio = c / b if b else None
        result[scene] = {"base": b, "current": c, "ratio": ratio, "base_runs": [r.get(scene) for r in runs["base"]]}
        result[scene]["current_runs"] = [r.get(scene) for r in runs["current"]]
        unit = _unit(scene)
        table.append(
            f"| {scene} | {b or 0:,.1f}{unit} | {c:,.1f}{unit} | {ratio:.2f} |" if ratio else f"| {scene} | – | {c:,.1f}{unit} | |"
        )
    print("\n".join(table))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(
        json.dumps({"rounds": args.rounds, "seconds": args.seconds, "only": args.only, "scenes": result}, indent=2)
    )


if __name__ == "__main__":
    main()
