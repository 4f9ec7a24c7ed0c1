"""Service-Center's governance views (``/v4/{project}/govern/...``) as pure functions over the
services and instances of a project.

Sources (Service-Center HEAD 983f3f39): ``server/resource/govern/govern_resource.go`` (routes,
lines 38-45; query parsing 71-108), ``server/service/govern/view.go`` (``ListServiceDetail``
42-110, ``getServiceDetailUtil`` 112-185, ``filterServices`` 187-206, ``NewServiceOverview``
218-230, ``GetServiceDetail`` 246-316), ``server/service/govern/graph.go`` (``Draw`` and its
nodes and lines), ``datasource/ms_util.go`` lines 48-89 (``SetStaticServices``,
``SetStaticInstances``: the statistics); JSON from go-chassis/cari ``discovery/types.go``
(``ServiceDetail`` 411-421, ``Statistics`` 76-94, ``GetAppsResponse`` 446-449)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.domain.registry.global_services import is_global

#: ``options=all`` (view.go line 34 ``defaultOptions``, plus ``statistics``)
DEFAULT_OPTIONS = ("tags", "instances", "schemas", "dependencies")
OPTIONS = (*DEFAULT_OPTIONS, "statistics", "all", "")


def parse_options(text: str | None) -> tuple[list[str], bool]:
    """``options`` (comma-separated) -> (the detail options, whether statistics are wanted).
    Unknown options are ignored, as Service-Center logs and skips them."""
    wanted = list(dict.fromkeys((text or "").split(",")))
    if "all" in wanted:
        return list(DEFAULT_OPTIONS), True
    return [o for o in wanted if o in DEFAULT_OPTIONS], "statistics" in wanted


def parse_properties(values: Iterable[str]) -> dict[str, str]:
    """``property=k:v`` query values (``ParseProperties``): ``k`` alone means ``k`` = ``""``."""
    out: dict[str, str] = {}
    for kv in values:
        k, _, v = kv.partition(":")
        out[k] = v
    return out


def visible(service: Mapping[str, Any], with_shared: bool) -> bool:
    return with_shared or not is_global(service.get("appId"), service.get("serviceName"))


def filter_services(
    services: Iterable[Mapping[str, Any]],
    *,
    app_id: str = "",
    service_name: str = "",
    environment: str = "",
    properties: Mapping[str, str] | None = None,
    with_shared: bool = False,
) -> list[Mapping[str, Any]]:
    """``filterServices``: global services only with ``withShared``; empty filters match all."""
    out = []
    for s in services:
        if not visible(s, with_shared):
            continue
        if environment and environment != (s.get("environment") or ""):
            continue
        if app_id and app_id != s.get("appId"):
            continue
        if service_name and service_name != s.get("serviceName"):
            continue
        props = s.get("properties") or {}
        if properties and any(k not in props or props[k] != v for k, v in properties.items()):
            continue
        out.append(s)
    return out


def statistics(services: Iterable[Mapping[str, Any]], instance_service_ids: Iterable[str], with_shared: bool) -> dict[str, Any]:
    """``SetStaticServices`` + ``SetStaticInstances``: services counted without their version,
    ``onlineCount`` = those with an instance, apps; instances of the counted services
    (``countByDomain``: the project is openstage's tenant, so the same count). Zero counts are
    omitted (omitempty), the three objects are always there."""
    key_of: dict[str, tuple[str, str, str]] = {}
    apps: set[str] = set()
    for s in services:
        if not visible(s, with_shared):
            continue
        apps.add(s.get("appId") or "")
        key_of[s["serviceId"]] = (s.get("environment") or "", s.get("appId") or "", s.get("serviceName") or "")
    count = 0
    online: set[tuple[str, str, str]] = set()
    for sid in instance_service_ids:
        if sid in key_of:
            count += 1
            online.add(key_of[sid])
    return {
        "services": _non_zero(count=len(set(key_of.values())), onlineCount=len(online)),
        "instances": _non_zero(count=count, countByDomain=count),
        "apps": _non_zero(count=len(apps)),
    }


def _non_zero(**counts: int) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def service_overview(service: Mapping[str, Any]) -> dict[str, Any]:
    """``NewServiceOverview``: the service without its ``schemas`` list."""
    return {k: v for k, v in service.items() if k != "schemas"}


def overview_instance(instance: Mapping[str, Any]) -> dict[str, Any]:
    """``NewServiceOverview`` drops instance properties (no ``registry.instance.properties`` kept)."""
    return {k: v for k, v in instance.items() if k != "properties"}


def detail(
    service: Mapping[str, Any],
    *,
    tags: Mapping[str, str] | None = None,
    instances: Sequence[Mapping[str, Any]] | None = None,
    schemas: Sequence[Mapping[str, Any]] | None = None,
    providers: Sequence[Mapping[str, Any]] | None = None,
    consumers: Sequence[Mapping[str, Any]] | None = None,
    versions: Sequence[str] | None = None,
    instance_count: int | None = None,
) -> dict[str, Any]:
    """A ``ServiceDetail`` (empty parts omitted, as omitempty)."""
    out: dict[str, Any] = {"microService": dict(service)}
    for key, items in (("instances", instances), ("schemaInfos", schemas), ("providers", providers), ("consumers", consumers)):
        if items:
            out[key] = [dict(i) for i in items]
    if tags:
        out["tags"] = dict(tags)
    if versions:
        out["microServiceVersions"] = list(versions)
    if instance_count is not None:
        out["statics"] = {"instances": _non_zero(count=instance_count)}
    return out


def graph(services: Sequence[Mapping[str, Any]], providers: Mapping[str, Sequence[Mapping[str, Any]]], with_shared: bool) -> dict[str, Any]:
    """``Draw``: a node per service, a line from each consumer to each of its providers (not to
    itself, nor to a global service without ``withShared``). Node and line fields as graph.go
    (``type``/``color``/``position``/``descriptor`` are always empty there)."""
    if not services:
        return {"nodes": None, "lines": None, "circles": None}
    nodes, lines = [], []
    for s in services:
        node = _node(s["serviceId"], s.get("serviceName") or "", s.get("appId") or "", s.get("version") or "")
        nodes.append(node)
        for p in providers.get(s["serviceId"], ()):
            if p["serviceId"] == s["serviceId"] or not visible(p, with_shared):
                continue
            to = _node(p["serviceId"], p.get("serviceName") or "", "", "")
            lines.append({"from": node, "to": to, "type": "", "color": "", "descriptor": ""})
    return {"nodes": nodes, "lines": lines or None, "circles": None}


def _node(sid: str, name: str, app_id: str, version: str) -> dict[str, str]:
    return {"id": sid, "name": name, "appId": app_id, "version": version, "type": "", "color": "", "position": ""}


__all__ = [
    "DEFAULT_OPTIONS",
    "detail",
    "filter_services",
    "graph",
    "overview_instance",
    "parse_options",
    "parse_properties",
    "service_overview",
    "statistics",
    "visible",
]
