"""The jobs worker's documents in memory (workers/jobs/documents.py): what is kept, what a commit
noticed by another process drops, and that a load overtaken by a newer commit is not kept. The
store here is a dictionary whose reads can be held open (the unit under test is the bookkeeping;
tests/integration/test_jobs_documents_processes.py runs it against real processes)."""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace

from services.domain.jobs import fold
from tests.support.job_events import job_run
from workers.jobs.documents import JobDocuments
from workers.jobs.fast_path import answer


class _Collection:
    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}
        self.reads = 0
        self.gate: asyncio.Event | None = None  # set: reads wait until it opens
        self.reading = asyncio.Event()

    async def find_one(self, query: dict) -> dict | None:
        self.reads += 1
        doc = self.docs.get(query["_id"])
        self.reading.set()
        if self.gate is not None:
            await self.gate.wait()
        return doc


class _Db:
    def __init__(self) -> None:
        self.jobs = _Collection()

    def __getitem__(self, name: str) -> _Collection:
        assert name == "jobs"
        return self.jobs


def _doc(job_id: str, rev: int, status: str = "RUNNING") -> dict:
    return {"_id": job_id, "job_id": job_id, "project_id": "p1", "status": status, "rev": rev, "tasks": {}, "event_ids": []}


def _documents(capacity: int = 100) -> tuple[JobDocuments, _Collection]:
    db = _Db()
    return JobDocuments(db, capacity=capacity), db.jobs  # type: ignore[arg-type]


async def test_a_loaded_document_is_kept_until_a_newer_commit_is_noticed():
    documents, store = _documents()
    store.docs["J1"] = _doc("J1", 1)
    assert (await documents.get("J1"))["rev"] == 1
    assert (await documents.get("J1"))["rev"] == 1 and store.reads == 1  # the second read came from memory

    documents.on_notice("J1", 1)  # (its own rev, or an older one: nothing new)
    documents.on_notice("J1", 0)
    assert documents.cached("J1") is not None

    store.docs["J1"] = _doc("J1", 2, "SUCCEEDED")  # another process's tracker commits rev 2...
    documents.on_notice("J1", 2)  # ...and notices it
    assert documents.cached("J1") is None
    assert (await documents.get("J1"))["status"] == "SUCCEEDED" and store.reads == 2


async def test_a_load_overtaken_by_a_newer_commit_is_served_but_not_kept():
    documents, store = _documents()
    store.docs["J1"] = _doc("J1", 1)
    store.gate = asyncio.Event()
    load = asyncio.create_task(documents.get("J1"))
    await store.reading.wait()  # the store answered rev 1; meanwhile rev 2 is committed elsewhere
    documents.on_notice("J1", 2)
    store.gate.set()
    assert (await load)["rev"] == 1  # (as fresh as the store was when read)
    assert documents.cached("J1") is None  # but not kept: the next read goes to the store
    store.docs["J1"] = _doc("J1", 2)
    assert (await documents.get("J1"))["rev"] == 2 and documents.cached("J1") is not None


async def test_a_load_that_already_read_the_noticed_commit_is_kept():
    documents, store = _documents()
    store.docs["J1"] = _doc("J1", 3)
    store.gate = asyncio.Event()
    load = asyncio.create_task(documents.get("J1"))
    await store.reading.wait()
    documents.on_notice("J1", 3)
    store.gate.set()
    assert (await load)["rev"] == 3
    assert documents.cached("J1")["rev"] == 3


async def test_losing_the_notices_drops_everything_and_the_loads_in_flight():
    documents, store = _documents()
    store.docs["J1"], store.docs["J2"] = _doc("J1", 1), _doc("J2", 1)
    await documents.get("J1")
    store.gate, store.reading = asyncio.Event(), asyncio.Event()
    load = asyncio.create_task(documents.get("J2"))
    await store.reading.wait()
    documents.drop_all()  # the connection dropped: notices may have been missed
    store.gate.set()
    await load
    assert documents.cached("J1") is None and documents.cached("J2") is None


async def test_own_commits_are_kept_newest_first_and_wake_a_waiting_reader():
    documents, _ = _documents()
    waiting = asyncio.create_task(documents.changed("J1", timeout=5))
    await asyncio.sleep(0)
    documents.committed(_doc("J1", 2, "SUCCEEDED"))
    await asyncio.wait_for(waiting, 1)  # woken at once, not after the timeout
    documents.committed(_doc("J1", 1))  # an older document (a slower fold) never replaces a newer one
    assert documents.cached("J1")["status"] == "SUCCEEDED"


async def test_answers_are_made_once_per_page_and_rev_and_the_least_recent_go_first():
    documents, _ = _documents(capacity=2)
    made = []

    def make(doc: dict) -> dict:
        made.append(doc["rev"])
        return {"rev": doc["rev"]}

    documents.committed(_doc("J1", 1))
    assert documents.answer("J1", (None, 0, False), make) == b'{"rev":1}'
    assert documents.answer("J1", (None, 0, False), make) == b'{"rev":1}'
    assert documents.answer("J1", (10, 0, False), make) == b'{"rev":1}'
    assert made == [1, 1]  # one per page
    documents.committed(_doc("J1", 2))
    assert documents.answer("J1", (None, 0, False), make) == b'{"rev":2}'  # a new rev: made anew

    documents.committed(_doc("J2", 1))
    documents.cached("J1")  # J1 used most recently
    documents.committed(_doc("J3", 1))
    assert documents.cached("J2") is None and documents.cached("J1") is not None and documents.cached("J3") is not None
    assert documents.answer("J2", (None, 0, False), make) is None  # not in memory: the handler reads the store


def answer_from_memory(deps, project: str, payload: bytes):
    """What the fast path does at once: (the reply's bytes, or None; what answers later, or None)."""
    return answer(deps)(project, payload)


async def test_the_fast_path_answers_from_memory_as_the_handler_does():
    documents, _ = _documents()
    deps = SimpleNamespace(documents=documents)
    job_id = f"JOB{uuid.uuid4()}"
    doc = fold.fold(job_run("p1", job_id, fail_at=2))
    assert doc is not None
    documents.committed({**doc, "rev": 1})

    out, _ = answer_from_memory(deps, "p1", json.dumps({"job_id": job_id}).encode())  # type: ignore[arg-type]
    assert out is not None and json.loads(out) == {"status": 200, "result": fold.wire(fold.detail(doc))}
    page, _ = answer_from_memory(deps, "p1", json.dumps({"job_id": job_id, "limit": 2, "offset": 1, "desc": "true"}).encode())  # type: ignore[arg-type]
    assert page is not None and json.loads(page)["result"] == fold.wire(fold.detail(doc, limit=2, offset=1, desc=True))

    # another project's caller, or another instance: memory does not answer (the handler says 404)
    assert answer_from_memory(deps, "p2", json.dumps({"job_id": job_id}).encode())[0] is None  # type: ignore[arg-type]
    assert answer_from_memory(deps, "p1", json.dumps({"job_id": job_id, "instance_id": "other"}).encode())[0] is None  # type: ignore[arg-type]
    # a command its model refuses is answered as the command subscriber refuses it
    refused, later = answer_from_memory(deps, "p1", b'{"job_id": "no such/id"}')  # type: ignore[arg-type]
    assert later is None and refused is not None and json.loads(refused)["status"] == 400
