"""The edge's side of the bus: request a command subject, turn the typed reply into HTTP."""
from __future__ import annotations

import asyncio
import logging

import orjson
from nats.aio.client import Client as NATS
from nats.errors import ConnectionClosedError, MaxPayloadError, NoRespondersError, TimeoutError as NatsTimeout
from pydantic import BaseModel
from starlette.responses import Response

from api_edge.error_responses import error_response
from services.contracts import subjects
from services.contracts import errors

log = logging.getLogger("openstage.edge")

_EMPTY = b"{}"


class BusClient:
    def __init__(self, nc: NATS | None, timeout: float) -> None:
        self.nc = nc
        self.timeout = timeout

    async def request(self, project_id: str, domain: str, action: str, payload: BaseModel | bytes | None) -> dict:
        """The worker's Reply as a dict; a ServiceError(503) if no worker answers in time."""
        if self.nc is None or not self.nc.is_connected:
            raise errors.unavailable("message bus not connected")
        if isinstance(payload, bytes):  # already-encoded command JSON (the registry's hot paths)
            data = payload
        else:
            data = payload.model_dump_json(by_alias=True).encode() if payload is not None else _EMPTY
        subject = subjects.command(project_id, domain, action)
        try:
            msg = await self.nc.request(subject, data, timeout=self.timeout)
        except NoRespondersError:
            raise errors.unavailable(f"no {domain} worker is running") from None
        except (NatsTimeout, asyncio.TimeoutError):
            raise errors.unavailable(f"the {domain} worker did not answer within {self.timeout:g}s") from None
        except ConnectionClosedError:
            raise errors.unavailable("message bus not connected") from None
        except MaxPayloadError:  # the command grew past the bus's message limit (e.g. 1e9 -> 1000000000.0)
            raise errors.ServiceError(413, errors.BODY_TOO_LARGE,
                                      f"request too large to forward ({len(data)} bytes as a command)") from None
        return orjson.loads(msg.data)

    async def call(self, path: str, project_id: str, domain: str, action: str,
                   payload: BaseModel | None) -> Response:
        """Request and map the reply to an HTTP response of the API at ``path``."""
        try:
            reply = await self.request(project_id, domain, action, payload)
        except errors.ServiceError as exc:
            return error_response(path, exc.status, exc.code, exc.message, exc.detail)
        return reply_response(path, reply)


def reply_response(path: str, reply: dict, headers: dict[str, str] | None = None) -> Response:
    status = int(reply.get("status", 200))
    err = reply.get("error")
    if err:
        return error_response(path, status, err.get("error_code"), err.get("error_msg", ""), err.get("detail", ""),
                              headers=headers)
    if status == 204:
        return Response(status_code=204, headers=headers)
    result = reply.get("result")
    body = orjson.dumps(result) if result is not None else b"{}"
    return Response(body, status_code=status, media_type="application/json", headers=headers)
