from __future__ import annotations

import pytest

from tests.support.system import RunningSystem, start_system


@pytest.fixture(scope="module")
def lifecycle_system(tmp_path_factory) -> RunningSystem:
    """A system of the test module's own: nats-server, the store, the lifecycle worker and the edge."""
    rs = start_system(tmp_path_factory.mktemp("lifecycle-only"), ["lifecycle"])
    yield rs
    rs.system.stop()
