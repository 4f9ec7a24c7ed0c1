"""Every ```python example of the README and docs/*.md (the official huaweicloudsdkservicestage
code) is run as written against a real `openstage up`, the blocks of a page in order in one
namespace (as a reader runs them in one session, later blocks using what earlier ones created).
Only the placeholders a reader fills in are replaced: `<AK>` / `<SK>` by the credential
`openstage up` generated (<data dir>/credentials.json), `<data_dir>` by its data directory,
`<project_id>` by `my-project` (the
README's project, so the pages also run one after another in one project) and the endpoint
`http://127.0.0.1:8080` by the test's edge. A block right after FRAGMENT_MARKER is a fragment not
meant to run alone; FRAGMENTS lists every one of them, so a new one fails until it is listed."""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAGMENT_MARKER = "<!-- python fragment: not run alone by tests/e2e/test_docs_python_examples.py -->"
FRAGMENTS: dict[str, int] = {"docs/drivers.md": 1}  # page -> how many of its python blocks are fragments
PROJECT = "my-project"
DOCS_ENDPOINT = "http://127.0.0.1:8080"
# any fence opening a python block: ```python, ```py, ```python3, indented (in a list) or not
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?:python3?|py)\b[^\n]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
PLACEHOLDER = re.compile(r"<[A-Za-z_][A-Za-z0-9_ -]*>")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(text: str) -> list[tuple[str, bool]]:
    """(code, is_fragment) of each python block of a page, in order."""
    found = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip()
        found.append((textwrap.dedent(m.group("code")), before.endswith(FRAGMENT_MARKER)))
    return found


BLOCKS = {page.relative_to(ROOT).as_posix(): python_blocks(page.read_text()) for page in pages()}
RUN_PAGES = [page for page, blocks in BLOCKS.items() if any(not fragment for _, fragment in blocks)]


def test_every_python_block_is_run_or_a_listed_fragment():
    total = sum(len(blocks) for blocks in BLOCKS.values())
    fragments = {page: n for page, blocks in BLOCKS.items() if (n := sum(fragment for _, fragment in blocks))}
    run = total - sum(fragments.values())
    print(f"{total} python blocks in README.md and docs/*.md: {run} run, {sum(fragments.values())} fragments {fragments}")
    assert fragments == FRAGMENTS, f"python blocks marked as fragments: {fragments}, listed: {FRAGMENTS}"
    assert {"README.md", "docs/api-environments.md", "docs/api-applications.md"} <= set(RUN_PAGES)
    assert run >= 6
    # every ``` fence naming python is one the extraction sees (no block silently left out)
    for page in pages():
        text = page.read_text()
        opened = len(re.findall(r"^[ \t]*```(?:python3?|py)\b", text, re.M))
        assert opened == len(BLOCKS[page.relative_to(ROOT).as_posix()]), page
        assert text.count(FRAGMENT_MARKER) == sum(f for _, f in BLOCKS[page.relative_to(ROOT).as_posix()]), page


def fill_in(code: str, ak: str, sk: str, endpoint: str, data_dir: str) -> str:
    filled = code.replace("<AK>", ak).replace("<SK>", sk).replace("<project_id>", PROJECT).replace(DOCS_ENDPOINT, endpoint)
    filled = filled.replace("<data_dir>", data_dir)
    left = PLACEHOLDER.findall(filled)
    assert not left, f"placeholders the test does not fill in: {left}"
    return filled


@pytest.mark.parametrize("page", RUN_PAGES)
def test_page_python_examples_run_as_written(up, page):
    cred = up.credential()
    namespace: dict = {"__name__": "__main__"}
    for index, (code, fragment) in enumerate(BLOCKS[page]):
        if fragment:
            continue
        program = compile(fill_in(code, cred["ak"], cred["sk"], up.endpoint, str(up.data_dir)), f"{page} python block {index}", "exec")
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(program, namespace)
        except Exception as e:
            pytest.fail(f"{page} python block {index} raised {type(e).__name__}: {e}\n{code}\n--- printed\n{out.getvalue()}")
