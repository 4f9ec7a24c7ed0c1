"""Requests to host agents (``openstage agent``) over NATS: one verb of
services/contracts/agent.py ``AGENT_COMMANDS`` to one host, its ``AgentReply`` unwrapped into the
verb's reply model. Every failure is an ``AgentError`` whose message a job's task can show as it is:
the agent's own ``AgentReply.error``, "host X has no running agent", or a timeout."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ValidationError

from services.contracts import subjects
from services.contracts.agent import (
    AGENT_COMMANDS,
    AgentReply,
    ApplyReplicas,
    FetchArtifact,
    FetchedArtifact,
    HostAnnouncement,
    InstanceReplicas,
    InstanceStatusQuery,
    RemoveInstance,
    ReplicaChange,
    RestartReplica,
    StopReplicas,
)

M = TypeVar("M", bound=BaseModel)
Report = TypeVar("Report", HostAnnouncement, ReplicaChange)
log = logging.getLogger("openstage.agents")


def agent_report(subject: str, data: bytes, model: type[Report], subject_of: Callable[[str], str]) -> Report | None:
    """What an agent published (an announcement, a replica change) on ``subject``, or None (logged)
    when it is malformed or names another host than the subject's (``subject_of(host_id)``)."""
    try:
        report = model.model_validate_json(data)
    except ValidationError:
        log.warning("dropping a malformed %s on %s", model.__name__, subject)
        return None
    if subject != subject_of(report.host_id):
        log.warning("dropping a %s of host %s sent on %s", model.__name__, report.host_id, subject)
        return None
    return report


class AgentError(Exception):
    """A command to an agent failed; ``message`` says why, in words a user reads."""

    def __init__(self, message: str, no_agent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.no_agent = no_agent  # nobody answers for the host (no agent runs there now)


class AgentClient:
    def __init__(self, nc: NATS, timeout: float = 30.0) -> None:
        self.nc = nc
        self.timeout = timeout  # default per command; a fetch of a large package gets more

    async def call(self, host_id: str, verb: str, request: BaseModel, timeout: float | None = None) -> BaseModel | None:
        """Send ``verb`` to the agent of ``host_id``; its reply model (None for a verb without one)."""
        if verb not in AGENT_COMMANDS:
            raise ValueError(f"unknown agent verb {verb!r}")
        request_model, reply_model = AGENT_COMMANDS[verb]
        if not isinstance(request, request_model):
            raise TypeError(f"agent verb {verb} takes {request_model.__name__}, not {type(request).__name__}")
        wait = timeout if timeout is not None else self.timeout
        try:
            msg = await self.nc.request(subjects.agent_command(host_id, verb), request.model_dump_json().encode(), timeout=wait)
        except NoRespondersError:
            raise AgentError(f"host {host_id} has no running agent", no_agent=True) from None
        except (TimeoutError, NatsTimeout):
            raise AgentError(f"the agent of host {host_id} did not answer {verb} within {wait:g}s") from None
        try:
            reply = AgentReply.model_validate_json(msg.data)
        except ValidationError:
            raise AgentError(f"the agent of host {host_id} answered {verb} with something that is not an agent reply") from None
        if not reply.ok:
            raise AgentError(reply.error or f"{verb} failed on host {host_id} (the agent gave no reason)")
        if reply_model is None:
            return None
        try:
            return reply_model.model_validate(reply.result or {})
        except ValidationError as exc:
            raise AgentError(f"the agent of host {host_id} answered {verb} with an unexpected result: {exc.errors()[0]['msg']}") from None

    async def _typed(self, host_id: str, verb: str, request: BaseModel, reply_type: type[M], timeout: float | None) -> M:
        result = await self.call(host_id, verb, request, timeout)
        assert isinstance(result, reply_type)
        return result

    async def fetch(self, host_id: str, request: FetchArtifact, timeout: float | None = None) -> FetchedArtifact:
        return await self._typed(host_id, "fetch", request, FetchedArtifact, timeout)

    async def apply(self, host_id: str, request: ApplyReplicas, timeout: float | None = None) -> InstanceReplicas:
        return await self._typed(host_id, "apply", request, InstanceReplicas, timeout)

    async def stop(self, host_id: str, request: StopReplicas, timeout: float | None = None) -> InstanceReplicas:
        return await self._typed(host_id, "stop", request, InstanceReplicas, timeout)

    async def restart(self, host_id: str, request: RestartReplica, timeout: float | None = None) -> InstanceReplicas:
        return await self._typed(host_id, "restart", request, InstanceReplicas, timeout)

    async def status(self, host_id: str, request: InstanceStatusQuery, timeout: float | None = None) -> InstanceReplicas:
        return await self._typed(host_id, "status", request, InstanceReplicas, timeout)

    async def remove(self, host_id: str, request: RemoveInstance, timeout: float | None = None) -> None:
        await self.call(host_id, "remove", request, timeout)
