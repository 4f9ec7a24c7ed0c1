"""Handlers of openstage.cmd.<project>.registry.instance.find|find_many: discovery.

The hot path: ``GET /instances`` polled with ``rev`` by every consumer. A computed answer is kept
(workers/registry/caches.py) as ready reply bytes – 200 with the body and 304 – with its revision,
until a registry event for its (project, environment, appId) drops it; while nothing changes
:func:`find_from_memory` answers with two dict lookups and no MongoDB query
(workers/registry/fast_path.py calls it for every message before anything else).

Rules (docs/registry-behaviour.md, "Discovery"): appId + serviceName (or alias) required; ``version``
optional (absent: every version; else ``latest`` / ``x+`` / ``a-b`` / exact); ``env`` from the
query, or the consumer's when ``X-ConsumerId`` is given (then the consumer must exist, other
apps' providers are visible only with ``allowCrossApp=true``, and the dependency is recorded);
instance status is **not** filtered (DOWN instances are returned, marked DOWN)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.registry import BatchFindCommand, BatchFindInstancesResponse, FindInstancesCommand, GetInstancesResponse
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import validation as v
from services.domain.registry.global_services import GLOBAL_ENVIRONMENT, is_global
from services.domain.registry.model import BatchResult, body_revision, find_body, instance_sort_key, select_providers
from services.domain.registry.revision import REVISION_HEADER
from services.domain.registry.version_rules import RuleKind, VersionRule
from workers.registry.caches import DependencyMark, FindEntry, dependency_of_find, find_key
from workers.registry.dependencies import record_dependencies_of_finds, record_dependency_of_find
from workers.registry.deps import RegistryDeps
from workers.registry.global_services import ensure_global_services
from workers.registry.microservice_instances import consumer_of, get_instance_doc
from workers.registry.replies import failure, reply, reply_with_json
from workers.runtime import command_router, on_command

router = command_router()
# instance.find: served by the fast path's own subscription at run time (workers/registry/app.py)
fast_path_router = command_router()


# a batch find gives the event loop back every this many entries (entries answered from what the
# batch has read take no await: 1,000 of them held the loop ~120 ms)
YIELD_EVERY = 50


class ServicesRead:
    """The services of each (environment, appId) read once for one batch find: go-chassis asks
    for all its providers (hundreds, mostly of one app) in one call, and reading and decoding the
    app's services for each of them made the call quadratic."""

    def __init__(self) -> None:
        self._apps: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._instances: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}

    async def of_app(self, deps: RegistryDeps, project: str, app_id: str, environment: str) -> list[dict[str, Any]]:
        key = (environment, app_id)
        if key not in self._apps:
            self._apps[key] = await store.services_of_app(deps.db, project, app_id, environment)
        return self._apps[key]

    async def instances_of(self, deps: RegistryDeps, project: str, app_id: str, environment: str, service_ids: list[str]) -> list[dict]:
        """The instances of ``service_ids`` (services of that app), the app's read once."""
        key = (environment, app_id)
        if key not in self._instances:
            by_service: dict[str, list[dict[str, Any]]] = {}
            every = [s["serviceId"] for s in await self.of_app(deps, project, app_id, environment)]
            for doc in await store.instances_of(deps.db, project, every):
                by_service.setdefault(doc.get("serviceId") or "", []).append(doc)
            self._instances[key] = by_service
        return [doc for sid in service_ids for doc in self._instances[key].get(sid, [])]


async def _compute(
    deps: RegistryDeps,
    project: str,
    environment: str,
    app_id: str,
    service_name: str,
    version: str | None,
    tags: list[str],
    consumer: dict[str, Any] | None,
    rule: VersionRule,
    services_read: ServicesRead | None = None,
) -> FindEntry:
    scope = (project, environment, app_id)
    if tags:
        services, service_tags = await store.services_with_tags(deps.db, project, app_id, environment)
    elif services_read is not None:
        services, service_tags = await services_read.of_app(deps, project, app_id, environment), None
    else:
        services, service_tags = await store.services_of_app(deps.db, project, app_id, environment), None
    exists, providers = select_providers(services, service_name, rule, consumer=consumer, tags=tags, service_tags=service_tags)
    built = deps.clock.monotonic()
    if not exists or (
        rule.kind is RuleKind.EXACT
        and not any(
            s.get("version") == rule.raw for s in services if s.get("serviceName") == service_name or s.get("alias") == service_name
        )
    ):
        err = rerr.service_not_exists(f"Provider[{environment}/{app_id}/{service_name}/{version or ''}] does not exist.")
        return FindEntry(scope, None, b"", None, None, err, built)
    order = {s["serviceId"]: i for i, s in enumerate(providers)}
    if services_read is not None and not tags:
        instances = await services_read.instances_of(deps, project, app_id, environment, list(order))
    else:
        instances = await store.instances_of(deps.db, project, list(order))
    instances.sort(key=instance_sort_key)
    instances.sort(key=lambda d: order.get(d.get("serviceId"), 0))
    body = find_body(instances)
    rev = body_revision(body)
    headers = {REVISION_HEADER: rev}
    return FindEntry(scope, rev, reply_with_json(body, headers=headers), reply(status=304, headers=headers), instances, None, built)


async def find_entry(
    deps: RegistryDeps,
    project: str,
    app_id: str | None,
    service_name: str | None,
    version: str | None,
    environment: str | None,
    tags_text: str | None,
    consumer_id: str | None,
    services_read: ServicesRead | None = None,
    to_record: list[tuple[dict[str, str], DependencyMark]] | None = None,
) -> FindEntry:
    """The (cached) answer of one find; raises the request's validation/consumer errors.
    ``services_read``: the services of an app read once for all the finds of one batch;
    ``to_record``: collects the consumer's dependency instead of recording it (the batch records
    them all at once before it answers)."""
    key = find_key(project, environment, app_id, service_name, version, tags_text, consumer_id)
    # a global service (SERVICECENTER, ...) is found from any app and environment, whoever asks
    # (Service-Center datasource/etcd/ms.go lines 636-638, 709-731: no consumer, its own environment)
    shared = is_global(app_id, service_name)
    consumer = await consumer_of(deps, project, consumer_id) if consumer_id and not shared else None
    entry = deps.caches.cached_find(key)
    if entry is None:
        tags = v.split_tags(tags_text)
        rule = v.validate_find_instances(
            app_id=app_id, service_name=service_name, environment=environment, version_rule=version, tags=tags, consumer_id=consumer_id
        )
        assert app_id is not None and service_name is not None  # validated
        if shared:
            await ensure_global_services(deps, project)
            env = GLOBAL_ENVIRONMENT
        else:
            env = (consumer.get("environment") or "") if consumer is not None else (environment or "")
        scope = (project, env, app_id)
        generation = deps.caches.generation(scope)
        entry = await _compute(deps, project, env, app_id, service_name, version, tags, consumer, rule, services_read)
        deps.caches.store_find(key, entry, generation)
    if consumer is not None and entry.error is None:
        assert app_id is not None and service_name is not None  # a cached answer without error: validated
        dependency, mark = dependency_of_find(project, consumer, app_id, service_name, version)
        if mark not in deps.caches.recorded_dependencies:
            if to_record is None:
                await record_dependency_of_find(deps, project, consumer, dependency, mark)
            else:
                to_record.append((dependency, mark))
    return entry


def find_from_memory(
    deps: RegistryDeps, project: str, app_id: Any, service_name: Any, version: Any, environment: Any, tags: Any, consumer_id: Any, rev: Any
) -> bytes | None:
    """The cached answer of a find (200, 304 or its cached error), or None when it must be computed.

    Takes the values as the command carries them, before the command model: a cached answer is
    keyed by the strings of a validated find (:func:`find_key`), so any other value finds nothing
    here and is answered by :func:`find_instances` after validation."""
    caches = deps.caches
    if consumer_id:
        consumer = caches.services.get((project, consumer_id))
        if consumer is None or not isinstance(app_id, str) or not isinstance(service_name, str):
            return None
        if dependency_of_find(project, consumer, app_id, service_name, version)[1] not in caches.recorded_dependencies:
            return None  # the dependency must be recorded first
    entry = caches.finds.get(find_key(project, environment, app_id, service_name, version, tags, consumer_id))
    if entry is None or not (rev is None or isinstance(rev, str)):
        return None
    if entry.error is not None:
        return failure(entry.error)
    if rev and rev == entry.rev:
        return entry.not_modified
    return entry.ok


@on_command(fast_path_router, REGISTRY, Registry.INSTANCE_FIND, "Discover instances (GET /instances)", reply=GetInstancesResponse)
async def find_instances(body: FindInstancesCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    answer = find_from_memory(
        deps, project, body.app_id, body.service_name, body.version, body.environment, body.tags, body.consumer_id, body.rev
    )
    if answer is not None:
        return answer
    entry = await find_entry(deps, project, body.app_id, body.service_name, body.version, body.environment, body.tags, body.consumer_id)
    if entry.error is not None:
        raise entry.error
    if body.rev and body.rev == entry.rev and entry.not_modified is not None:
        return entry.not_modified
    return entry.ok


@on_command(router, REGISTRY, Registry.INSTANCE_FIND_MANY, "Batch discovery (POST /instances/action)", reply=BatchFindInstancesResponse)
async def find_many(body: BatchFindCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    request = body.body
    if body.consumer_id is not None:
        request = request.model_copy(update={"consumer_service_id": body.consumer_id})
    v.validate_batch_find(request)
    cid = request.consumer_service_id or None
    consumer = await consumer_of(deps, project, cid)
    out: dict[str, Any] = {}
    if request.services:
        result = BatchResult()
        services_read = ServicesRead()
        to_record: list[tuple[dict[str, str], DependencyMark]] = []
        for i, item in enumerate(request.services):
            if i and not i % YIELD_EVERY:
                await asyncio.sleep(0)  # let the fast path answer other heartbeats and finds
            key = item.service
            try:
                entry = await find_entry(
                    deps, project, key.app_id, key.service_name, key.version, key.environment, None, cid, services_read, to_record
                )
                if entry.error is not None:
                    raise entry.error
                result.add_ok(i, entry.rev or "", item.rev, entry.instances)
            except rerr.RegistryError as exc:
                result.add_error(i, exc)
        if consumer is not None:
            await record_dependencies_of_finds(deps, project, consumer, to_record)
        out["services"] = result.to_json()
    if request.instances:
        result = BatchResult()
        for i, found in enumerate(request.instances):
            if i and not i % YIELD_EVERY:
                await asyncio.sleep(0)
            try:
                doc = await get_instance_doc(deps, project, found.instance.service_id, found.instance.instance_id, cid)
                rev = body_revision(orjson.dumps({"instance": doc}))
                result.add_ok(i, rev, found.rev, [doc])
            except rerr.RegistryError as exc:
                result.add_error(i, exc)
        out["instances"] = result.to_json()
    return reply(out)
