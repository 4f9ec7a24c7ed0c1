"""Handlers of openstage.cmd.<project>.registry.dependency.*: consumer -> provider rules.

A rule is (environment, appId, serviceName, version rule) of a provider – which need not exist
yet; ``serviceName`` ``*`` means every service. Rules are resolved against the services that
exist *now* when providers are listed (``latest`` moves). A find with ``X-ConsumerId`` adds a
rule too (:func:`record_from_find`).

Event: ``registry.dependency.changed`` (data ``{"consumerId", "consumer", "providers": [rules]}``)."""
from __future__ import annotations

from typing import Any

from faststream import Path

from services.contracts.registry import CreateDependenciesRequest, DependencyQueryCommand, PutDependenciesCommand
from services.contracts import registry_errors as rerr
from services.domain.registry import validation as v
from services.domain.registry.model import dependency_matches, resolve_rules
from services.adapters.store import registry as store
from services.contracts.subjects import REGISTRY, Registry
from workers.registry.common import commit, dependency_event, reply
from workers.registry.state import state
from workers.runtime import command_router, ctx, on_command

router = command_router()

DEPRECATION = {"Deprecation": 'version="v4"'}


def _rule(p: Any, consumer_env: str) -> dict[str, str]:
    return {"environment": p.environment or consumer_env, "appId": p.app_id or "",
            "serviceName": p.service_name or "", "version": p.version or ""}


def _merge(current: list[dict[str, str]], added: list[dict[str, str]]) -> list[dict[str, str]]:
    out = {(r["environment"], r["appId"], r["serviceName"]): r for r in current}
    for r in added:
        out[(r["environment"], r["appId"], r["serviceName"])] = r
    return list(out.values())


@on_command(router, REGISTRY, Registry.DEPENDENCY_PUT, "Create (PUT: replace, POST: add) consumer dependencies")
async def put_dependencies(body: PutDependenciesCommand, project: str = Path()) -> bytes:
    request = v.parse_body(CreateDependenciesRequest, body.body)
    deps = v.validate_dependencies(request, override=body.override)

    async def write(session):
        events = []
        for dep in deps:
            c = dep.consumer
            env = c.environment or ""
            cid = await store.service_id_by_key(ctx.db, project, env, c.app_id, c.service_name, c.version,
                                                session=session)
            if cid is None:
                raise rerr.service_not_exists(
                    f"Consumer {env}/{c.app_id}/{c.service_name}/{c.version} does not exist.")
            consumer = await store.get_service(ctx.db, project, cid, session=session)
            rules = [_rule(p, env) for p in dep.providers or []]
            if not body.override:
                rules = _merge(await store.dependency_rules(ctx.db, project, cid, session=session), rules)
            else:
                rules = _merge([], rules)
            await store.set_dependency_rules(ctx.db, project, cid, rules, session)
            events.append(dependency_event(project, consumer, rules))
        return None, events

    await commit(project, write)
    return reply(headers=DEPRECATION)


async def record_from_find(project: str, consumer: dict[str, Any], rule: dict[str, str]) -> None:
    """Add (or update) the consumer's rule for a provider it discovered, once per process."""
    mark = (project, consumer["serviceId"], rule["environment"], rule["appId"], rule["serviceName"], rule["version"])

    async def write(session):
        current = await store.dependency_rules(ctx.db, project, consumer["serviceId"], session=session)
        key = (rule["environment"], rule["appId"], rule["serviceName"])
        if any((r["environment"], r["appId"], r["serviceName"]) == key and r["version"] == rule["version"]
               for r in current):
            return None, []
        rules = _merge(current, [rule])
        await store.set_dependency_rules(ctx.db, project, consumer["serviceId"], rules, session)
        return None, [dependency_event(project, consumer, rules)]

    await commit(project, write)
    state.recorded.add(mark)


async def _services_for(project: str, rules: list[dict[str, str]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    services: list[dict[str, Any]] = []
    for r in rules:
        if r["serviceName"] == "*":
            scope = (r["environment"], "*")
            if scope not in seen:
                seen.add(scope)
                services += await store.all_services(ctx.db, project, r["environment"])
            continue
        scope = (r["environment"], r["appId"])
        if scope not in seen and (r["environment"], "*") not in seen:
            seen.add(scope)
            services += await store.services_of_app(ctx.db, project, r["appId"], r["environment"])
    return services


@on_command(router, REGISTRY, Registry.DEPENDENCY_PROVIDERS, "The providers a consumer depends on")
async def providers(body: DependencyQueryCommand, project: str = Path()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="GetDependenciesRequest")
    consumer = await store.get_service(ctx.db, project, sid)
    if consumer is None:
        raise rerr.service_not_exists("Consumer does not exist")
    rules = await store.dependency_rules(ctx.db, project, sid)
    found = resolve_rules(rules, await _services_for(project, rules))
    if v.flag_one(body.no_self):
        found = [s for s in found if s["serviceId"] != sid]
    return reply({"providers": found} if found else {})


@on_command(router, REGISTRY, Registry.DEPENDENCY_CONSUMERS, "The consumers that depend on a provider")
async def consumers(body: DependencyQueryCommand, project: str = Path()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="GetDependenciesRequest")
    provider = await store.get_service(ctx.db, project, sid)
    if provider is None:
        raise rerr.service_not_exists("Provider does not exist")
    rules = await store.consumers_of(ctx.db, project, provider.get("environment") or "", provider.get("appId") or "",
                                     provider.get("serviceName") or "")
    out: dict[str, dict] = {}
    for r in rules:
        if r["consumerId"] in out or not dependency_matches(r, provider):
            continue
        if v.flag_one(body.no_self) and r["consumerId"] == sid:
            continue
        svc = await store.get_service(ctx.db, project, r["consumerId"])
        if svc is not None:
            out[r["consumerId"]] = svc
    return reply({"consumers": list(out.values())} if out else {})
