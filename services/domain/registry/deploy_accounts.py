"""Registry accounts of deployments: every replica the process driver starts gets a Service-Center
account confined to its instance's project (``SERVICECOMB_CREDENTIALS_ACCOUNT_NAME`` and
``..._PASSWORD``), usable with ``POST /v4/token`` like any configured account.

Nothing is stored: the account ``deploy-<project>`` has the password HMAC-SHA256(token secret,
"deploy" NUL project), so the edge (which verifies logins) and the lifecycle worker (which hands
the password to replicas) derive the same one from the secret they share
(``OPENSTAGE_REGISTRY_TOKEN_SECRET`` or ``<data dir>/registry-token.key``). Changing the secret
changes every deployment password; an account configured with the same name takes precedence."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

DEPLOY_ACCOUNT_PREFIX = "deploy-"
_PROJECT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def deploy_account_name(project_id: str) -> str:
    return f"{DEPLOY_ACCOUNT_PREFIX}{project_id}"


def deploy_account_password(secret: bytes, project_id: str) -> str:
    mac = hmac.new(secret, b"deploy\0" + project_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def deploy_account_project(name: str) -> str | None:
    """The project of a deployment account's name, or None when ``name`` is not one."""
    if not name.startswith(DEPLOY_ACCOUNT_PREFIX):
        return None
    project = name[len(DEPLOY_ACCOUNT_PREFIX) :]
    return project if _PROJECT.match(project) else None


def deploy_credentials(secret: bytes, project_id: str) -> tuple[str, str]:
    """(account name, password) of the project's deployment account."""
    return deploy_account_name(project_id), deploy_account_password(secret, project_id)
