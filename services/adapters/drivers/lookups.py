"""What the process driver reads besides the workload: the component and application (the
lifecycle store, which the lifecycle worker owns), the application's configuration for the
instance's environment (the config worker, over the bus: ``app_configuration.get``), and the UP
instances of the project's registry (the registry worker, over the bus: ``govern.list`` with
instances). Each failure is a ``LookupFailed`` whose message a task shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from services.adapters.store import applications as application_store
from services.adapters.store import components as component_store
from services.contracts import errors, subjects
from services.contracts.app_configurations import AppConfigurationList, AppConfigurationQuery
from services.contracts.envelope import Reply
from services.contracts.registry import GovernServicesCommand
from services.contracts.subjects import CONFIG, REGISTRY, Config, Registry


class LookupFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ComponentFacts:
    name: str
    runtime: str
    category: str
    sub_category: str | None
    application_name: str


class DeploymentLookups(Protocol):
    async def component(self, project_id: str, application_id: str, component_id: str) -> ComponentFacts: ...

    async def application_env(self, project_id: str, application_id: str, environment_id: str) -> list[tuple[str, str]]: ...

    async def up_endpoints(self, project_id: str) -> list[str]: ...


class StoreAndBusLookups:
    def __init__(self, db: AsyncDatabase, nc: NATS, timeout: float) -> None:
        self.db = db
        self.nc = nc
        self.timeout = timeout

    async def component(self, project_id: str, application_id: str, component_id: str) -> ComponentFacts:
        try:
            comp = await component_store.get(self.db, project_id, application_id, component_id)
            app = await application_store.APPLICATIONS.get(self.db, project_id, application_id)
        except errors.ServiceError as exc:
            raise LookupFailed(f"cannot read the component: {exc.message}") from None
        return ComponentFacts(comp.name, comp.runtime, comp.category, comp.sub_category, app.name)

    async def _request(self, project_id: str, domain: str, action: str, body: BaseModel, who: str) -> Any:
        try:
            msg = await self.nc.request(
                subjects.command(project_id, domain, action), body.model_dump_json(exclude_none=True).encode(), timeout=self.timeout
            )
        except NoRespondersError:
            raise LookupFailed(f"no {who} worker is running") from None
        except (TimeoutError, NatsTimeout):
            raise LookupFailed(f"the {who} worker did not answer within {self.timeout:g}s") from None
        reply = Reply.model_validate(orjson.loads(msg.data))
        if reply.error is not None:
            raise LookupFailed(f"the {who} worker answered {reply.status}: {reply.error.error_msg}")
        return reply.result

    async def application_env(self, project_id: str, application_id: str, environment_id: str) -> list[tuple[str, str]]:
        query = AppConfigurationQuery(application_id=application_id, environment_id=environment_id)
        result = await self._request(project_id, CONFIG, Config.APP_CONFIGURATION_GET, query, "config")
        found = AppConfigurationList.model_validate(result or {"configuration": []})
        return [(v.name, v.value) for c in found.configuration if c.environment_id == environment_id for v in c.configuration.env]

    async def up_endpoints(self, project_id: str) -> list[str]:
        result = await self._request(project_id, REGISTRY, Registry.GOVERN_SERVICES, GovernServicesCommand(options="instances"), "registry")
        endpoints: list[str] = []
        for service in (result or {}).get("allServicesDetail") or []:
            for inst in service.get("instances") or []:
                if str(inst.get("status", "UP")).upper() == "UP":
                    endpoints += [str(e) for e in inst.get("endpoints") or []]
        return endpoints
