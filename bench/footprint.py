"""`python -m bench.footprint`: the idle footprint of a real `openstage up` (every process it
runs: the supervisor, the lifeline and what they started), per process and in total: RSS, PSS
(shared pages divided among the processes sharing them) and USS (pages no other process has),
from /proc/<pid>/smaps_rollup. Several configurations (``--modes``) are measured one after the
other in the same run, so their figures can be read side by side."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from openstage.processes import free_port

READY_LINE = "Press Ctrl-C to stop."
# configuration name -> extra environment of `openstage up`
MODES: dict[str, dict[str, str]] = {
    "separate": {"OPENSTAGE_WORKER_PROCESSES": "separate"},
    "combined": {"OPENSTAGE_WORKER_PROCESSES": "combined"},
}


@dataclass
class ProcessMemory:
    name: str
    pid: int
    rss_mb: float
    pss_mb: float
    uss_mb: float


@dataclass
class Footprint:
    mode: str
    processes: list[ProcessMemory] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.processes)

    def total(self, what: str) -> float:
        return round(sum(getattr(p, what) for p in self.processes), 1)


def smaps_rollup(pid: int) -> dict[str, int]:
    """The kB figures of /proc/<pid>/smaps_rollup (Rss, Pss, Private_Clean, Private_Dirty, ...)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def process_name(p: psutil.Process) -> str:
    """A short name from the command line: `worker lifecycle`, `edge`, `nats-server`, ..."""
    cmd = p.cmdline()
    if not cmd:
        return p.name()
    exe = Path(cmd[0]).name
    if exe.startswith("python") and len(cmd) > 1:
        args = cmd[1:]
        if args[0] == "-m" and len(args) > 1:
            module, rest = args[1], args[2:]
            if module == "openstage.up":  # the supervisor `openstage up` runs as (openstage/up.py)
                return "up"
            if module in ("openstage.cli", "openstage.serve"):
                words = [a for a in rest if not a.startswith("-")][:2]
                return " ".join(words[:1] if words[:1] in (["up"], ["edge"]) else words)
            return module
        return " ".join(Path(a).name for a in args[:2])
    return exe


def measure_tree(root_pid: int) -> list[ProcessMemory]:
    root = psutil.Process(root_pid)
    found = []
    for p in [root, *root.children(recursive=True)]:
        try:
            m = smaps_rollup(p.pid)
            private = m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
            found.append(ProcessMemory(process_name(p), p.pid, m["Rss"] / 1024, m["Pss"] / 1024, private / 1024))
        except (psutil.Error, OSError, KeyError):
            continue
    return found


def run_up(mode: str, extra_env: dict[str, str], settle_seconds: float, tree: Path | None = None) -> Footprint:
    """`openstage up` in a fresh data directory, measured ``settle_seconds`` after it is ready;
    ``tree``: run the code of that source tree instead (e.g. `git archive` of an older commit)."""
    data_dir = Path(tempfile.mkdtemp(prefix="openstage-footprint-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTAGE_")}
    env.update(extra_env)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    args = [sys.executable, "-m", "openstage.cli", "up", "--data-dir", str(data_dir), "--port", str(free_port())]
    args += ["--nats-port", str(free_port()), "--store-port", str(free_port())]
    proc = subprocess.Popen(args, env=env, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"openstage up ({mode}) did not become ready:\n{''.join(lines)}")
            lines.append(line)
            if READY_LINE in line:
                break
        time.sleep(settle_seconds)
        return Footprint(mode, measure_tree(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


def table(results: list[Footprint]) -> str:
    """Markdown: one row per process name, RSS / PSS / USS per configuration."""
    names: list[str] = []
    for r in results:
        for p in r.processes:
            if p.name not in names:
                names.append(p.name)
    head = "| process | " + " | ".join(f"{r.mode} RSS / PSS / USS MB" for r in results) + " |"
    lines = [head, "|---|" + "---:|" * len(results)]

    def cell(ps: list[ProcessMemory]) -> str:
        if not ps:
            return "-"
        return f"{sum(p.rss_mb for p in ps):.0f} / {sum(p.pss_mb for p in ps):.0f} / {sum(p.uss_mb for p in ps):.0f}"

    for name in names:
        lines.append(f"| {name} | " + " | ".join(cell([p for p in r.processes if p.name == name]) for r in results) + " |")
    totals = " | ".join(
        f"**{r.total('rss_mb'):.0f} / {r.total('pss_mb'):.0f} / {r.total('uss_mb'):.0f}** ({r.count} processes)" for r in results
    )
    lines.append(f"| total | {totals} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--modes", default="separate,combined", help=f"comma-separated, of: {', '.join(MODES)}")
    p.add_argument("--settle", type=float, default=10.0, help="seconds idle before measuring")
    p.add_argument("--output", default=None, help="also write the figures as JSON here")
    p.add_argument("--before", type=Path, default=None, help="a source tree of an earlier version, measured first (as 'before')")
    p.add_argument("--before-modes", default="", help="modes the earlier version is measured in (default: its default only)")
    args = p.parse_args(argv)
    results = []
    if args.before:
        before_modes = [m for m in args.before_modes.split(",") if m]
        for mode in before_modes or [""]:
            results.append(run_up(f"before {mode}".strip(), MODES[mode] if mode else {}, args.settle, args.before.resolve()))
    results += [run_up(mode, MODES[mode], args.settle) for mode in args.modes.split(",")]
    print(table(results))
    if args.output:
        Path(args.output).write_text(
            json.dumps([{"mode": r.mode, "processes": [asdict(p) for p in r.processes]} for r in results], indent=2)
        )


if __name__ == "__main__":
    main()
