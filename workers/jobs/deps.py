"""What the jobs worker's handlers use, built once per process by ``workers/jobs/app.py`` (its
composition root) and handed to each handler through FastStream's context
(``deps: JobsDeps = Context()``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.jobs.tracker import Tracker
from workers.runtime import WorkerDeps


@dataclass
class JobsDeps(WorkerDeps):
    """The shared parts plus the job tracker (started once the subscribers are live)."""

    tracker: Tracker | None = None

    def background(self) -> list[Any]:
        return [self.tracker] if self.tracker is not None else []
