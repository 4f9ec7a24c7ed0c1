"""The key that signs registry (RBAC) tokens and derives deployment accounts
(services/domain/registry/deploy_accounts.py): ``OPENSTAGE_REGISTRY_TOKEN_SECRET``, else
``<data dir>/registry-token.key`` (made once, mode 0600). Every edge process and the lifecycle
worker of a data directory read the same one."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from services.settings import Settings

log = logging.getLogger("openstage.registry.secret")


def token_secret(settings: Settings) -> bytes:
    if settings.registry_token_secret:
        return settings.registry_token_secret.encode("utf-8")
    path = settings.data_dir / "registry-token.key"
    try:
        if not path.exists():
            _create_secret_file(path)
        secret = path.read_text().strip()
    except OSError as exc:
        log.warning(
            "registry auth rbac: cannot keep the token secret in %s (%s): this process signs with its own, "
            "so its tokens are valid only here and until it stops; set OPENSTAGE_REGISTRY_TOKEN_SECRET",
            path,
            exc.strerror or exc,
        )
        return secrets.token_bytes(32)
    if len(secret) < 16:
        raise ValueError(f"{path}: the registry token secret is too short; delete the file to get a new one")
    return secret.encode("utf-8")


def _create_secret_file(path: Path) -> None:
    """Write the secret under a unique name, then link it into place: a process that loses the
    race reads the winner's whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
