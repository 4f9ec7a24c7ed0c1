"""A worker process that dies while its transaction is open must not take later writes with it.

nx-27017 keeps such a transaction open for ever (services/adapters/store/nx_sessions.py): without the
work-around every write made to the database afterwards, acknowledged or not, is lost when the
store restarts. Here a process of the lifecycle database opens a transaction through the outbox,
writes, and is SIGKILLed; the lifecycle worker starts, an environment is created (acknowledged),
the store is restarted: the environment is there, the dead transaction's write is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from pymongo import MongoClient

from services.adapters.store.mongo import database_name
from tests.support.signing import SignedClient
from tests.support.system import ADMIN

ENV = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}

CRASHER = textwrap.dedent("""
    import asyncio, sys
    from services.settings import get_settings
    from services.adapters.store import mongo, nx_sessions
    from services.adapters.store.outbox import Outbox
    from services.adapters.clock import Clock

    async def main():
        s = get_settings()
        name = mongo.database_name(s.mongodb_db, "lifecycle")
        nx_sessions.enable(s.data_dir / "store-sessions", name)
        db = mongo.connect(s.mongodb_url, name, serialize_writes=True)

        async def write(session):
            await db["environments"].insert_one({"_id": "half-done", "project_id": "deadtx"}, session=session)
            print("open", flush=True)
            await asyncio.sleep(3600)  # killed here, the transaction open
            return None, []

        await Outbox(db, js=None, clock=Clock()).transaction(write)

    asyncio.run(main())
""")


def test_transaction_of_a_killed_process_is_ended_on_restart(lifecycle_system):
    system = lifecycle_system.system
    worker = system.children["worker-lifecycle"]
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(15)

    crasher = subprocess.Popen([sys.executable, "-c", CRASHER], env={**os.environ, **system.env}, stdout=subprocess.PIPE, text=True)
    try:
        assert crasher.stdout.readline().strip() == "open"
    finally:
        crasher.send_signal(signal.SIGKILL)
        crasher.wait(10)

    lifecycle_system.restart_worker("lifecycle")  # ends the dead transaction before its first write
    client = SignedClient(lifecycle_system.base_url, ADMIN.ak, ADMIN.sk)
    created = client.post("/v2/deadtx/cas/environments", json={"name": "after-crash", **ENV})
    assert created.status_code == 200, created.text
    env_id = created.json()["id"]

    system.restart_store()
    with MongoClient(lifecycle_system.mongodb_url) as mc:
        envs = {d["_id"] for d in mc[database_name("openstage", "lifecycle")].environments.find({"project_id": "deadtx"})}
    assert env_id in envs, "an acknowledged create was lost with the dead process's transaction"
    assert "half-done" not in envs
    assert not list((system.data_dir / "store-sessions").glob(f"*.{crasher.pid}"))
    # and the worker goes on writing (durably) after the store restart
    lifecycle_system.system.wait_ready(30)
    again = client.post("/v2/deadtx/cas/environments", json={"name": "after-restart", **ENV})
    assert again.status_code == 200, again.text
