"""No MongoDB operator is ever built from input (services/adapters/store/mongo.py ``check_filter``).

1. The guard itself: operators only where FILTER_OPERATORS declares them, with plain operands.
2. Every public store function (found by introspection, so new ones are covered) is called
   through ``GuardedDatabase`` over a recording fake database:
   - with plain values: no filter it builds is refused (FILTER_OPERATORS lists every operator the
     stores use);
   - with an operator-looking dict (``{"$gt": ""}``) in place of each identifier or value, as if
     validation had been bypassed: no filter holding it ever reaches the database.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

import services.adapters.store as store_package
from services.adapters.store import mongo
from services.adapters.store.mongo import GuardedDatabase, UnsafeFilter, check_filter

# model_construct() with a dict where a str is declared: pydantic warns when a store dumps it
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --- 1. the guard ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        {"_id": "a", "project_id": "p"},
        {"_id": "a/b/c", "deleted": False, "revision": 3, "active_job_id": None},
        {"$or": [{"runner": None}, {"lease_until": {"$lt": 5}}], "status": {"$nin": ["SUCCEEDED"]}},
        {},
        None,
    ],
)
def test_plain_and_declared_filters_pass(query):
    check_filter("instance_jobs", query)


@pytest.mark.parametrize(
    "collection,query",
    [
        ("environments", {"_id": {"$gt": ""}, "project_id": "p"}),
        ("environments", {"_id": {"$ne": None}}),
        ("environments", {"_id": ["a", "b"]}),
        ("environments", {"$where": "1"}),
        ("environments", {"$expr": {"$eq": ["$a", "$b"]}}),
        ("environments", {"$or": [{"_id": {"$regex": ".*"}}]}),
        ("environments", {"$or": {"_id": "a"}}),
        ("instance_jobs", {"status": {"$gt": ""}}),  # a declared field, another operator
        ("instance_jobs", {"lease_until": {"$lt": {"$gt": 0}}}),  # a declared operator, an operand that is not plain
        ("config_items", {"_id": {"$in": [{"$gt": ""}]}}),
        ("config_items", {"_id": {"$in": "abc"}}),
        ("registry_services", {"service_id": {"$in": ["a"]}}),  # declared on registry_instances only
    ],
)
def test_operators_not_declared_are_refused(collection, query):
    with pytest.raises(UnsafeFilter):
        check_filter(collection, query)


def test_aggregate_match_stages_are_checked():
    mongo._check_pipeline("environments", [{"$match": {"project_id": "p"}}, {"$count": "n"}])
    with pytest.raises(UnsafeFilter):
        mongo._check_pipeline("environments", [{"$match": {"project_id": {"$gt": ""}}}, {"$count": "n"}])


# --- 2. every store function through the guard ------------------------------------------------
class Hostile(dict):
    """What an id would be if a contract let a JSON object through; any key read gives itself."""

    def __missing__(self, key):
        return self


class AnyKey(dict):
    """A mapping (a service, instance, lease, event) every key of which reads as ``value``."""

    def __init__(self, value) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, key):
        return self.value


class _Result:
    matched_count = modified_count = deleted_count = 1
    inserted_id = upserted_id = None


class _Cursor:
    def sort(self, *a, **k):
        return self

    skip = limit = sort

    def __aiter__(self):
        return self

    async def __anext__(self):
        raise StopAsyncIteration

    async def to_list(self, *a, **k):
        return []


class FakeCollection:
    def __init__(self, name: str, sent: list) -> None:
        self.name = name
        self.sent = sent

    def find(self, filter=None, *a, **k):
        self.sent.append((self.name, "find", filter))
        return _Cursor()

    async def aggregate(self, pipeline, *a, **k):  # a coroutine in PyMongo async
        for stage in pipeline:
            if "$match" in stage:
                self.sent.append((self.name, "aggregate", stage["$match"]))
        return _Cursor()

    def __getattr__(self, method: str):
        async def call(*args, **kwargs):
            if method in mongo._FILTER_METHODS:
                self.sent.append((self.name, method, args[0] if args else kwargs.get("filter")))
            if method in ("find_one", "find_one_and_update", "find_one_and_replace", "find_one_and_delete"):
                return None
            if method == "count_documents":
                return 0
            return _Result()

        return call


class FakeDatabase:
    def __init__(self) -> None:
        self.sent: list = []
        self.client = None
        self.name = "fake"

    def __getitem__(self, name: str) -> FakeCollection:
        return FakeCollection(name, self.sent)


def _is_str(annotation) -> bool:
    return annotation is str or (get_origin(annotation) in (typing.Union, __import__("types").UnionType) and str in get_args(annotation))


def _value(annotation, s):
    """An argument for a parameter of type ``annotation``, ``s`` standing for every string."""
    origin, args = get_origin(annotation), get_args(annotation)
    if _is_str(annotation):
        return s
    if annotation in (int, float) or (args and set(args) <= {int, float, type(None)}):
        return 0
    if annotation is bool:
        return False
    if origin is Literal:
        return args[0]
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return _model(annotation, s)
    text = str(annotation)
    if "Mapping[float" in text:
        return {1.0: [s, s]}
    if "Iterable[Mapping" in text:
        return [AnyKey(s)]
    if "Mapping[str, str]" in text:
        return {}
    if "Iterable[str]" in text or "list[str]" in text:
        return [s]
    if "Mapping" in text or annotation is dict or origin is dict:
        return AnyKey(s)
    return None


def _model(cls: type[BaseModel], s) -> BaseModel:
    values = {}
    for name, field in cls.model_fields.items():
        annotation = field.annotation
        if _is_str(annotation):
            values[name] = s
        elif get_origin(annotation) is Literal:
            values[name] = get_args(annotation)[0]
        elif not field.is_required():
            values[name] = field.get_default(call_default_factory=True)
        else:
            values[name] = _value(annotation, s)
    return cls.model_construct(**values)


def _store_functions():
    for info in pkgutil.iter_modules(store_package.__path__):
        module = importlib.import_module(f"services.adapters.store.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.iscoroutinefunction):
            if fn.__module__ == module.__name__ and not name.startswith("_") and "db" in inspect.signature(fn).parameters:
                yield f"{info.name}.{name}", fn


STORE_FUNCTIONS = dict(_store_functions())


def _call(fn, s) -> tuple[FakeDatabase, BaseException | None]:
    db = FakeDatabase()
    hints = typing.get_type_hints(fn)
    kwargs: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name == "db":
            kwargs["db"] = GuardedDatabase(db)
        elif p.name == "session":
            kwargs["session"] = None
        else:
            kwargs[p.name] = _value(hints.get(p.name), s)
    try:
        asyncio.run(fn(**kwargs))
    except BaseException as exc:
        return db, exc
    return db, None


def _holds(value, needle) -> bool:
    if value is needle:
        return True
    if isinstance(value, dict):
        return any(_holds(v, needle) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds(v, needle) for v in value)
    return False


def test_the_stores_are_found():
    assert len(STORE_FUNCTIONS) > 50
    assert {"environments.get", "registry.get_service", "config_items.values", "component_instances.claim_job"} <= set(STORE_FUNCTIONS)


@pytest.mark.parametrize("name", sorted(STORE_FUNCTIONS))
def test_store_filters_pass_the_guard_with_plain_values(name):
    _db, exc = _call(STORE_FUNCTIONS[name], "plain-id")
    assert not isinstance(exc, UnsafeFilter), f"{name}: {exc} (declare the operator in mongo.FILTER_OPERATORS)"


@pytest.mark.parametrize("name", sorted(STORE_FUNCTIONS))
def test_no_operator_from_input_reaches_the_database(name):
    hostile = Hostile({"$gt": ""})
    db, exc = _call(STORE_FUNCTIONS[name], hostile)
    leaked = [sent for sent in db.sent if _holds(sent[2], hostile)]
    assert not leaked, f"{name} sent {leaked} ({exc!r})"
