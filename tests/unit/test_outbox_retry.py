"""Outbox.transaction re-runs a transaction MongoDB labels TransientTransactionError, and only that."""

import asyncio

import pytest
from pymongo.errors import OperationFailure

from services.adapters.clock import Clock
from services.adapters.store.outbox import TRANSIENT_RETRIES, Outbox


def outbox_failing(times: int, label: str | None):
    box = Outbox(db=None, js=None, clock=Clock())
    calls = {"n": 0}

    async def commit(writes):  # one group commit: every write of the group, then (results, events, items to publish)
        calls["n"] += 1
        if calls["n"] <= times:
            raise OperationFailure("conflict", 112, {"errorLabels": [label] if label else []})
        done = [await w(None) for w in writes]
        return [result for result, _ in done], [list(events) for _, events in done], []

    box._commit_group = commit
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


def test_concurrent_transactions_share_one_commit_and_a_refusal_answers_only_for_itself():
    box = Outbox(db=None, js=None, clock=Clock())
    groups: list[int] = []

    async def commit(writes):
        groups.append(len(writes))
        done = [await w(None) for w in writes]
        return [result for result, _ in done], [list(events) for _, events in done], []

    box._commit_group = commit

    def answering(value):
        async def w(session):
            if value == "refused":
                raise ValueError(value)
            return value, []

        return w

    async def go():
        together = await asyncio.gather(*(box.transaction(answering(v)) for v in ("a", "b", "c")))
        mixed = await asyncio.gather(*(box.transaction(answering(v)) for v in ("d", "refused", "e")), return_exceptions=True)
        return together, mixed

    together, mixed = asyncio.run(go())
    assert together == ["a", "b", "c"]
    assert mixed[0] == "d" and isinstance(mixed[1], ValueError) and mixed[2] == "e"
    # one commit for the first three; the second group failed as a whole, then each ran alone
    assert groups == [3, 3, 1, 1, 1]
