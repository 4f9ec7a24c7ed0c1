"""The config worker asks the lifecycle worker whether an application (and an environment)
exist, over the bus (``lifecycle.application.get`` / ``lifecycle.environment.get``, both at
once): the config worker owns no application or environment data, and the answer is as fresh
as the lifecycle store. The lifecycle worker's own 404 is returned unchanged; when no lifecycle
worker answers in time the call fails with 503."""

from __future__ import annotations

import asyncio

import orjson
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel

from services.contracts import errors, subjects
from services.contracts.applications import ApplicationRef
from services.contracts.envelope import Reply
from services.contracts.environments import EnvironmentRef
from services.contracts.subjects import LIFECYCLE, Lifecycle


class LifecycleLookup:
    def __init__(self, nc: NATS, request_timeout: float) -> None:
        self.nc = nc
        # leave the edge (which waits request_timeout for our answer) time to get a reply from us
        self.timeout = max(0.5, request_timeout / 2)

    async def _get(self, project: str, action: str, payload: BaseModel, what: str) -> None:
        try:
            msg = await self.nc.request(
                subjects.command(project, LIFECYCLE, action), payload.model_dump_json().encode(), timeout=self.timeout
            )
        except NoRespondersError:
            raise errors.unavailable(f"no lifecycle worker is running: cannot check the {what}") from None
        except (TimeoutError, NatsTimeout):
            raise errors.unavailable(f"the lifecycle worker did not answer: cannot check the {what}") from None
        reply = Reply.model_validate(orjson.loads(msg.data))
        if reply.error is not None:
            raise errors.ServiceError(reply.status, reply.error.error_code, reply.error.error_msg, reply.error.detail)

    async def require_references(self, project: str, application_id: str, environment_id: str | None) -> None:
        """404 unless the application (and the environment, when given) exist in the project."""
        lookups = [self._get(project, Lifecycle.APPLICATION_GET, ApplicationRef(application_id=application_id), "application")]
        if environment_id is not None:
            lookups.append(self._get(project, Lifecycle.ENVIRONMENT_GET, EnvironmentRef(environment_id=environment_id), "environment"))
        results = await asyncio.gather(*lookups, return_exceptions=True)
        for result in results:  # the application's failure first
            if isinstance(result, BaseException):
                raise result
