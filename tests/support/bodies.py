"""Request bodies the v2 tests share: a valid environment (container, one CCE cluster), a valid
component (a web app from an artifact) and a valid component instance, to copy and change with
``{**BODY, ...}``."""

from __future__ import annotations

ENVIRONMENT_BODY = {"name": "dev", "deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}
COMPONENT_BODY = {
    "name": "comp",
    "runtime": "Docker",
    "category": "Webapp",
    "sub_category": "Web",
    "source": {"kind": "artifact", "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/a/b:1", "auth": "iam"}},
}
# a component instance: its environment, one replica on one CCE cluster, the component "web"'s image
INSTANCE_BODY = {
    "name": "web-1",
    "environment_id": "env-1",
    "flavor_id": "MICRO-5G:0.5C:1G",
    "replica": 1,
    "version": "1.0.0",
    "artifacts": {"web": {"storage": "swr", "type": "image", "url": "swr.example.com/a/b:1", "auth": "iam"}},
    "refer_resources": [{"id": "cce-1", "type": "cce", "parameters": {"namespace": "default"}}],
}
