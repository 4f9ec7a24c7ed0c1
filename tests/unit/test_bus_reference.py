"""docs/bus-reference.md is generated from the AsyncAPI document, never edited by hand."""

from __future__ import annotations

from api_edge.asyncapi import build_document
from openstage.busdoc import REFERENCE, render


def test_bus_reference_is_up_to_date():
    expected = render(build_document())
    current = REFERENCE.read_text() if REFERENCE.exists() else ""
    assert current == expected, (
        "docs/bus-reference.md is out of date (a command, payload, reply, event type or worker changed): "
        "run `python -m openstage.busdoc` and commit docs/bus-reference.md"
    )


def test_bus_reference_lists_commands_payloads_replies_and_events():
    text = render(build_document())
    assert "### `openstage.cmd.<project>.lifecycle.environment.create`" in text
    assert "HTTP: `POST /v2/{project_id}/cas/environments`" in text
    assert "| `base_resources[].type` |" in text
    assert "**Reply**: status 200, `result`: Environment." in text
    assert "**Reply**: status 204, no `result`." in text
    assert "## Events" in text and "`openstage.ping.lifecycle`" in text


def test_every_command_names_its_handler():
    text = render(build_document())
    commands = text.count("### `openstage.cmd.")
    assert commands >= 50
    assert text.count("**Handler** `workers.") == commands
    assert "**Handler** `workers.lifecycle.environments:create_environment` (queue group `lifecycle`)." in text
