from __future__ import annotations

import pytest
from huaweicloudsdkservicestage.v2 import ServiceStageClient

from tests.support.signing import SignedClient
from tests.support.system import ADMIN, Cred, RunningSystem, make_sdk, start_system
from workers import WORKERS


@pytest.fixture(scope="session")
def running(tmp_path_factory) -> RunningSystem:
    """One whole system for the session (every worker, the edge, nats-server, nx-27017)."""
    data_dir = tmp_path_factory.mktemp("openstage")
    rs = start_system(data_dir, list(WORKERS))
    yield rs
    rs.system.stop()


@pytest.fixture(scope="session")
def sdk_factory(running):
    def factory(project_id: str, cred: Cred = ADMIN) -> ServiceStageClient:
        return make_sdk(running.base_url, project_id, cred)

    return factory


@pytest.fixture(scope="session")
def signed(running):
    """A signed raw-HTTP client with the admin credential (all projects)."""
    client = SignedClient(running.base_url, ADMIN.ak, ADMIN.sk)
    yield client
    client.close()
