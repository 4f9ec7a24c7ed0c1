"""Handlers of openstage.cmd.<project>.lifecycle.metadata.* (the catalogue is static)."""
from __future__ import annotations

from faststream import Path

from services.contracts.envelope import Empty, Reply
from services.contracts.metadata import ListFlavorsResponse, ListRuntimesResponse, ListTemplatesResponse
from services.domain.lifecycle import catalogue
from services.contracts.subjects import LIFECYCLE, Lifecycle
from workers.runtime import command_router, on_command

router = command_router()

_RUNTIMES = Reply.ok(ListRuntimesResponse(runtimes=list(catalogue.RUNTIMES)))
_FLAVORS = Reply.ok(ListFlavorsResponse(flavors=list(catalogue.FLAVORS)))
_TEMPLATES = Reply.ok(ListTemplatesResponse(templates=list(catalogue.TEMPLATES)))


@on_command(router, LIFECYCLE, Lifecycle.METADATA_RUNTIMES, "Runtimes a component can use")
async def list_runtimes(body: Empty, project: str = Path()) -> Reply:
    return _RUNTIMES


@on_command(router, LIFECYCLE, Lifecycle.METADATA_FLAVORS, "Resource flavors an instance can use")
async def list_flavors(body: Empty, project: str = Path()) -> Reply:
    return _FLAVORS


@on_command(router, LIFECYCLE, Lifecycle.METADATA_TEMPLATES, "Application templates")
async def list_templates(body: Empty, project: str = Path()) -> Reply:
    return _TEMPLATES
