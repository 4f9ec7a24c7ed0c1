"""`python -m bench.profile`: where a scene's time goes. Starts the system like `python -m bench`,
runs one registry scene with 10 connections and, at the same time, samples the edge, the
registry worker and the store with py-spy (`pip install py-spy`; not a dependency of openstage),
then prints, per process, the functions with the most samples (self and total, idle waiting in
the event loop's selector counted apart).

    python -m bench.profile --scene register-growing --seconds 5
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench.loadgen import run_http
from bench.runner import AUTH, PROJECT, Bench

# leaf frames that are waiting, not working: the event loop's poll (uvloop's is native, so the
# leaf is Runner.run), idle executor threads, threading waits
IDLE = ("select (selectors.py", "_run_once", "run_forever", "Runner.run (", "_worker (concurrent", "wait (threading.py")


def scene_request(bench: Bench, scene: str) -> tuple[str, str, str | None]:
    if scene in ("register-growing", "register-same"):
        sid = bench.create_service(f"profile-{scene}")
        host = "g-{{n}}" if scene == "register-growing" else "same"
        body = {"instance": {"hostName": host, "endpoints": [f"rest://{host}:8080"], "healthCheck": {"mode": "push", "interval": 600}}}
        return "POST", f"/v4/{PROJECT}/registry/microservices/{sid}/instances", json.dumps(body)
    if scene == "heartbeat":
        sid = bench.create_service("profile-heartbeat")
        body = {"instance": {"hostName": "hb", "endpoints": ["rest://hb:8080"], "healthCheck": {"mode": "push", "interval": 600}}}
        iid = bench.http.post(f"/v4/{PROJECT}/registry/microservices/{sid}/instances", json=body).json()["instanceId"]
        return "PUT", f"/v4/{PROJECT}/registry/microservices/{sid}/instances/{iid}/heartbeat", None
    if scene == "show-environment":
        env = bench.http.post(
            f"/v2/{PROJECT}/cas/environments",
            json={"name": "profile-show", "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "c", "type": "cce"}]},
        ).json()
        return "GET", f"/v2/{PROJECT}/cas/environments/{env['id']}", None
    if scene == "list-environments":
        return "GET", f"/v2/{PROJECT}/cas/environments?limit=10", None
    if scene == "create-environment":  # (wrk's {{n}} makes each name unique)
        body = {
            "name": f"p{uuid.uuid4().hex[:8]}-{{{{n}}}}x",
            "deploy_mode": "container",
            "vpc_id": "v",
            "base_resources": [{"id": "c", "type": "cce"}],
        }
        return "POST", f"/v2/{PROJECT}/cas/environments", json.dumps(body)
    raise SystemExit(f"unknown scene {scene}")


def summarize(raw: Path, top: int) -> list[str]:
    """Top functions by self and by total samples from py-spy's collapsed stacks."""
    self_n: collections.Counter[str] = collections.Counter()
    total_n: collections.Counter[str] = collections.Counter()
    samples = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        frames = [f for f in stack.split(";") if not f.startswith("thread (") and not f.startswith("process ")]
        if not frames:
            continue
        samples += count
        if any(marker in frames[-1] for marker in IDLE):
            idle += count
            continue
        self_n[frames[-1]] += count
        for f in set(frames):
            total_n[f] += count
    busy = max(samples - idle, 1)
    out = [f"  samples {samples}, idle in the event loop / waiting {idle} ({100 * idle / max(samples, 1):.0f}%)"]
    out.append("  busy samples, by self:")
    out += [f"    {100 * c / busy:5.1f}%  {f}" for f, c in self_n.most_common(top)]
    out.append("  busy samples, by total (inclusive):")
    out += [f"    {100 * c / busy:5.1f}%  {f}" for f, c in total_n.most_common(top) if "<module>" not in f]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument(
        "--scene",
        default="register-growing",
        choices=["heartbeat", "register-growing", "register-same", "show-environment", "list-environments", "create-environment"],
    )
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--processes", default="edge,worker-registry,store", help="comma-separated process names of the system")
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    bench = Bench(argparse.Namespace(seconds=args.seconds, runs=1, connections=10, loadgen="auto"))
    out_dir = Path(tempfile.mkdtemp(prefix="openstage-profile-"))
    bench.start()
    try:
        method, path, body = scene_request(bench, args.scene)
        pids = bench.processes()
        spies = {}
        for name in args.processes.split(","):
            raw = out_dir / f"{name}.txt"
            spies[name] = (
                raw,
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(pids[name]),
                        "--duration",
                        str(int(args.seconds)),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--output",
                        str(raw),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        result = run_http(bench.base, method, path, dict(AUTH), body, args.seconds, 10, "auto")
        for _, proc in spies.values():
            proc.wait(args.seconds + 30)
        print(f"{args.scene}: {result.tps:,.0f}/s p50 {result.p50_ms:.1f} ms p95 {result.p95_ms:.1f} ms errors {result.errors}")
        for name, (raw, _) in spies.items():
            print(f"{name}:")
            print("\n".join(summarize(raw, args.top) if raw.exists() else ["  (no samples)"]))
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
