"""Outbox.transaction re-runs a transaction MongoDB labels TransientTransactionError, and only that."""

import asyncio

import pytest
from pymongo.errors import OperationFailure

from services.adapters.clock import Clock
from services.adapters.store.outbox import TRANSIENT_RETRIES, Outbox


def outbox_failing(times: int, label: str | None):
    box = Outbox(db=None, js=None, clock=Clock())
    calls = {"n": 0}

    async def commit(write):
        calls["n"] += 1
        if calls["n"] <= times:
            raise OperationFailure("conflict", 112, {"errorLabels": [label] if label else []})
        return await write(None)

    box._commit = commit
    return box, calls


async def write(session):
    return "done", []


def test_transient_conflict_is_retried():
    box, calls = outbox_failing(2, "TransientTransactionError")
    assert asyncio.run(box.transaction(write)) == "done"
    assert calls["n"] == 3


def test_gives_up_after_the_retries():
    box, calls = outbox_failing(TRANSIENT_RETRIES + 1, "TransientTransactionError")
    with pytest.raises(OperationFailure):
        asyncio.run(box.transaction(write))
    assert calls["n"] == TRANSIENT_RETRIES + 1


def test_other_errors_are_not_retried():
    box, calls = outbox_failing(1, None)
    with pytest.raises(OperationFailure):
        asyncio.run(box.transaction(write))
    assert calls["n"] == 1
