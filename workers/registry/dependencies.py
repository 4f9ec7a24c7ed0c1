"""Handlers of openstage.cmd.<project>.registry.dependency.*: consumer -> provider rules.

A rule is (environment, appId, serviceName, version rule) of a provider – which need not exist
yet; ``serviceName`` ``*`` means every service. Rules are resolved against the services that
exist *now* when providers are listed (``latest`` moves). A find with ``X-ConsumerId`` adds a
rule too (:func:`record_dependency_of_find`).

Event: ``registry.dependency.changed`` (data ``{"consumerId", "consumer", "providers": [rules]}``)."""

from __future__ import annotations

from typing import Any

from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.registry import DependencyQueryCommand, GetConsumersResponse, GetProvidersResponse, PutDependenciesCommand
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import validation as v
from services.domain.registry.model import dependency_matches, resolve_rules
from services.domain.registry.revision import DEPRECATION_HEADER
from workers.registry.caches import DependencyMark
from workers.registry.deps import RegistryDeps
from workers.registry.events import dependency_event
from workers.registry.microservices import stored_service
from workers.registry.replies import reply
from workers.runtime import command_router, on_command

router = command_router()

# the header Service-Center v2.0.0 answers a dependency write with (the API went after v2.0.0)
DEPRECATION = {DEPRECATION_HEADER: 'version="v4"'}


def _rule(p: Any, consumer_env: str) -> dict[str, str]:
    return {
        "environment": p.environment or consumer_env,
        "appId": p.app_id or "",
        "serviceName": p.service_name or "",
        "version": p.version or "",
    }


def _merge(current: list[dict[str, str]], added: list[dict[str, str]]) -> list[dict[str, str]]:
    out = {(r["environment"], r["appId"], r["serviceName"]): r for r in current}
    for r in added:
        out[(r["environment"], r["appId"], r["serviceName"])] = r
    return list(out.values())


@on_command(router, REGISTRY, Registry.DEPENDENCY_PUT, "Create (PUT: replace, POST: add) consumer dependencies", reply=None)
async def put_dependencies(body: PutDependenciesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    dependencies = v.validate_dependencies(body.body, override=body.override)

    async def write(session):
        events = []
        for dep in dependencies:
            c = dep.consumer
            assert c is not None  # validated
            env = c.environment or ""
            cid = await store.service_id_by_key(deps.db, project, env, c.app_id, c.service_name, c.version, session=session)
            if cid is None:
                raise rerr.service_not_exists(f"Consumer {env}/{c.app_id}/{c.service_name}/{c.version} does not exist.")
            consumer = await store.get_service(deps.db, project, cid, session=session)
            rules = [_rule(p, env) for p in dep.providers or []]
            if not body.override:
                rules = _merge(await store.dependency_rules(deps.db, project, cid, session=session), rules)
            else:
                rules = _merge([], rules)
            await store.set_dependency_rules(deps.db, project, cid, rules, session)
            events.append(dependency_event(project, consumer, rules))
        return None, events

    await deps.commit(project, write)
    return reply(headers=DEPRECATION)


async def record_dependency_of_find(
    deps: RegistryDeps, project: str, consumer: dict[str, Any], rule: dict[str, str], mark: DependencyMark
) -> None:
    """Add (or update) the consumer's rule for a provider it discovered, once per process
    (``mark`` from :func:`workers.registry.caches.dependency_of_find`)."""
    await record_dependencies_of_finds(deps, project, consumer, [(rule, mark)])


async def record_dependencies_of_finds(
    deps: RegistryDeps, project: str, consumer: dict[str, Any], found: list[tuple[dict[str, str], DependencyMark]]
) -> None:
    """The rules of several finds of one consumer (a batch find) in one transaction and one
    ``dependency.changed`` event: go-chassis puts every provider in one batch, and a write per
    provider made its first batch of 150 outlast the edge's request timeout."""

    async def write(session):
        current = await store.dependency_rules(deps.db, project, consumer["serviceId"], session=session)
        present = {(r["environment"], r["appId"], r["serviceName"], r["version"]) for r in current}
        added = [rule for rule, _ in found if (rule["environment"], rule["appId"], rule["serviceName"], rule["version"]) not in present]
        if not added:
            return None, []
        rules = _merge(current, added)
        await store.set_dependency_rules(deps.db, project, consumer["serviceId"], rules, session)
        return None, [dependency_event(project, consumer, rules)]

    if found:
        await deps.commit(project, write)
        deps.caches.recorded_dependencies.update(mark for _, mark in found)


async def _services_for(deps: RegistryDeps, project: str, rules: list[dict[str, str]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    services: list[dict[str, Any]] = []
    for r in rules:
        if r["serviceName"] == "*":
            scope = (r["environment"], "*")
            if scope not in seen:
                seen.add(scope)
                services += await store.all_services(deps.db, project, r["environment"])
            continue
        scope = (r["environment"], r["appId"])
        if scope not in seen and (r["environment"], "*") not in seen:
            seen.add(scope)
            services += await store.services_of_app(deps.db, project, r["appId"], r["environment"])
    return services


async def _queried_service(deps: RegistryDeps, project: str, service_id: str | None, missing: str) -> dict[str, Any]:
    """The service a dependency query is about; 400012 ``missing`` when it does not exist."""
    sid = v.validate_service_id(service_id, type_name="GetDependenciesRequest")
    return await stored_service(deps, project, sid, missing=missing)


async def providers_of(deps: RegistryDeps, project: str, consumer: dict[str, Any], no_self: bool) -> list[dict[str, Any]]:
    """The services a consumer's rules select now (``latest`` moves)."""
    sid = consumer["serviceId"]
    rules = await store.dependency_rules(deps.db, project, sid)
    found = resolve_rules(rules, await _services_for(deps, project, rules))
    return [s for s in found if s["serviceId"] != sid] if no_self else found


async def consumers_of_provider(deps: RegistryDeps, project: str, provider: dict[str, Any], no_self: bool) -> list[dict[str, Any]]:
    """The services whose rules select ``provider``."""
    sid = provider["serviceId"]
    out: dict[str, dict] = {}
    for r in await store.consumers_of(deps.db, project, provider):
        if r["consumerId"] in out or not dependency_matches(r, provider):
            continue
        if no_self and r["consumerId"] == sid:
            continue
        svc = await store.get_service(deps.db, project, r["consumerId"])
        if svc is not None:
            out[r["consumerId"]] = svc
    return list(out.values())


@on_command(router, REGISTRY, Registry.DEPENDENCY_PROVIDERS, "The providers a consumer depends on", reply=GetProvidersResponse)
async def providers(body: DependencyQueryCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    consumer = await _queried_service(deps, project, body.service_id, "Consumer does not exist")
    found = await providers_of(deps, project, consumer, v.flag_one(body.no_self))
    return reply({"providers": found} if found else {})


@on_command(router, REGISTRY, Registry.DEPENDENCY_CONSUMERS, "The consumers that depend on a provider", reply=GetConsumersResponse)
async def consumers(body: DependencyQueryCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    provider = await _queried_service(deps, project, body.service_id, "Provider does not exist")
    found = await consumers_of_provider(deps, project, provider, v.flag_one(body.no_self))
    return reply({"consumers": found} if found else {})
