"""The running system for integration and end-to-end tests: real nats-server, real nx-27017
store process, every domain worker and the edge, each a process on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nats
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkservicestage.v2 import ServiceStageClient

from openstage.processes import Child, System, free_port, start_worker, stop

T = TypeVar("T")


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


@contextlib.contextmanager
def another_worker(running: RunningSystem, domain: str) -> Iterator[Child]:
    """One more worker process of ``domain`` next to ``running``'s (same queue group, same store),
    ready once two answer ``openstage.ping.<domain>``; stopped at the end."""
    child = start_worker(domain, dict(running.system.env), running.system.log_dir)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if asyncio.run(ping_count(running.nats_url, domain)) >= 2:
                break
            if not child.alive():
                raise RuntimeError(f"the second {domain} worker exited")
            time.sleep(0.2)
        else:
            raise TimeoutError(f"the second {domain} worker is not ready")
        yield child
    finally:
        stop(child)


async def ping_count(url: str, domain: str) -> int:
    """How many ``domain`` worker processes answer a ping within half a second."""
    nc = await nats.connect(url)
    try:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish(f"openstage.ping.{domain}", b"", reply=inbox)
        count = 0
        try:
            while True:
                await sub.next_msg(timeout=0.5)
                count += 1
        except nats.errors.TimeoutError:
            return count
    finally:
        await nc.close()


def until(predicate: Callable[[], T], seconds: float = 5.0) -> T:
    """``predicate()``'s first truthy value within ``seconds`` (polled every 50 ms), else its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
