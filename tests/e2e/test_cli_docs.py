"""Every runnable `openstage api` / `curl` recipe of the README and docs/*.md (a ```bash block right
after the marker comment below) is run as written, with bash -euo pipefail, against a real
`openstage up` whose data directory is ./.openstage of the working directory (as the recipes
assume) and whose OPENSTAGE_TOKENS holds the token they use. Only OPENSTAGE_ENDPOINT and
OPENSTAGE_NATS_URL are set (the edge and nats-server listen on free ports here, not 8080/4222)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import cli_env

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- runnable example: run as written by tests/e2e/test_cli_docs.py -->"
BLOCK = re.compile(re.escape(MARKER) + r"\s*```bash\n(.*?)```", re.S)


def recipes() -> list[tuple[str, int, str]]:
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            found.append((page.relative_to(ROOT).as_posix(), i, code))
    return found


RECIPES = recipes()


def test_every_page_with_api_examples_has_a_recipe():
    pages = {page for page, _, _ in RECIPES}
    expected = {
        "README.md",
        "docs/api-environments.md",
        "docs/api-applications.md",
        "docs/instances-and-jobs.md",
        "docs/registry-behaviour.md",
        "docs/config-center.md",
    }
    assert expected <= pages, expected - pages
    assert all(MARKER not in text or BLOCK.search(text) for text in [p.read_text() for p in ROOT.glob("docs/*.md")])


@pytest.mark.parametrize(("page", "index", "code"), RECIPES, ids=[f"{p}#{i}" for p, i, _ in RECIPES])
def test_recipe_runs_as_written(up, page, index, code):
    env = cli_env({"OPENSTAGE_ENDPOINT": up.endpoint, "OPENSTAGE_NATS_URL": up.nats_url})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the `openstage` script
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=up.workdir, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{page} recipe {index} failed:\n{code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert "Traceback" not in result.stderr
