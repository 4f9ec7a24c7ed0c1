"""nx-27017 work-around (services/adapters/store/nx_sessions.py) when one process runs several
domain workers: every database's record gets the process's transaction session ids, so whichever
worker of those databases starts first after a crash ends the dead process's transactions."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from bson.binary import UUID_SUBTYPE, Binary

from services.adapters.store import nx_sessions


@pytest.fixture
def records():
    yield nx_sessions._records
    nx_sessions._records.clear()


def session() -> SimpleNamespace:
    return SimpleNamespace(session_id={"id": Binary(uuid.uuid4().bytes, UUID_SUBTYPE)})


def test_each_database_of_the_process_records_every_session(tmp_path, records):
    lifecycle = nx_sessions.enable(tmp_path, "openstage_lifecycle")
    config = nx_sessions.enable(tmp_path, "openstage_config")
    first, second = session(), session()
    nx_sessions.note(first)
    nx_sessions.note(second)
    nx_sessions.note(first)  # known: not written again
    expected = [bytes(s.session_id["id"]).hex() for s in (first, second)]
    assert lifecycle.path.read_text().splitlines() == expected
    assert config.path.read_text().splitlines() == expected


def test_one_process_one_database_as_before(tmp_path, records):
    jobs = nx_sessions.enable(tmp_path, "openstage_jobs")
    again = nx_sessions.enable(tmp_path, "openstage_jobs")  # a worker's deps rebuilt: one record still
    nx_sessions.note(session())
    assert len(records) == 1 and again.path == jobs.path and len(jobs.path.read_text().splitlines()) == 1
