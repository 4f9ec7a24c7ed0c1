"""What the agent was asked to run, kept on disk so a restarted agent brings it back.

Every ApplyReplicas the agent accepted is written to ``<agent dir>/state/<project>/<instance>.json``
(mode 0600: the environment may hold an application's secrets) with whether the instance is
stopped; ``remove`` deletes it. At start the agent reads them all and applies again the ones not
stopped. That is how `openstage up` stopped and started, or an agent killed with SIGKILL and
started again, brings every replica back as it was."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from services.contracts.agent import ApplyReplicas

log = logging.getLogger("openstage.agent")


class DesiredInstance(BaseModel):
    apply: ApplyReplicas
    stopped: bool = False


class DesiredState:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, project_id: str, instance_id: str) -> Path:
        return self.root / project_id / f"{instance_id}.json"

    def save(self, desired: DesiredInstance) -> None:
        path = self.path(desired.apply.project_id, desired.apply.instance_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(desired.model_dump_json())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def load(self, project_id: str, instance_id: str) -> DesiredInstance | None:
        try:
            return DesiredInstance.model_validate_json(self.path(project_id, instance_id).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            log.warning("ignoring unreadable desired state of %s/%s: %s", project_id, instance_id, exc)
            return None

    def delete(self, project_id: str, instance_id: str) -> None:
        self.path(project_id, instance_id).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.path(project_id, instance_id).parent.rmdir()  # only when empty

    def all(self) -> list[DesiredInstance]:
        found = []
        for path in sorted(self.root.glob("*/*.json")):
            loaded = self.load(path.parent.name, path.stem)
            if loaded is not None:
                found.append(loaded)
        return found
