"""The processes `openstage up` keeps running for the system's whole life import only what they
use: the supervisor (`python -m openstage.up`) neither the CLI (typer) nor pydantic nor OpenSSL
(`secrets`, `http.client`); the lifeline nothing but the standard library's smallest part; the
workers, the edge and the agent are started without the CLI (`python -m openstage.serve`). Each of
these imports is megabytes of idle memory (bench/footprint.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from openstage.processes import SERVE, credential_users
from openstage.up import UpOptions


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def heavy(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in names}


def test_the_supervisor_process_imports_no_cli_pydantic_or_openssl():
    loaded = modules_after("import openstage.up")
    assert {"openstage.up", "openstage.supervisor", "openstage.processes"} <= loaded
    assert not heavy(loaded, ("typer", "click", "pydantic", "pydantic_core", "api_edge", "ssl", "_ssl", "_hashlib", "secrets", "http"))


def test_the_lifeline_imports_neither_subprocess_nor_dataclasses():
    loaded = modules_after("import openstage.lifeline")
    assert "openstage.linux_processes" in loaded
    assert not heavy(loaded, ("subprocess", "dataclasses", "inspect", "pydantic", "typer"))


def test_the_started_processes_run_without_the_cli():
    assert SERVE[1:] == ["-m", "openstage.serve"]
    loaded = modules_after("import openstage.serve")
    assert "openstage.serve" in loaded
    assert not heavy(loaded, ("typer", "click", "pydantic"))


def test_up_options_survive_the_exec_command_line(tmp_path):
    options = UpOptions("0.0.0.0", 8081, tmp_path, 4223, 27018, "separate")
    assert UpOptions.parse(options.args()) == options


def test_credentials_become_nats_users_and_a_wrong_shape_is_refused():
    users = credential_users(json.dumps([{"ak": "AK1", "sk": "SK1", "projects": ["p1", "p2"]}]))
    assert [(u.user, u.password, u.projects) for u in users] == [("AK1", "SK1", ("p1", "p2"))]
    assert credential_users(None) == credential_users("  ") == []
    for bad in ("{not json", '{"ak": "x"}', '[{"ak": "x"}]', '[{"ak": 1, "sk": "s", "projects": []}]'):
        with pytest.raises(ValueError, match="OPENSTAGE_CREDENTIALS"):
            credential_users(bad)
