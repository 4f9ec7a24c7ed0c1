"""Handlers of openstage.cmd.<project>.config.item.*: the config center's items
(``/v3/{project}/configuration/items``, Huawei CSE "Querying Configurations").

* ``item.query``: the items of the dimensions a ``dimensionsInfo`` answers (``application``,
  ``svc@app``, ``darklaunch@app`` and, with a version, ``svc@app#version``), filtered by
  ``keyFilter``, with ``revision.version`` = sha1 of the answer. A ``revision`` equal to it
  -> status 304 and no body.
* ``item.upsert``: create or overwrite keys of one dimension; ``{"Result": "Success"}``.
* ``item.delete``: remove keys of one dimension (missing keys are ignored); ``{"Result": "Success"}``.

Items are scoped by project and by the ``X-Environment`` the caller sends (none = ``""``).
Events: ``openstage.evt.<project>.config.item.changed`` (data: dimensionsInfo, environment and the
items whose value is new) and ``...config.item.deleted`` (data: dimensionsInfo, environment and the
keys that existed). A write that changes nothing emits nothing.
"""

from __future__ import annotations

from urllib.parse import quote

from faststream import Context, Path

from services.adapters.store import config_items as store
from services.contracts import subjects
from services.contracts.config_items import ConfigItemsChanged, ConfigItemsDeleted, DeleteConfigItems, QueryConfigItems, UpsertConfigItems
from services.contracts.envelope import Reply
from services.contracts.events import CloudEvent
from services.contracts.registry import ConfigItemsResponse, ConfigItemsWriteResponse
from services.contracts.subjects import CONFIG, Config
from services.domain.registry import config_center as rules
from workers.config.deps import ConfigDeps
from workers.runtime import command_router, on_command

router = command_router()

ENTITY = "item"
EVENTS = {
    subjects.event_type(CONFIG, ENTITY, "changed"): ConfigItemsChanged,
    subjects.event_type(CONFIG, ENTITY, "deleted"): ConfigItemsDeleted,
}


def _event(project: str, dimension: str, verb: str, data: dict) -> CloudEvent:
    return CloudEvent.new(
        project,
        CONFIG,
        ENTITY,
        verb,
        resource_path=f"/v3/{project}/configuration/items?dimensionsInfo={quote(dimension, safe='')}",
        data=data,
    )


def answer(
    by_dimension: dict[str, dict], dims: rules.DimensionsInfo, key_filter: str | None, revision: str | None
) -> tuple[int, ConfigItemsResponse | None]:
    """(status, body) of a query over the stored ``by_dimension`` items: 304 without a body when
    ``revision`` is the current one."""
    rx = rules.compile_key_filter(key_filter)
    shown = {d: rules.filter_items(by_dimension.get(d) or {}, rx) for d in dims.response_keys()}
    shown = {d: items for d, items in shown.items() if items}
    current = rules.config_revision(shown)
    if revision and revision == current:
        return 304, None
    return 200, ConfigItemsResponse.build(shown, current)


@on_command(router, CONFIG, Config.ITEM_QUERY, "Query the config center's items of a dimensionsInfo", reply=ConfigItemsResponse)
async def query_items(body: QueryConfigItems, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    dims = rules.parse_dimensions_info(body.dimensions_info)
    rules.compile_key_filter(body.key_filter)  # 400001 before touching the store
    stored = await store.by_dimension(deps.db, project, body.environment, dims.response_keys())
    status, response = answer(stored, dims, body.key_filter, body.revision)
    if response is None:
        return Reply(status=status)
    return Reply(status=status, result=response.to_json())


@on_command(router, CONFIG, Config.ITEM_UPSERT, "Create or update config-center items", reply=ConfigItemsWriteResponse)
async def upsert_items(body: UpsertConfigItems, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    dimension, items = rules.validate_create_items(body.dimensions_info, body.items)

    async def write(session):
        current = await store.values(deps.db, project, body.environment, dimension, items.keys(), session)
        changed = {k: v for k, v in items.items() if k not in current or not _same(current[k], v)}
        if not changed:
            return None, []
        await store.put(deps.db, project, body.environment, dimension, changed, deps.clock.millis(), session)
        data = ConfigItemsChanged(dimensionsInfo=dimension, environment=body.environment, items=changed)
        return None, [_event(project, dimension, "changed", data.model_dump(mode="json"))]

    await deps.outbox.transaction(write)
    return Reply.ok(ConfigItemsWriteResponse())


@on_command(router, CONFIG, Config.ITEM_DELETE, "Delete config-center items", reply=ConfigItemsWriteResponse)
async def delete_items(body: DeleteConfigItems, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    dimension, keys = rules.validate_delete_items(body.dimensions_info, body.keys)
    keys = list(dict.fromkeys(keys))

    async def write(session):
        current = await store.values(deps.db, project, body.environment, dimension, keys, session)
        existing = [k for k in keys if k in current]
        if not existing:
            return None, []
        await store.remove(deps.db, project, body.environment, dimension, existing, session)
        data = ConfigItemsDeleted(dimensionsInfo=dimension, environment=body.environment, keys=existing)
        return None, [_event(project, dimension, "deleted", data.model_dump(mode="json"))]

    await deps.outbox.transaction(write)
    return Reply.ok(ConfigItemsWriteResponse())


def _same(a, b) -> bool:
    """Equal values of the same JSON type (1 and 1.0 and True are different items)."""
    return type(a) is type(b) and a == b
