"""The job tracker's fold: job and task events -> one job document. Pure: no I/O.

Events come from a JetStream consumer, so one may arrive twice (redelivery) or after a later one
(several tracker processes, retries). The fold is therefore order- and duplicate-insensitive:

- every event of a job carries ``seq``, a counter the job runner increments for each event it
  persists (the job's own order, fenced by its lease, so it is monotonic across runner restarts);
- a task's state (status, messages) is a last-writer-wins register keyed by ``(seq, status rank,
  messages)``; the job's execution status is one too; a job event may carry the final state of
  tasks it closes (skipped/cancelled ones) with its own seq;
- descriptive fields (names, types, creator, instance) are the same in every event that has them
  and only fill what is missing; ``created_at`` keeps the earliest, ``last_health_check`` the latest;
- an event id already applied is a no-op (``event_ids``), which the registers would give anyway.

So folding any permutation of any multiset of a job's events gives the same document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from services.contracts.jobs import ExecutionStatus, JobDetail, JobEventData, JobInfo, TaskEventData, TaskInfo

JOB_EVENT_PREFIX = "io.openstage.lifecycle.job."
TASK_EVENT_PREFIX = "io.openstage.lifecycle.task."

E = ExecutionStatus
# a job document of the tracker's read model, and a CloudEvent as decoded JSON
Doc = dict[str, Any]
Event = dict[str, Any]
# the order of a task's (or the job's) statuses at one seq: a later status wins a tie
_RANK: dict[str, int] = {
    E.SUBMITTED: 0,
    E.SCHEDULED: 1,
    E.RUNNING: 2,
    E.ROLLBACKING: 3,
    E.SUCCEEDED: 4,
    E.SKIPPED: 4,
    E.ROLLBACKED: 4,
    E.PARTIALLY_FAILED: 5,
    E.FAILED: 5,
    E.CANCELLED: 5,
}
_JOB_META = ("job_type", "job_name", "job_desc", "created_by", "order_id", "instance_id", "project_id")
_TASK_META = ("task_name", "task_type", "owner_id")


def is_job_event(event: Event) -> bool:
    t = str(event.get("type", ""))
    return t.startswith(JOB_EVENT_PREFIX) or t.startswith(TASK_EVENT_PREFIX)


def event_data(event: Event) -> JobEventData | TaskEventData | None:
    """The typed data of a job or task event (its contract); None for any other event, or one
    whose data breaks the contract (nothing to fold)."""
    t = event.get("type", "")
    model: type[JobEventData] | type[TaskEventData]
    if t.startswith(JOB_EVENT_PREFIX):
        model = JobEventData
    elif t.startswith(TASK_EVENT_PREFIX):
        model = TaskEventData
    else:
        return None
    try:
        return model.model_validate(event.get("data") or {})
    except ValidationError:
        return None


def empty(job_id: str) -> Doc:
    return {"_id": job_id, "job_id": job_id, "status": None, "status_key": None, "tasks": {}, "event_ids": []}


def _key(seq: int, status: str | None, messages: str | None) -> list[Any]:
    return [int(seq), _RANK.get(status or "", -1), messages or ""]


def _fill(target: dict[str, Any], source: dict[str, Any], fields: Iterable[str]) -> None:
    for f in fields:
        if target.get(f) is None and source.get(f) is not None:
            target[f] = source[f]


def _earliest(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


def _apply_task(state: Doc, task: dict[str, Any], seq: int, time: str | None) -> None:
    index = int(task["task_index"])
    current = state["tasks"].setdefault(str(index), {"task_index": index, "key": None})
    _fill(current, task, _TASK_META)
    current["created_at"] = _earliest(current.get("created_at"), task.get("created_at"))
    if task.get("task_status") is not None:
        current["last_health_check"] = _latest(current.get("last_health_check"), time)
        key = _key(task.get("seq", seq), task["task_status"], task.get("messages"))
        if current["key"] is None or key > current["key"]:
            current["key"] = key
            current["task_status"] = task["task_status"]
            current["messages"] = task.get("messages")


def apply(state: Doc | None, event: Event) -> Doc:
    """The job document after ``event`` (a CloudEvent as a dict). ``state`` is not modified."""
    data = event.get("data") or {}
    job_id = data["job_id"]
    new = copy.deepcopy(state) if state else empty(job_id)
    event_id = event.get("id")
    if event_id and event_id in new["event_ids"]:
        return new
    seq = int(data.get("seq", 0))
    time = data.get("time")
    _fill(new, data, _JOB_META)
    new["created_at"] = _earliest(new.get("created_at"), data.get("created_at"))
    new["updated_at"] = _latest(new.get("updated_at"), time)
    etype = event.get("type", "")
    if etype.startswith(JOB_EVENT_PREFIX):
        status = data.get("execution_status")
        if status is not None:
            key = _key(seq, status, data.get("message"))
            if new["status_key"] is None or key > new["status_key"]:
                new["status_key"] = key
                new["status"] = status
                new["message"] = data.get("message")
        for task in data.get("tasks") or []:
            _apply_task(new, task, seq, time if task.get("task_status") else None)
    elif etype.startswith(TASK_EVENT_PREFIX):
        _apply_task(new, data, seq, time)
    if event_id:
        new["event_ids"] = sorted({*new["event_ids"], event_id})
    return new


def fold(events: Iterable[Event], state: Doc | None = None) -> Doc | None:
    for event in events:
        state = apply(state, event)
    return state


def comparable(state: Doc) -> Doc:
    """The document without bookkeeping that depends on storage (for equality checks)."""
    return {k: v for k, v in state.items() if k not in ("rev", "_id")}


def detail(state: Doc, limit: int | None = None, offset: int = 0, desc: bool = False) -> JobDetail:
    """The ShowJobDetailResponse of a folded job; tasks ordered by index and paged."""
    tasks = sorted(state["tasks"].values(), key=lambda t: t["task_index"], reverse=desc)
    page = tasks[offset:] if limit is None else tasks[offset : offset + limit]
    job_id = state["job_id"]
    return JobDetail(
        task_count=len(tasks),
        job=JobInfo(
            created_by=state.get("created_by"),
            execution_status=state.get("status") or E.SUBMITTED,
            job_desc=state.get("job_desc"),
            job_id=job_id,
            job_name=state.get("job_name"),
            job_type=state.get("job_type"),
            order_id=state.get("order_id"),
            project_id=state.get("project_id"),
            service_instance_id=state.get("instance_id"),
        ),
        tasks=[
            TaskInfo(
                created_at=t.get("created_at"),
                last_health_check=t.get("last_health_check"),
                messages=t.get("messages") or "",
                owner_id=t.get("owner_id") or state.get("created_by"),
                task_id=f"{job_id}-{t['task_index']}",
                task_index=t["task_index"],
                task_name=t.get("task_name") or f"task {t['task_index']}",
                task_status=t.get("task_status") or E.SUBMITTED,
                task_type=t.get("task_type"),
            )
            for t in page
        ],
    )


def wire(detail_: JobDetail) -> dict[str, Any]:
    """The response body with the SDK's attribute_map names (upper-case job and task fields)."""
    return detail_.model_dump(mode="json", by_alias=True)
