"""A realistic run of job and task events (as the job runner emits them), for tracker tests."""

from __future__ import annotations

import json
import uuid

from services.contracts import subjects

TASKS = [
    ("Prepare deployment", "resource"),
    ("Pull artifacts", "resource"),
    ("Create workload", "kube"),
    ("Wait for replicas to be healthy", "kube"),
]


def _event(project: str, entity: str, verb: str, data: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "source": "/openstage/lifecycle",
        "type": subjects.event_type("lifecycle", entity, verb),
        "subject": f"/v2/{project}/cas/jobs/{data['job_id']}",
        "time": "2026-01-01T00:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
        "openstageproject": project,
        "openstagesubject": subjects.event(project, "lifecycle", entity, verb),
    }


def job_run(project: str, job_id: str, fail_at: int | None = None) -> list[dict]:
    base = {
        "job_id": job_id,
        "project_id": project,
        "instance_id": "inst-1",
        "job_type": "PROVISION",
        "job_name": "deploy-web",
        "job_desc": "Deploy instance web",
        "created_by": "AK",
        "created_at": "2026-01-01T00:00:00.000Z",
    }
    seq = 0
    clock = [0]

    def t():
        clock[0] += 1
        return f"2026-01-01T00:00:{clock[0]:02d}.000Z"

    def task(i, status, msg, s):
        name, type_ = TASKS[i]
        return {
            "task_index": i,
            "task_name": name,
            "task_type": type_,
            "task_status": status,
            "messages": msg,
            "seq": s,
            "created_at": base["created_at"],
            "owner_id": "AK",
        }

    events = [
        _event(
            project,
            "job",
            "submitted",
            {
                **base,
                "execution_status": "SUBMITTED",
                "seq": 0,
                "time": t(),
                "tasks": [task(i, "SUBMITTED", "", 0) for i in range(len(TASKS))],
            },
        )
    ]
    seq += 1
    events.append(_event(project, "job", "running", {**base, "execution_status": "RUNNING", "seq": seq, "time": t()}))
    for i in range(len(TASKS)):
        seq += 1
        events.append(_event(project, "task", "running", {**base, **task(i, "RUNNING", "started", seq), "time": t()}))
        if i == 3:
            for n in (1, 2):
                seq += 1
                events.append(
                    _event(project, "task", "progress", {**base, **task(i, "RUNNING", f"{n}/2 replicas available", seq), "time": t()})
                )
        if fail_at == i:
            seq += 1
            closing = [task(j, "SKIPPED", "skipped: an earlier task failed", seq) for j in range(i + 1, len(TASKS))]
            events.append(_event(project, "task", "failed", {**base, **task(i, "FAILED", "boom", seq), "time": t()}))
            events.append(
                _event(
                    project,
                    "job",
                    "failed",
                    {**base, "execution_status": "FAILED", "seq": seq, "time": t(), "tasks": closing, "message": "boom"},
                )
            )
            return events
        seq += 1
        events.append(_event(project, "task", "succeeded", {**base, **task(i, "SUCCEEDED", f"task {i} done", seq), "time": t()}))
    seq += 1
    events.append(_event(project, "job", "succeeded", {**base, "execution_status": "SUCCEEDED", "seq": seq, "time": t()}))
    return events


class Delivered:
    """A message of the tracker's consumer, remembering how it was settled."""

    def __init__(self, event: dict | bytes) -> None:
        self.data = event if isinstance(event, bytes) else json.dumps(event).encode()
        self.settled: str | None = None

    async def ack(self) -> None:
        self.settled = "ack"

    async def nak(self, delay: float | None = None) -> None:
        self.settled = "nak"

    async def term(self) -> None:
        self.settled = "term"
