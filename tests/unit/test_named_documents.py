"""The named-document collections (environments, applications, components) through the filter
guard, as tests/unit/test_store_filters.py does for the module-level store functions: plain keys
pass it, and an operator-looking dict in place of any key value never reaches the database."""

from __future__ import annotations

import asyncio

import pytest

from services.adapters.store.applications import APPLICATIONS
from services.adapters.store.components import COMPONENTS
from services.adapters.store.documents import NamedDocuments
from services.adapters.store.environments import ENVIRONMENTS
from services.adapters.store.mongo import GuardedDatabase, UnsafeFilter
from services.contracts.envelope import Page
from tests.unit.test_store_filters import FakeDatabase, Hostile, _holds, _model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
COLLECTIONS = {"environments": ENVIRONMENTS, "applications": APPLICATIONS, "components": COMPONENTS}


def _operations(docs: NamedDocuments, s):
    key = (s,) * (len(docs.parents) + 1)
    doc = _model(docs.model, s)
    query = Page.model_construct(order_by="name", order="asc", offset=0, limit=10)
    return {
        "get": lambda db: docs.get(db, *key),
        "delete": lambda db: docs.delete(db, *key, session=None),
        "count": lambda db: docs.count(db, *key[:-1]),
        "page": lambda db: docs.page(db, query, *key[:-1]),
        "insert": lambda db: docs.insert(db, doc, session=None),
        "replace": lambda db: docs.replace(db, doc, session=None),
    }


def _run(operation) -> tuple[FakeDatabase, BaseException | None]:
    db = FakeDatabase()
    try:
        asyncio.run(operation(GuardedDatabase(db)))
    except BaseException as exc:
        return db, exc
    return db, None


@pytest.mark.parametrize("collection", sorted(COLLECTIONS))
def test_plain_keys_pass_the_guard_and_hostile_ones_never_reach_the_database(collection):
    docs = COLLECTIONS[collection]
    for name, operation in _operations(docs, "plain-id").items():
        db, exc = _run(operation)
        assert not isinstance(exc, UnsafeFilter), f"{collection}.{name}: {exc}"
        assert db.sent or name == "insert", f"{collection}.{name} sent nothing"
    hostile = Hostile({"$gt": ""})
    for name, operation in _operations(docs, hostile).items():
        db, exc = _run(operation)
        leaked = [sent for sent in db.sent if _holds(sent[2], hostile)]
        assert not leaked, f"{collection}.{name} sent {leaked} ({exc!r})"
