"""Handlers of openstage.cmd.<project>.registry.tag.*: a micro-service's tags.

Service-Center HEAD (983f3f39): routes in ``server/resource/disco/service_resource.go`` lines
52-55 (``PutManyTags`` 233, ``PutTag`` 260, ``ListTag`` 276, ``DeleteManyTags`` 289: the path's
``{key}`` is a comma-separated key list), rules in ``server/service/disco/tag.go`` and
``datasource/etcd/ms.go`` 1164-1300: ``POST`` replaces the whole set (``AddTagIntoETCD``),
``PUT`` needs the key to exist (400018 ``Tag does not exist, please add one first.``), ``DELETE``
refuses the whole call when any key is missing (400018 ``Delete tags failed for this key <k>
does not exist.``), an unknown service is 400012 everywhere. Writes answer 200 with an empty body.

Event: ``registry.tag.changed`` (``{"serviceId", "tags", "service"}``) in the same transaction;
every registry process drops the finds of the service's (environment, appId) on it, as
Service-Center's ``datasource/etcd/event/tag_event_handler.go`` drops the tagged service's
find cache."""

from __future__ import annotations

from faststream import Context, Path

from services.adapters.store import registry as store
from services.contracts import registry_errors as rerr
from services.contracts.registry import DeleteTagsCommand, GetTagsResponse, PutTagsCommand, ServiceRefCommand, UpdateTagCommand
from services.contracts.subjects import REGISTRY, Registry
from services.domain.registry import validation as v
from workers.registry.deps import RegistryDeps
from workers.registry.events import tags_event
from workers.registry.replies import OK_EMPTY, reply
from workers.runtime import command_router, on_command

router = command_router()


async def _tags_of(deps: RegistryDeps, project: str, service_id: str, session=None) -> tuple[dict, dict]:
    found = await store.get_service_tags(deps.db, project, service_id, session)
    if found is None:
        raise rerr.service_not_exists("Service does not exist.")
    return found


async def _replace(deps: RegistryDeps, project: str, service_id: str, change) -> None:
    """Read the service and its tags, ``change(tags)`` -> the new set, write it with its event."""

    async def write(session):
        service, tags = await _tags_of(deps, project, service_id, session)
        new = change(dict(tags))
        if new == tags:
            return None, []
        await store.set_service_tags(deps.db, project, service_id, new, session)
        return None, [tags_event(project, service, new)]

    await deps.commit(project, write)


@on_command(router, REGISTRY, Registry.TAG_PUT_MANY, "Replace a micro-service's tags (POST /microservices/{id}/tags)", reply=None)
async def put_tags(body: PutTagsCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    t = "AddServiceTagsRequest"
    sid = v.validate_service_id(body.service_id, type_name=t)
    tags = v.validate_tags(body.body.tags, type_name=t)
    await _replace(deps, project, sid, lambda _old: tags)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.TAG_UPDATE, "Change the value of an existing tag", reply=None)
async def update_tag(body: UpdateTagCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="UpdateServiceTagRequest")
    key, value = v.validate_update_tag(body.key, body.value)

    def change(tags: dict[str, str]) -> dict[str, str]:
        if key not in tags:
            raise rerr.tag_not_exists("Tag does not exist, please add one first.")
        return {**tags, key: value}

    await _replace(deps, project, sid, change)
    return OK_EMPTY


@on_command(router, REGISTRY, Registry.TAG_LIST, "A micro-service's tags", reply=GetTagsResponse)
async def list_tags(body: ServiceRefCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="GetServiceTagsRequest")
    _, tags = await _tags_of(deps, project, sid)
    return reply({"tags": tags} if tags else {})


@on_command(router, REGISTRY, Registry.TAG_DELETE, "Delete tags (comma-separated keys; any missing key deletes none)", reply=None)
async def delete_tags(body: DeleteTagsCommand, project: str = Path(), deps: RegistryDeps = Context()) -> bytes:
    sid = v.validate_service_id(body.service_id, type_name="DeleteServiceTagsRequest")
    keys = v.validate_delete_tags((body.keys or "").split(","))

    def change(tags: dict[str, str]) -> dict[str, str]:
        for k in keys:
            if k not in tags:
                raise rerr.tag_not_exists(f"Delete tags failed for this key {k} does not exist.")
            del tags[k]
        return tags

    await _replace(deps, project, sid, change)
    return OK_EMPTY
