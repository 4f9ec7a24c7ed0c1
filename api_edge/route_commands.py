"""Which bus command an HTTP route sends, declared on the route itself:

    @router.post("", response_model=Environment, summary="Create an environment")
    @sends(LIFECYCLE, Lifecycle.ENVIRONMENT_CREATE)
    async def create_environment(project_id: str, body: EnvironmentCreate, request: Request):
        return await forward(request, project_id, CreateEnvironment(...))

``forward`` (api_edge/routers/forwarding.py) sends the command its route declares, and the AsyncAPI
document (api_edge/asyncapi.py) lists each command's HTTP equivalents from the same declarations:
what is documented is what is sent. tests/unit/test_asyncapi.py fails for a route without one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_ATTRIBUTE = "__bus_command__"


@dataclass(frozen=True)
class Command:
    """A command subject of the bus: ``openstage.cmd.<project>.<domain>.<action>``."""

    domain: str
    action: str


def sends(domain: str, action: str) -> Callable[[Endpoint], Endpoint]:
    """Declare that the decorated route function sends ``<domain>.<action>`` (the function is unchanged)."""
    command = Command(domain, action)

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _ATTRIBUTE, command)
        return endpoint

    return declare


def declared_command(endpoint: Callable[..., Any]) -> Command | None:
    """The command a route function declares with ``@sends``, if any."""
    return getattr(endpoint, _ATTRIBUTE, None)


def route_command(endpoint: Callable[..., Any]) -> Command:
    """The command a route function declares; a route that forwards without declaring one is a bug."""
    command = declared_command(endpoint)
    if command is None:
        name = getattr(endpoint, "__qualname__", repr(endpoint))
        raise RuntimeError(f"route {name} forwards a command but declares none (add @sends(domain, action))")
    return command
