"""<data dir>/run.json: what a running `openstage up` started, kept current while it runs and
removed when it stops cleanly. A run that died leaves it behind, and the next start reads it to
find that run's processes: each one by pid *and* start time within the same boot, so a pid the
system has since given to another program is never taken for ours."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from openstage.linux_processes import ProcessIdentity

RUN_FILE = "run.json"


class RecordedProcess(BaseModel):
    pid: int
    start_ticks: int

    @classmethod
    def of(cls, identity: ProcessIdentity) -> RecordedProcess:
        return cls(pid=identity.pid, start_ticks=identity.start_ticks)

    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(self.pid, self.start_ticks)


class RunRecord(BaseModel):
    data_dir: str
    boot_id: str
    supervisor: RecordedProcess
    # name ("nats-server", "store", "worker-jobs", "edge", "lifeline") -> the latest process of
    # that name; each ran in a session (and process group) of its own.
    children: dict[str, RecordedProcess] = {}

    def write(self, data_dir: Path) -> None:
        """Atomically: a reader sees the previous record or this one, never half of one."""
        path = data_dir / RUN_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.model_dump_json())
        os.replace(tmp, path)

    @classmethod
    def read(cls, data_dir: Path) -> RunRecord | None:
        """The record a previous run left, None when there is none or it cannot be read."""
        try:
            return cls.model_validate(json.loads((data_dir / RUN_FILE).read_text()))
        except (OSError, ValueError, ValidationError):
            return None

    @staticmethod
    def remove(data_dir: Path) -> None:
        (data_dir / RUN_FILE).unlink(missing_ok=True)
