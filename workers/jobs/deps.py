"""What the jobs worker's handlers use, built once per process by ``workers/jobs/app.py`` (its
composition root) and handed to each handler through FastStream's context
(``deps: JobsDeps = Context()``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workers.jobs.documents import JobDocuments
from workers.runtime import WorkerDeps

if TYPE_CHECKING:
    from workers.fast_path import PlainSubjects
    from workers.jobs.tracker import Tracker


@dataclass
class JobsDeps(WorkerDeps):
    """The shared parts plus the job documents kept in memory, the tracker (started once the
    subscribers are live) and the fast path of ``jobs.job.get``."""

    documents: JobDocuments = field(default=None)  # type: ignore[assignment]  (set by compose)
    tracker: Tracker | None = None
    fast_path: PlainSubjects | None = None

    def background(self) -> list[Any]:
        # stopped last first: the fast path and the tracker before the documents' connection
        return [p for p in (self.documents, self.tracker, self.fast_path) if p is not None]
