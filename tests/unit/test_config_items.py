"""Config-center items: commands, the query's answer and revisions (no I/O)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.adapters.store.config_items import item_id
from services.contracts.config_items import DeleteConfigItems, QueryConfigItems, UpsertConfigItems, environment_of
from services.contracts.registry_errors import RegistryError
from services.domain.registry import config_center as rules
from workers.config.items import _same, answer

STORED = {
    "application": {"region": "eu"},
    "order@shop": {"log.level": "info", "retries": 3},
    "order@shop#1.0.0": {"log.level": "debug"},
    "order@shop#2.0.0": {"never": "shown"},
}


def test_answer_keeps_the_dimensions_of_the_query_and_filters_keys():
    dims = rules.parse_dimensions_info("order@shop#1.0.0")
    status, body = answer(STORED, dims, None, None)
    assert status == 200
    data = body.to_json()
    rev = data.pop("revision")["version"]
    assert data == {
        "application": {"region": "eu"},
        "order@shop": {"log.level": "info", "retries": 3},
        "order@shop#1.0.0": {"log.level": "debug"},
    }
    assert rev == rules.config_revision(data)

    status, body = answer(STORED, dims, "^log", None)
    assert body.to_json()["order@shop"] == {"log.level": "info"} and "application" not in body.to_json()


def test_answer_304_only_on_the_current_revision():
    dims = rules.parse_dimensions_info("order@shop")
    _, body = answer(STORED, dims, None, None)
    assert answer(STORED, dims, None, body.revision) == (304, None)
    assert answer(STORED, dims, None, "other")[0] == 200
    changed = {**STORED, "order@shop": {"log.level": "warn", "retries": 3}}
    assert answer(changed, dims, None, body.revision)[0] == 200
    # an empty answer still has a revision
    status, empty = answer({}, dims, None, None)
    assert status == 200 and set(empty.to_json()) == {"revision"}


def test_bad_key_filter_is_400001():
    dims = rules.parse_dimensions_info("order@shop")
    with pytest.raises(RegistryError) as err:
        answer(STORED, dims, "(a+)+", None)
    assert err.value.code == "400001" and err.value.status == 400


def test_environment_header():
    assert environment_of("production") == "production"
    assert environment_of(" testing ") == "testing"
    assert environment_of("staging") == "" and environment_of(None) == "" and environment_of("PRODUCTION") == ""


@pytest.mark.parametrize(
    "items",
    [{"k": {"$gt": ""}}, {"k": None}, {"k": [1]}, {"k": float("inf")}, {"k": 2**64}, {"": "v"}, {"k" * 10240: "v"}, {"k": "v" * 70000}, {}],
)
def test_upsert_refuses_values_that_are_not_scalars(items):
    with pytest.raises(ValidationError):
        UpsertConfigItems(dimensions_info="a@b", items=items)


def test_commands_accept_scalars_and_forbid_extra_fields():
    cmd = UpsertConfigItems(dimensions_info="a@b", items={"s": "x", "i": 1, "f": 1.5, "b": False})
    assert cmd.items == {"s": "x", "i": 1, "f": 1.5, "b": False}
    with pytest.raises(ValidationError):
        QueryConfigItems(dimensions_info="a@b", project_id="other")
    with pytest.raises(ValidationError):
        QueryConfigItems(dimensions_info="a@b", environment="staging")
    with pytest.raises(ValidationError):
        DeleteConfigItems(dimensions_info="a@b", keys=[])
    with pytest.raises(ValidationError):
        DeleteConfigItems(dimensions_info="a@b", keys=[{"$gt": ""}])


def test_same_value_means_same_json_type():
    assert _same("1", "1") and _same(1, 1)
    assert not _same(1, 1.0) and not _same(1, True) and not _same("1", 1)


def test_item_ids_are_stable_and_unambiguous():
    assert item_id("p", "", "a@b", "k") == item_id("p", "", "a@b", "k")
    assert item_id("p", "", "a@b", "k/x") != item_id("p", "", "a@b/k", "x")
    assert item_id("p", "production", "a@b", "k") != item_id("p", "", "a@b", "k")
    assert item_id("p1", "", "a@b", "k") != item_id("p2", "", "a@b", "k")
