"""The running system for integration and end-to-end tests: real nats-server, real nx-27017
store process, every domain worker and the edge, each a process on free ports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkservicestage.v2 import ServiceStageClient

from openstage.processes import System, free_port


@dataclass(frozen=True)
class Cred:
    ak: str
    sk: str
    projects: tuple[str, ...]


ADMIN = Cred("ADMINAKADMINAKADMIN1", "admin-secret-key-0123456789", ("*",))
TENANT_A = Cred("TENANTAAKTENANTAAK01", "tenant-a-secret-key-0123456789", ("tenanta",))
TENANT_B = Cred("TENANTBAKTENANTBAK01", "tenant-b-secret-key-0123456789", ("tenantb",))


def make_sdk(base_url: str, project_id: str, cred: Cred = ADMIN) -> ServiceStageClient:
    """The official SDK's client, as a user builds it, on ``base_url`` (no retries: a test sees every answer)."""
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    config.retry_times = 0
    return (
        ServiceStageClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(cred.ak, cred.sk, project_id))
        .with_endpoints([base_url])
        .build()
    )


TOKEN_A = "token-for-tenant-a-0123456789"


def credentials_json() -> str:
    return json.dumps([{"ak": c.ak, "sk": c.sk, "projects": list(c.projects)} for c in (ADMIN, TENANT_A, TENANT_B)])


def tokens_json() -> str:
    return json.dumps([{"token": TOKEN_A, "projects": ["tenanta"]}])


@dataclass
class RunningSystem:
    system: System
    base_url: str

    @property
    def nats_url(self) -> str:
        return self.system.nats_url

    @property
    def mongodb_url(self) -> str:
        return self.system.mongodb_url

    def restart_worker(self, name: str, timeout: float = 30.0) -> None:
        self.system.start_worker(name)
        self.system.wait_ready(timeout)


def start_system(data_dir: Path, workers: list[str], extra_env: dict[str, str] | None = None) -> RunningSystem:
    env = {
        "OPENSTAGE_CREDENTIALS": credentials_json(),
        "OPENSTAGE_TOKENS": tokens_json(),
        "OPENSTAGE_REQUEST_TIMEOUT": "3",
        "OPENSTAGE_SIMULATED_TASK_SECONDS": "0.05",
        "OPENSTAGE_LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    system = System(data_dir=data_dir, port=free_port(), env=env, log_dir=data_dir / "logs")
    try:
        system.start(workers)
        system.wait_ready(timeout=60)
    except Exception:
        system.stop()
        raise
    return RunningSystem(system, f"http://127.0.0.1:{system.port}")
