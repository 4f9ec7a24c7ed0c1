from __future__ import annotations

import pytest

from openstage.processes import free_port
from tests.support.cli import start_up_for_cli
from tests.support.up_command import UpRuns


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    """An `openstage up` of the test module's own, started as a user starts it (tests/support/cli.py),
    with every process it started stopped afterwards."""
    runs = UpRuns()
    try:
        yield start_up_for_cli(runs, tmp_path_factory.mktemp("up"), free_port())
    finally:
        runs.cleanup()
