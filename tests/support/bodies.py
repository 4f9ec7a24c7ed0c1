"""Request bodies the v2 tests share: a valid environment (container, one CCE cluster) and a
valid component (a web app from an artifact), to copy and change with ``{**BODY, ...}``."""

from __future__ import annotations

ENVIRONMENT_BODY = {"name": "dev", "deploy_mode": "container", "vpc_id": "vpc-1", "base_resources": [{"id": "cce-1", "type": "cce"}]}
COMPONENT_BODY = {
    "name": "comp",
    "runtime": "Docker",
    "category": "Webapp",
    "sub_category": "Web",
    "source": {"kind": "artifact", "spec": {"storage": "swr", "type": "package", "url": "swr.example.com/a/b:1", "auth": "iam"}},
}
