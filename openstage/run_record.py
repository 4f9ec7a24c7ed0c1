"""<data dir>/run.json: what a running `openstage up` started, kept current while it runs and
removed when it stops cleanly. A run that died leaves it behind, and the next start reads it to
find that run's processes: each one by pid *and* start time within the same boot, so a pid the
system has since given to another program is never taken for ours."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openstage.linux_processes import ProcessIdentity

RUN_FILE = "run.json"

# Dataclasses read by hand, not pydantic models: the supervisor process imports no pydantic (its
# idle memory, openstage/up.py); only openstage up writes this file.


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value


@dataclass(frozen=True)
class RecordedProcess:
    pid: int
    start_ticks: int

    @classmethod
    def of(cls, identity: ProcessIdentity) -> RecordedProcess:
        return cls(pid=identity.pid, start_ticks=identity.start_ticks)

    @classmethod
    def from_json(cls, data: dict) -> RecordedProcess:
        return cls(pid=_int(data["pid"]), start_ticks=_int(data["start_ticks"]))

    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(self.pid, self.start_ticks)


@dataclass
class RunRecord:
    data_dir: str
    boot_id: str
    supervisor: RecordedProcess
    # name ("nats-server", "store", "worker-jobs", "edge", "lifeline") -> the latest process of
    # that name; each ran in a session (and process group) of its own.
    children: dict[str, RecordedProcess] = field(default_factory=dict)

    def write(self, data_dir: Path) -> None:
        """Atomically: a reader sees the previous record or this one, never half of one."""
        path = data_dir / RUN_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, path)

    @classmethod
    def read(cls, data_dir: Path) -> RunRecord | None:
        """The record a previous run left, None when there is none or it cannot be read."""
        try:
            data = json.loads((data_dir / RUN_FILE).read_text())
            return cls(
                data_dir=_str(data["data_dir"]),
                boot_id=_str(data["boot_id"]),
                supervisor=RecordedProcess.from_json(data["supervisor"]),
                children={_str(name): RecordedProcess.from_json(p) for name, p in data.get("children", {}).items()},
            )
        except (OSError, ValueError, LookupError, TypeError, AttributeError):
            return None

    @staticmethod
    def remove(data_dir: Path) -> None:
        (data_dir / RUN_FILE).unlink(missing_ok=True)
