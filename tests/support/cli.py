"""Running the `openstage` CLI as a user does (a subprocess, no OPENSTAGE_* from the test's own
environment), against an `openstage up` started by the test (tests/support/up_command.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.up_command import UpRuns, wait_ready

TOKEN = "my-token-0123456789"  # what the docs' recipes use (OPENSTAGE_TOKENS of `openstage up`)
DOCS_PROJECT = "demo"


@dataclass
class UpForCli:
    """One `openstage up` with its data directory at <workdir>/.openstage (the default the CLI
    looks in when run from workdir)."""

    workdir: Path
    port: int
    banner: str

    @property
    def data_dir(self) -> Path:
        return self.workdir / ".openstage"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def nats_url(self) -> str:
        for line in self.banner.splitlines():
            if line.strip().startswith("NATS:"):
                return line.split()[1]
        raise AssertionError(f"no NATS line in {self.banner}")

    def credential(self) -> dict:
        return json.loads((self.data_dir / "credentials.json").read_text())[0]


def start_up_for_cli(runs: UpRuns, workdir: Path, port: int, task_seconds: float = 0.05) -> UpForCli:
    extra = {
        "OPENSTAGE_TOKENS": json.dumps([{"token": TOKEN, "projects": [DOCS_PROJECT, "clitoken"]}]),
        "OPENSTAGE_SIMULATED_TASK_SECONDS": str(task_seconds),
    }
    proc = runs.start(workdir / ".openstage", port, extra)
    return UpForCli(workdir, port, "".join(wait_ready(proc)))


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTAGE_")}
    return {**env, "COLUMNS": "120", **(extra or {})}


def openstage(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openstage.cli", *args],
        cwd=cwd,
        env=cli_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
