"""The edge application in-process (Starlette's TestClient) with its bus replaced by a recorder:
every command a route sends is remembered and answered with a fixed worker reply."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from fastapi.testclient import TestClient

from api_edge.app import create_app
from services.settings import Settings

TOKEN = "unit-test-token"


@dataclass
class _Msg:
    data: bytes


class RecordingNats:
    """Answers every request with ``reply`` and remembers (subject, payload, timeout)."""

    is_connected = True

    def __init__(self, reply: dict) -> None:
        self.reply = reply
        self.sent: list[tuple[str, dict, float]] = []

    async def drain(self) -> None:
        """The edge stopping (a client used as a context manager runs the app's lifespan)."""

    async def request(self, subject: str, data: bytes, timeout: float) -> _Msg:
        self.sent.append((subject, orjson.loads(data), timeout))
        return _Msg(orjson.dumps(self.reply))


def edge_answering(reply: dict, **settings: object) -> tuple[TestClient, RecordingNats]:
    """A client of the edge (authenticated with a token for every project) and the recorder;
    ``settings``: other Settings of the edge."""
    tokens = orjson.dumps([{"token": TOKEN, "projects": ["*"]}]).decode()
    app = create_app(Settings(nats_url=None, tokens=tokens, **settings))  # type: ignore[arg-type]
    nats = RecordingNats(reply)
    app.state.bus.nc = nats
    return TestClient(app, headers={"X-Auth-Token": TOKEN}), nats
