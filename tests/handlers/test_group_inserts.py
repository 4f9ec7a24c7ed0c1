"""A group commit's creates are inserted together (services/adapters/store/group_inserts.py),
with the result of running them one at a time: names taken (also within the group) are refused
to their own callers, and a write that uses a collection with inserts kept sees them."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.adapters.store import group_inserts
from services.adapters.store.environments import ENVIRONMENTS
from services.contracts import errors
from services.contracts.environments import CreateEnvironment
from services.domain.lifecycle.environments import new_environment
from tests.handlers.lifecycle_support import lifecycle_worker
from workers.lifecycle.environments import ENVIRONMENT_WRITES


@pytest.fixture
async def worker(base_deps):
    async with lifecycle_worker(base_deps) as running:
        yield running


def environment(name: str):
    cmd = CreateEnvironment.model_validate(
        {"name": name, "deploy_mode": "container", "vpc_id": "v", "base_resources": [{"id": "c", "type": "cce"}]}
    )
    return new_environment("p1", uuid.uuid4().hex, cmd, 1_700_000_000_000)


@pytest.fixture
def flushed(monkeypatch) -> list[int]:
    """How many documents each flush of kept inserts sent."""
    sizes: list[int] = []
    real = group_inserts.flush

    async def counting(db, session):
        pending = group_inserts._pending.get()
        sizes.append(sum(len(docs) for docs in (pending or {}).values()))
        await real(db, session)

    monkeypatch.setattr(group_inserts, "flush", counting)
    return sizes


async def test_concurrent_creates_are_inserted_together(worker, flushed):
    envs = [environment(f"env-{i}") for i in range(8)]
    created = await asyncio.gather(*(ENVIRONMENT_WRITES.create(worker.deps, env) for env in envs))
    assert [c.id for c in created] == [e.id for e in envs]
    for env in envs:
        assert (await ENVIRONMENTS.get(worker.deps.db, "p1", env.id)).name == env.name
    assert await ENVIRONMENTS.count(worker.deps.db, "p1") == len(envs)
    assert max(flushed) > 1  # one insert_many carried several of them


async def test_a_name_taken_within_the_group_or_before_is_refused_to_its_own_caller(worker, flushed):
    await ENVIRONMENT_WRITES.create(worker.deps, environment("taken"))
    envs = [environment("aa"), environment("taken"), environment("bb"), environment("AA"), environment("cc")]
    results = await asyncio.gather(*(ENVIRONMENT_WRITES.create(worker.deps, env) for env in envs), return_exceptions=True)
    assert [r.name if not isinstance(r, BaseException) else r.code for r in results] == [  # type: ignore[union-attr]
        "aa",
        errors.ENVIRONMENT_NAME_EXISTS,
        "bb",
        errors.ENVIRONMENT_NAME_EXISTS,  # names are unique ignoring case: "aa" came first
        "cc",
    ]
    for env, result in zip(envs, results, strict=True):
        found = await worker.deps.db["environments"].find_one({"_id": env.id})
        assert (found is not None) == (not isinstance(result, BaseException))


async def test_a_write_that_uses_a_collection_with_kept_inserts_sees_them(worker, flushed):
    deps = worker.deps
    first = environment("seen")

    async def insert(session):
        await ENVIRONMENTS.insert(deps.db, first, session)
        return None, []

    async def count(session):  # as an application delete reads it, counts its components, then writes
        await ENVIRONMENTS.get(deps.db, "p1", first.id, session=session)
        counted = await ENVIRONMENTS.count(deps.db, "p1", session=session)
        # (nx-27017 fails the commit of a transaction whose first operation was an aggregate: the
        # read by _id first, as the writes of workers/lifecycle/crud.py do)
        await deps.db["applications"].insert_one({"_id": uuid.uuid4().hex, "project_id": "probe"}, session=session)
        return counted, []

    _, counted = await asyncio.gather(deps.outbox.transaction(insert), deps.outbox.transaction(count))
    assert counted == 1  # run one at a time, the count comes after the insert
    assert flushed  # the two were a group; the count made it run its writes alone
