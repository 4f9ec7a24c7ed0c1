"""Handlers of openstage.cmd.<project>.registry.instance.find|find_many: discovery.

The hot path: ``GET /instances`` polled with ``rev`` by every consumer. A computed answer is kept
(workers/registry/state.py) as ready reply bytes – 200 with the body and 304 – with its revision,
until a registry event for its (project, environment, appId) drops it; while nothing changes a
find costs two dict lookups and no MongoDB query.

Rules (docs/registry-behaviour.md §4.3): appId + serviceName (or alias) required; ``version``
optional (absent: every version; else ``latest`` / ``x+`` / ``a-b`` / exact); ``env`` from the
query, or the consumer's when ``X-ConsumerId`` is given (then the consumer must exist, other
apps' providers are visible only with ``allowCrossApp=true``, and the dependency is recorded);
instance status is **not** filtered (DOWN instances are returned, marked DOWN)."""
from __future__ import annotations

import time
from typing import Any

import orjson

from faststream import Path

from services.contracts.registry import BatchFindCommand, BatchFindInstancesRequest
from services.contracts import registry_errors as rerr
from services.domain.registry import validation as v
from services.domain.registry.model import (
    BatchResult,
    body_revision,
    find_body,
    instance_sort_key,
    select_providers,
)
from services.domain.registry.revision import REVISION_HEADER
from services.domain.registry.version_rules import ALL_VERSIONS, RuleKind
from services.adapters.store import registry as store
from services.contracts.subjects import REGISTRY, Registry
from workers.registry.common import reply, reply_raw
from workers.registry.dependencies import record_from_find
from workers.registry.microservice_instances import consumer_of, get_instance_doc
from workers.registry.state import FindEntry, state
from workers.runtime import command_router, ctx, on_command

router = command_router()


async def _compute(project: str, environment: str, app_id: str, service_name: str, version: str | None,
                   tags: list[str], consumer: dict[str, Any] | None, rule) -> FindEntry:
    scope = (project, environment, app_id)
    if tags:
        services, service_tags = await store.services_with_tags(ctx.db, project, app_id, environment)
    else:
        services, service_tags = await store.services_of_app(ctx.db, project, app_id, environment), None
    exists, providers = select_providers(services, service_name, rule, consumer=consumer, tags=tags,
                                         service_tags=service_tags)
    now = time.monotonic()
    if not exists or (rule.kind is RuleKind.EXACT and not any(
            s.get("version") == rule.raw for s in services
            if s.get("serviceName") == service_name or s.get("alias") == service_name)):
        err = rerr.service_not_exists(
            f"Provider[{environment}/{app_id}/{service_name}/{version or ''}] does not exist.")
        return FindEntry(scope, None, b"", None, None, err, now)
    order = {s["serviceId"]: i for i, s in enumerate(providers)}
    instances = await store.instances_of(ctx.db, project, list(order))
    instances.sort(key=instance_sort_key)
    instances.sort(key=lambda d: order.get(d.get("serviceId"), 0))
    body = find_body(instances)
    rev = body_revision(body)
    headers = {REVISION_HEADER: rev}
    return FindEntry(scope, rev, reply_raw(body, headers=headers), reply(status=304, headers=headers),
                     instances, None, now)


async def find_entry(project: str, app_id: str | None, service_name: str | None, version: str | None,
                     environment: str | None, tags_text: str | None, consumer_id: str | None) -> FindEntry:
    """The (cached) answer of one find; raises the request's validation/consumer errors."""
    key = (project, environment or "", app_id or "", service_name or "", version or "", tags_text or "",
           consumer_id or "")
    consumer = await consumer_of(project, consumer_id) if consumer_id else None
    entry = state.cached_find(key)
    if entry is None:
        tags = v.split_tags(tags_text)
        rule = v.validate_find_instances(app_id=app_id, service_name=service_name, environment=environment,
                                         version_rule=version, tags=tags, consumer_id=consumer_id)
        env = (consumer.get("environment") or "") if consumer is not None else (environment or "")
        scope = (project, env, app_id)
        generation = state.generation(scope)
        entry = await _compute(project, env, app_id, service_name, version, tags, consumer, rule)
        state.store_find(key, entry, generation)
    if consumer is not None and entry.error is None:
        rule, mark = find_mark(project, consumer, app_id, service_name, version)
        if mark not in state.recorded:
            await record_from_find(project, consumer, rule)
    return entry


def find_mark(project: str, consumer: dict[str, Any], app_id: str, service_name: str, version: str | None):
    """The rule a find with X-ConsumerId records, and its mark in ``state.recorded``."""
    rule = {"environment": consumer.get("environment") or "", "appId": app_id, "serviceName": service_name,
            "version": version or ALL_VERSIONS}
    mark = (project, consumer["serviceId"], rule["environment"], app_id, service_name, rule["version"])
    return rule, mark


async def find_reply(project: str, app_id: str | None, service_name: str | None, version: str | None,
                     environment: str | None, tags: str | None, consumer_id: str | None, rev: str | None) -> bytes:
    """``instance.find``: the reply bytes (served by workers/registry/hot.py)."""
    entry = await find_entry(project, app_id, service_name, version, environment, tags, consumer_id)
    if entry.error is not None:
        raise entry.error
    if rev and rev == entry.rev:
        return entry.not_modified  # type: ignore[return-value]
    return entry.ok


@on_command(router, REGISTRY, Registry.INSTANCE_FIND_MANY, "Batch discovery (POST /instances/action?type=query)")
async def find_many(body: BatchFindCommand, project: str = Path()) -> bytes:
    v.check_action_type(body.type)
    request = v.parse_body(BatchFindInstancesRequest, body.body)
    if body.consumer_id is not None:
        request = request.model_copy(update={"consumer_service_id": body.consumer_id})
    v.validate_batch_find(request)
    cid = request.consumer_service_id or None
    await consumer_of(project, cid)
    out: dict[str, Any] = {}
    if request.services:
        result = BatchResult()
        for i, item in enumerate(request.services):
            key = item.service
            try:
                entry = await find_entry(project, key.app_id, key.service_name, key.version, key.environment, None,
                                         cid)
                if entry.error is not None:
                    raise entry.error
                result.add_ok(i, entry.rev or "", item.rev, entry.instances)
            except rerr.RegistryError as exc:
                result.add_error(i, exc)
        out["services"] = result.to_json()
    if request.instances:
        result = BatchResult()
        for i, item in enumerate(request.instances):
            try:
                doc = await get_instance_doc(project, item.instance.service_id, item.instance.instance_id, cid)
                rev = body_revision(orjson.dumps({"instance": doc}))
                result.add_ok(i, rev, item.rev, [doc])
            except rerr.RegistryError as exc:
                result.add_error(i, exc)
        out["instances"] = result.to_json()
    return reply(out)
