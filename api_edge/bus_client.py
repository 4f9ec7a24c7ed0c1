"""The edge's side of the bus: request a command subject and answer with its typed reply."""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
from nats.aio.client import Client as NATS
from nats.errors import ConnectionClosedError, MaxPayloadError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from api_edge.error_responses import error_response
from api_edge.reply_responses import reply_response, result_response
from api_edge.route_commands import Command
from services.contracts import errors, subjects
from services.contracts.envelope import Reply, split_success

log = logging.getLogger("openstage.edge")

_EMPTY = b"{}"


class BusClient:
    def __init__(self, nc: NATS | None, timeout: float) -> None:
        self.nc = nc
        self.timeout = timeout

    async def request(self, project_id: str, command: Command, payload: BaseModel | bytes | None, timeout: float | None = None) -> Reply:
        """The worker's Reply; a ServiceError(503) if no worker answers in time (``timeout`` seconds,
        default the edge's request timeout; a Kie long poll waits longer)."""
        subject, data = await self._request(project_id, command, payload, timeout)
        return _decoded(subject, data)

    async def _request(
        self, project_id: str, command: Command, payload: BaseModel | bytes | None, timeout: float | None
    ) -> tuple[str, bytes]:
        """(the subject, the worker's reply as received)."""
        timeout = self.timeout if timeout is None else timeout
        if self.nc is None or not self.nc.is_connected:
            raise errors.unavailable("message bus not connected")
        domain = command.domain
        if isinstance(payload, bytes):  # already-encoded command JSON (the registry's heartbeat and discovery)
            data = payload
        else:
            data = payload.model_dump_json(by_alias=True).encode() if payload is not None else _EMPTY
        subject = subjects.command(project_id, domain, command.action)
        try:
            msg = await self.nc.request(subject, data, timeout=timeout)
        except NoRespondersError:
            raise errors.unavailable(f"no {domain} worker is running") from None
        except (TimeoutError, NatsTimeout):
            raise errors.unavailable(f"the {domain} worker did not answer within {timeout:g}s") from None
        except ConnectionClosedError:
            raise errors.unavailable("message bus not connected") from None
        except MaxPayloadError:  # the command grew past the bus's message limit (e.g. 1e9 -> 1000000000.0)
            raise errors.ServiceError(
                413, errors.BODY_TOO_LARGE, f"request too large to forward ({len(data)} bytes as a command)"
            ) from None
        return subject, msg.data

    async def forward(
        self,
        path: str,
        project_id: str,
        command: Command,
        payload: BaseModel | bytes | None,
        timeout: float | None = None,
        on_success: Callable[[int, dict[str, str] | None, bytes], None] | None = None,
    ) -> Response:
        """Request ``command`` with ``payload`` and answer with its reply as the HTTP response to
        ``path``: a successful reply's result as it came (``split_success``; ``on_success`` gets
        its status, headers and result JSON first), any other decoded."""
        try:
            subject, data = await self._request(project_id, command, payload, timeout)
            success = split_success(data)
            if success is not None:
                if on_success is not None:
                    on_success(*success)
                return result_response(path, *success)
            reply = _decoded(subject, data)
        except errors.ServiceError as exc:
            return error_response(path, exc.status, exc.code, exc.message, exc.detail)
        return reply_response(path, reply)


def _decoded(subject: str, data: bytes) -> Reply:
    try:
        return Reply.model_validate(orjson.loads(data))
    except (orjson.JSONDecodeError, ValidationError):
        log.error("malformed reply on %s: %.200r", subject, data)
        raise errors.ServiceError(500, errors.INTERNAL, "internal error") from None
