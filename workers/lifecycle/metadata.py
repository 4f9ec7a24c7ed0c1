"""Handlers of openstage.cmd.<project>.lifecycle.metadata.*: the static catalogue
(services/domain/lifecycle/catalogue.py), the same for every project; they need no dependency."""

from __future__ import annotations

from faststream import Path

from services.contracts.envelope import Empty, Reply
from services.contracts.metadata import ListFlavorsResponse, ListRuntimesResponse, ListTemplatesResponse
from services.contracts.subjects import LIFECYCLE, Lifecycle
from services.domain.lifecycle import catalogue
from workers.runtime import command_router, on_command

router = command_router()


@on_command(router, LIFECYCLE, Lifecycle.METADATA_RUNTIMES, "Runtimes a component can use", reply=ListRuntimesResponse)
async def list_runtimes(body: Empty, project: str = Path()) -> Reply:
    return Reply.ok(ListRuntimesResponse(runtimes=list(catalogue.RUNTIMES)))


@on_command(router, LIFECYCLE, Lifecycle.METADATA_FLAVORS, "Resource flavors an instance can use", reply=ListFlavorsResponse)
async def list_flavors(body: Empty, project: str = Path()) -> Reply:
    return Reply.ok(ListFlavorsResponse(flavors=list(catalogue.FLAVORS)))


@on_command(router, LIFECYCLE, Lifecycle.METADATA_TEMPLATES, "Application templates", reply=ListTemplatesResponse)
async def list_templates(body: Empty, project: str = Path()) -> Reply:
    return Reply.ok(ListTemplatesResponse(templates=list(catalogue.TEMPLATES)))
