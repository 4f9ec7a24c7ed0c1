"""Host agents' NATS users (services/adapters/nats_auth.py): what each may do, and OPENSTAGE_AGENTS."""

from __future__ import annotations

import json

import pytest

from services.adapters import nats_auth


def test_an_agent_may_use_its_own_subjects_and_the_log_requests_only():
    assert nats_auth.agent_permissions("h1") == {
        "publish": {"allow": ["openstage.agent.h1.>"]},
        "subscribe": {"allow": ["openstage.agent.h1.cmd.>", "openstage.agents.logs"]},
        "allow_responses": {"max": nats_auth.AGENT_MAX_RESPONSES, "expires": "1m"},
    }


def test_the_server_config_holds_each_agent_as_a_user_of_its_own():
    config = nats_auth.server_config("internal", [], [nats_auth.AgentUser("h1", "pw1")])
    users = json.loads(config.removeprefix("authorization "))["users"]
    agent = next(u for u in users if u["user"] == "agent-h1")
    assert agent["password"] == "pw1" and agent["permissions"] == nats_auth.agent_permissions("h1")


def test_agents_of_other_hosts_come_from_a_json_list():
    assert nats_auth.load_agents_json('[{"host_id": "h2", "password": "p"}]') == [nats_auth.AgentUser("h2", "p")]
    assert nats_auth.load_agents_json(None) == []
    for bad in ('{"host_id": "h2"}', '[{"host_id": "a.b", "password": "p"}]', '[{"host_id": "h2", "password": ""}]', "nope"):
        with pytest.raises(ValueError, match="OPENSTAGE_AGENTS"):
            nats_auth.load_agents_json(bad)


def test_an_agent_connects_as_agent_host_id():
    assert nats_auth.agent_url("127.0.0.1", 4222, nats_auth.AgentUser("h1", "pw-1")) == "nats://agent-h1:pw-1@127.0.0.1:4222"
