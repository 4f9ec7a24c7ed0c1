"""Several domain workers in one process (workers/runtime.py run_apps): a stop signal stops them
all; one that ends by itself takes the others down, so the supervisor restarts the process."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from workers import COMBINED, SEPARATE, worker_groups
from workers.runtime import run_apps


class App:
    """What run_apps uses of a FastStream app: run() (which installs its own signal handlers
    first, as FastStream's does) and exit()."""

    def __init__(self, fail_after: float | None = None) -> None:
        self.fail_after = fail_after
        self.should_exit = False
        self.stopped = False

    async def run(self) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
        waited = 0.0
        while not self.should_exit:
            await asyncio.sleep(0.01)
            waited += 0.01
            if self.fail_after is not None and waited >= self.fail_after:
                raise ConnectionError("the store went away")
        self.stopped = True

    def exit(self) -> None:
        self.should_exit = True


def test_a_stop_signal_stops_every_app():
    apps = {"lifecycle": App(), "config": App(), "jobs": App()}

    async def scenario() -> None:
        runner = asyncio.create_task(run_apps(apps))  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(runner, 5)

    asyncio.run(scenario())
    assert all(app.stopped for app in apps.values())


def test_one_app_failing_stops_the_others_and_raises_its_error():
    apps = {"lifecycle": App(), "registry": App(fail_after=0.05)}
    with pytest.raises(ConnectionError, match="the store went away"):
        asyncio.run(asyncio.wait_for(run_apps(apps), 5))  # type: ignore[arg-type]
    assert apps["lifecycle"].stopped


def test_one_app_ending_by_itself_is_an_error():
    apps = {"lifecycle": App(), "jobs": App()}

    async def scenario() -> None:
        runner = asyncio.create_task(run_apps(apps))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        apps["jobs"].exit()
        await asyncio.wait_for(runner, 5)

    with pytest.raises(RuntimeError, match="the jobs worker of this process stopped by itself"):
        asyncio.run(scenario())
    assert apps["lifecycle"].stopped


def test_worker_groups():
    names = ["lifecycle", "config", "registry", "jobs"]
    assert worker_groups(names, SEPARATE) == names
    assert worker_groups(names, COMBINED) == ["lifecycle,config,registry,jobs"]
    with pytest.raises(ValueError, match="OPENSTAGE_WORKER_PROCESSES must be one of separate, combined"):
        worker_groups(names, "one")
