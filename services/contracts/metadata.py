"""Metadata API bodies: GET /v2/{project_id}/cas/metadata/{runtimes,flavors,templates}."""

from __future__ import annotations

from pydantic import BaseModel


class RuntimeTypeView(BaseModel):
    type_name: str
    display_name: str
    container_default_port: int
    type_desc: str


class ListRuntimesResponse(BaseModel):
    runtimes: list[RuntimeTypeView]


class FlavorView(BaseModel):
    flavor_id: str
    storage_size: str
    num_cpu: str
    num_cpu_init: str
    memory_size: str
    memory_size_init: str
    label: str
    custom: bool


class ListFlavorsResponse(BaseModel):
    flavors: list[FlavorView]


class TemplateView(BaseModel):
    template_name: str
    template_desc: str
    source_type: str
    source_repo_url: str
    runtime: str


class ListTemplatesResponse(BaseModel):
    templates: list[TemplateView]
