"""The bus as a user reaches it: direct command requests with nats-py give what HTTP gives, and a
tenant's NATS credential (user = AK, password = SK) is confined to its own project's subjects."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.adapters import nats_auth
from services.contracts import subjects
from tests.support.signing import SignedClient
from tests.support.system import ADMIN, TENANT_A

ENV = {"deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[-1])


async def connect_tenant(running, cred, errors: list | None = None):
    async def on_error(e):
        if errors is not None:
            errors.append(str(e))

    return await nats.connect(
        f"nats://127.0.0.1:{port_of(running.nats_url)}",
        user=cred.ak,
        password=cred.sk,
        inbox_prefix=nats_auth.tenant_inbox_prefix(cred.ak).encode(),
        error_cb=on_error,
        allow_reconnect=False,
    )


def test_direct_command_equals_http(running):
    http = SignedClient(running.base_url, ADMIN.ak, ADMIN.sk)
    name = f"direct-{uuid.uuid4().hex[:8]}"

    async def scenario():
        nc = await nats.connect(running.nats_url)
        try:
            reply = await nc.request(
                subjects.command("tenanta", "lifecycle", "environment.create"), json.dumps({"name": name, **ENV}).encode(), timeout=5
            )
            created = json.loads(reply.data)
            bad = await nc.request(subjects.command("tenanta", "lifecycle", "environment.create"), b'{"name": "1-bad"}', timeout=5)
            missing = await nc.request(
                subjects.command("tenanta", "lifecycle", "environment.get"), b'{"environment_id": "nope"}', timeout=5
            )
            return created, json.loads(bad.data), json.loads(missing.data)
        finally:
            await nc.close()

    created, bad, missing = asyncio.run(scenario())
    assert created["status"] == 200 and created["result"]["name"] == name
    shown = http.get(f"/v2/tenanta/cas/environments/{created['result']['id']}")
    # (the create answer returns the resources empty, as the reference says; GET has them)
    assert shown.status_code == 200 and shown.json() == {**created["result"], "base_resources": ENV["base_resources"]}

    http_bad = http.post("/v2/tenanta/cas/environments", json={"name": "1-bad", **ENV})
    assert bad["status"] == http_bad.status_code == 400
    assert bad["error"]["error_code"] == http_bad.json()["error_code"] == "SVCSTG.00100400"

    http_missing = http.get("/v2/tenanta/cas/environments/nope")
    assert missing["status"] == http_missing.status_code == 404
    assert {"error_code": missing["error"]["error_code"], "error_msg": missing["error"]["error_msg"]} == http_missing.json()


def test_tenant_credential_is_confined_to_its_project(running):
    async def scenario():
        errors: list[str] = []
        nc = await connect_tenant(running, TENANT_A, errors)
        try:
            # its own project: commands work and events can be consumed durably
            ok = await nc.request(subjects.command("tenanta", "lifecycle", "environment.list"), b"{}", timeout=5)
            assert json.loads(ok.data)["status"] == 200
            js = nc.jetstream()
            durable = f"it{uuid.uuid4().hex[:8]}"
            await js.add_consumer(
                subjects.EVENTS_STREAM,
                ConsumerConfig(
                    name=durable,
                    durable_name=durable,
                    filter_subject="openstage.evt.tenanta.>",
                    deliver_subject=nats_auth.deliver_subject("tenanta", durable),
                    deliver_policy=DeliverPolicy.ALL,
                ),
            )
            sub = await js.subscribe("openstage.evt.tenanta.>", durable=durable, stream=subjects.EVENTS_STREAM)
            msg = await sub.next_msg(timeout=5)
            assert json.loads(msg.data)["openstageproject"] == "tenanta"
            await msg.ack()
            assert not errors

            # another project's command subject: refused by NATS
            with pytest.raises(Exception):  # noqa: B017 - nats-py reports a permissions violation as a timeout, no responders or a closed connection, by timing
                await nc.request(subjects.command("tenantb", "lifecycle", "environment.list"), b"{}", timeout=1)
            # another project's events: refused (live subscription and JetStream consumer)
            await nc.subscribe("openstage.evt.tenantb.>")
            await nc.flush()
            with pytest.raises(Exception):  # noqa: B017 - nats-py reports a permissions violation as a timeout, no responders or a closed connection, by timing
                await js.add_consumer(
                    subjects.EVENTS_STREAM,
                    ConsumerConfig(
                        name="steal",
                        durable_name="steal",
                        filter_subject="openstage.evt.tenantb.>",
                        deliver_subject=nats_auth.deliver_subject("tenanta", "steal"),
                    ),
                    timeout=1,
                )
            # the everything-inbox of others is not readable either
            await nc.subscribe("_INBOX.>")
            await nc.flush()
            await asyncio.sleep(0.3)
            return errors
        finally:
            await nc.close()

    errors = asyncio.run(scenario())
    joined = "\n".join(errors).lower()
    assert 'permissions violation for publish to "openstage.cmd.tenantb' in joined
    assert 'permissions violation for subscription to "openstage.evt.tenantb' in joined
    assert 'permissions violation for subscription to "_inbox.>"' in joined


def test_wrong_nats_password_is_refused(running):
    async def scenario():
        await nats.connect(
            f"nats://127.0.0.1:{port_of(running.nats_url)}",
            user=TENANT_A.ak,
            password="wrong",
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
        )

    with pytest.raises(Exception):  # noqa: B017 - nats-py reports a permissions violation as a timeout, no responders or a closed connection, by timing
        asyncio.run(scenario())
