"""Config worker handlers in-process: config-center items and application configuration."""

from __future__ import annotations

import pytest

from services.contracts.app_configurations import AppConfigurationRef, PutAppConfiguration
from services.contracts.config_items import DeleteConfigItems, QueryConfigItems, UpsertConfigItems
from services.contracts.subjects import CONFIG, Config
from tests.handlers.conftest import call, handler_broker
from workers.config.app import ROUTERS, compose


class ReferencesExist:
    """The lifecycle worker's answer, as the config worker sees it: everything exists except 'gone'."""

    async def require_references(self, project: str, application_id: str, environment_id: str | None) -> None:
        from services.contracts import errors

        if application_id == "gone":
            raise errors.ServiceError(404, "SVCSTG.00100403", "application not found")


@pytest.fixture
async def config(base_deps):
    deps = await compose(await base_deps(CONFIG))  # the worker's own composition root (indexes)
    deps.lifecycle = ReferencesExist()  # type: ignore[assignment]
    async with handler_broker(ROUTERS, deps) as broker:
        yield broker, deps


async def test_items_upsert_query_revision_and_delete(config):
    broker, deps = config
    put = UpsertConfigItems(dimensions_info="cart@shop", items={"timeout": 3, "name": "a"})
    assert (await call(broker, "p1", CONFIG, Config.ITEM_UPSERT, put)).result == {"Result": "Success"}
    assert deps.js.types() == ["io.openstage.config.item.changed"]

    query = QueryConfigItems(dimensions_info="cart@shop")
    got = await call(broker, "p1", CONFIG, Config.ITEM_QUERY, query)
    assert got.status == 200 and got.result["cart@shop"] == {"timeout": 3, "name": "a"}
    revision = got.result["revision"]["version"]
    unchanged = await call(broker, "p1", CONFIG, Config.ITEM_QUERY, query.model_copy(update={"revision": revision}))
    assert unchanged.status == 304 and unchanged.result is None

    # the same values again change nothing and emit nothing; another project sees nothing
    await call(broker, "p1", CONFIG, Config.ITEM_UPSERT, put)
    assert len(deps.js.published) == 1
    assert (await call(broker, "p2", CONFIG, Config.ITEM_QUERY, query)).result.get("cart@shop") is None

    gone = DeleteConfigItems(dimensions_info="cart@shop", keys=["timeout", "missing"])
    assert (await call(broker, "p1", CONFIG, Config.ITEM_DELETE, gone)).status == 200
    assert deps.js.published[-1].data == {"dimensionsInfo": "cart@shop", "environment": "", "keys": ["timeout"]}
    assert (await call(broker, "p1", CONFIG, Config.ITEM_QUERY, query)).result["cart@shop"] == {"name": "a"}


async def test_items_bad_input_is_a_typed_400(config):
    broker, deps = config
    reply = await call(broker, "p1", CONFIG, Config.ITEM_UPSERT, {"dimensions_info": "a@b", "items": {}})
    assert reply.status == 400 and reply.error is not None
    reply = await call(broker, "p1", CONFIG, Config.ITEM_QUERY, QueryConfigItems(dimensions_info="a@b", key_filter="("))
    assert reply.status == 400 and reply.error.error_code == "400001"
    assert deps.js.published == []


async def test_app_configuration_revisions(config):
    broker, deps = config
    put = PutAppConfiguration.model_validate(
        {
            "application_id": "app1",
            "creator": "alice",
            "body": {"environment_id": "env1", "configuration": {"env": [{"name": "A", "value": "1"}]}},
        }
    )
    first = await call(broker, "p1", CONFIG, Config.APP_CONFIGURATION_PUT, put)
    assert first.status == 200 and first.result["revision"] == 1
    assert first.result["configuration"] == {"env": [{"name": "A", "value": "1"}]}
    await call(broker, "p1", CONFIG, Config.APP_CONFIGURATION_PUT, put)  # the same again: no new revision
    assert deps.js.types() == ["io.openstage.config.app_configuration.updated"]

    ref = AppConfigurationRef(application_id="app1", environment_id="env1", creator="bob")
    assert (await call(broker, "p1", CONFIG, Config.APP_CONFIGURATION_DELETE, ref)).status == 204
    history = await call(broker, "p1", CONFIG, Config.APP_CONFIGURATION_HISTORY, ref)
    assert sorted((r["revision"], r["action"]) for r in history.result["revisions"]) == [(1, "put"), (2, "delete")]
    again = await call(broker, "p1", CONFIG, Config.APP_CONFIGURATION_DELETE, ref)
    assert again.status == 404

    missing = put.model_copy(update={"application_id": "gone"})
    assert (await call(broker, "p1", CONFIG, Config.APP_CONFIGURATION_PUT, missing)).error.error_code == "SVCSTG.00100403"
