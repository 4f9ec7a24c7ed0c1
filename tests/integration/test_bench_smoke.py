"""The benchmark runner works end to end on a tiny load (no timing assertions: benchmarks are
not tests; bench/README.md has the figures)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_runner_smoke(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--loadgen",
            "python",
            "--connections",
            "2",
            "--only",
            "ceilings,environments,fanout",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    scenes = {r["scene"]: r for r in report["rows"]}
    assert {"ceiling: bare ASGI hello world", "ceiling: bare nats-py request-reply", "v2 create environment", "v2 show environment"} <= set(
        scenes
    )
    for row in report["rows"]:
        assert row["tps"] > 0 and row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert scenes["v2 show environment"]["ratio_to_ceiling"] is not None
    assert scenes["v2 show environment"]["peak_rss_mb"]["edge"] > 0
    assert "| scene | via | TPS |" in proc.stdout
