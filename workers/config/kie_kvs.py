"""Handlers of openstage.cmd.<project>.config.kv.*: ServiceComb-Kie v1 (``/v1/{project}/kie/kv``),
as apache/servicecomb-kie at fcacc0dab defines it:

* ``kv.create`` (kv_resource.go L69-90, service/kv/kv_svc.go L76-160): 200 with the KV; status
  ``disabled`` and value_type ``text`` unless given; the same key and labels again -> 409001.
* ``kv.list`` (kv_resource.go L171-281): ``{"total", "data"}`` with header ``X-Kie-Revision`` (the
  project's revision). With ``revision``: any other number than the current one answers at once,
  the current one answers 304 or, with ``wait``, waits. With ``wait`` and no ``revision``: waits for
  a change. A wait ends with the first change whose labels the list's labels match (pubsub
  struct.go L99-122), answered 200 with the list, or after ``wait`` with 304.
* ``kv.get`` (L141-169), ``kv.update`` (L92-139, kv_svc.go L228-268: a non-empty value/status
  replaces the stored one, a new update revision), ``kv.delete`` (L283-317: 204, 404001 when
  missing), ``kv.delete_many`` (L319-359: 204 whatever exists), ``kv.history`` (history_resource.go
  L37-70: the KV's revisions, newest first, 404001 when none).

Every change increments the project's revision and commits with its CloudEvent through the outbox:
``openstage.evt.<project>.config.kv.created|updated|deleted``. An update that changes nothing writes
and emits nothing (openstage: Kie bumps the revision anyway). Each change wakes the waiting lists of
its project in this process at once and, through the event, in every other config worker.
"""

from __future__ import annotations

from typing import Any

from faststream import Context, Path

from services.adapters.store import kie_kvs as store
from services.contracts import kie, subjects
from services.contracts.envelope import Reply
from services.contracts.events import CloudEvent
from services.contracts.kie import CreateKV, DeleteKV, DeleteKVs, GetKV, KVChanged, KVDeleted, KVDoc, KVHistory, KVList, ListKVs, UpdateKV
from services.contracts.subjects import CONFIG, Config
from services.domain.config import kie as rules
from workers.config.deps import ConfigDeps
from workers.runtime import command_router, on_command

router = command_router()

ENTITY = "kv"
EVENTS = {
    subjects.event_type(CONFIG, ENTITY, "created"): KVChanged,
    subjects.event_type(CONFIG, ENTITY, "updated"): KVChanged,
    subjects.event_type(CONFIG, ENTITY, "deleted"): KVDeleted,
}
#: How many lists one process serves at once (each waiting list holds one until it is answered).
MAX_CONCURRENT_LISTS = 4096


def _event(project: str, verb: str, kv_id: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent.new(project, CONFIG, ENTITY, verb, resource_path=f"/v1/{project}/kie/kv/{kv_id}", data=data)


def _revision_header(revision: int) -> dict[str, str]:
    return {kie.REVISION_HEADER: str(revision)}


@on_command(router, CONFIG, Config.KV_CREATE, "Create a Kie key-value", reply=KVDoc)
async def create_kv(body: CreateKV, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    labels = dict(body.kv.labels or {})
    label_format = rules.label_format(labels)
    kv_id = rules.kv_id(project, body.kv.key, labels)

    async def write(session):
        if await store.get(deps.db, project, kv_id, session) is not None:
            raise kie.KieError(kie.ERR_RECORD_ALREADY_EXISTS, kie.MSG_KV_ALREADY_EXISTS)
        revision = await store.next_revision(deps.db, project, session)
        now = deps.clock.millis() // 1000
        doc = KVDoc(
            id=kv_id,
            key=body.kv.key,
            value=body.kv.value,
            value_type=body.kv.value_type or kie.DEFAULT_VALUE_TYPE,
            labels=labels,
            status=body.kv.status or kie.STATUS_DISABLED,
            create_revision=revision,
            update_revision=revision,
            create_time=now,
            update_time=now,
        )
        await store.insert(deps.db, project, label_format, doc.model_dump(), session)
        return doc, [_event(project, "created", kv_id, KVChanged(kv=doc).model_dump(mode="json"))]

    doc = await deps.outbox.transaction(write)
    deps.kie_waiters.notify(project, doc.labels)
    return Reply.ok(doc)


async def _list(deps: ConfigDeps, project: str, body: ListKVs) -> Reply:
    revision = await store.current_revision(deps.db, project)
    exact = body.match == kie.MATCH_EXACT
    stored = await store.of_project(deps.db, project, rules.label_format(body.labels) if exact else None)
    total, page = rules.select(stored, body.key, body.labels, body.match, body.status, body.offset, body.limit)
    answer = KVList(total=total, data=[kie.kv_doc(kv) for kv in page])
    return Reply.ok(answer, headers=_revision_header(revision))


def _on_concurrent_command(action: str, description: str, *, reply: Any):
    """``on_command`` for a subject whose handler may wait: up to ``MAX_CONCURRENT_LISTS`` messages
    are handled at once (FastStream handles one message of a subscriber at a time otherwise)."""

    def decorate(func):
        func.__reply_model__ = reply
        return router.subscriber(
            subjects.command_template(CONFIG, action),
            queue=CONFIG,
            title=f"{CONFIG}.{action}",
            description=description,
            max_workers=MAX_CONCURRENT_LISTS,
        )(func)

    return decorate


@_on_concurrent_command(Config.KV_LIST, "List Kie key-values by key, labels and status; long-poll with wait and revision", reply=KVList)
async def list_kvs(body: ListKVs, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    rules.check_wait_request(body.key, body.wait_seconds)
    if body.wait_seconds is None:
        if body.revision is not None and body.revision == await store.current_revision(deps.db, project):
            return Reply(status=304)
        return await _list(deps, project, body)
    with deps.kie_waiters.watch(project, body.labels, body.match) as waiter:
        if body.revision is not None and body.revision != await store.current_revision(deps.db, project):
            return await _list(deps, project, body)
        changed = await waiter.wait(body.wait_seconds)
    if not changed or deps.kie_waiters.closed:
        return Reply(status=304)
    return await _list(deps, project, body)


@on_command(router, CONFIG, Config.KV_GET, "Get a Kie key-value by id", reply=KVDoc)
async def get_kv(body: GetKV, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    doc = await store.get(deps.db, project, body.id)
    if doc is None:
        raise rules.not_found()
    return Reply.ok(kie.kv_doc(doc))


@on_command(router, CONFIG, Config.KV_UPDATE, "Update a Kie key-value's value and/or status", reply=KVDoc)
async def update_kv(body: UpdateKV, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    async def write(session):
        current = await store.get(deps.db, project, body.id, session)
        if current is None:
            raise rules.not_found()
        changes: dict[str, Any] = rules.updated(current, body.kv.value, body.kv.status)
        if not changes:
            return kie.kv_doc(current), []
        changes["update_revision"] = await store.next_revision(deps.db, project, session)
        changes["update_time"] = deps.clock.millis() // 1000
        await store.update(deps.db, project, current, changes, session)
        doc = kie.kv_doc({**current, **changes})
        return doc, [_event(project, "updated", doc.id, KVChanged(kv=doc).model_dump(mode="json"))]

    doc = await deps.outbox.transaction(write)
    deps.kie_waiters.notify(project, doc.labels)
    return Reply.ok(doc)


async def _delete(deps: ConfigDeps, project: str, ids: list[str]) -> list[KVDoc]:
    async def write(session):
        found = [kie.kv_doc(kv) for kv in await store.many(deps.db, project, ids, session)]
        if not found:
            return [], []
        await store.remove(deps.db, project, [kv.id for kv in found], session)
        revision = await store.next_revision(deps.db, project, session)
        events = [_event(project, "deleted", kv.id, KVDeleted(kv=kv, revision=revision).model_dump(mode="json")) for kv in found]
        return found, events

    deleted = await deps.outbox.transaction(write)
    for kv in deleted:
        deps.kie_waiters.notify(project, kv.labels)
    return deleted


@on_command(router, CONFIG, Config.KV_DELETE, "Delete a Kie key-value by id (204)", reply=None)
async def delete_kv(body: DeleteKV, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    if not await _delete(deps, project, [body.id]):
        raise rules.not_found()
    return Reply(status=204)


@on_command(router, CONFIG, Config.KV_DELETE_MANY, "Delete Kie key-values by ids (204)", reply=None)
async def delete_kvs(body: DeleteKVs, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    ids = list(dict.fromkeys(body.ids))
    if ids:
        await _delete(deps, project, ids)
    return Reply(status=204)


@on_command(router, CONFIG, Config.KV_HISTORY, "The revisions of a Kie key-value, newest first", reply=KVList)
async def kv_history(body: KVHistory, project: str = Path(), deps: ConfigDeps = Context()) -> Reply:
    total, docs = await store.history(deps.db, project, body.id, body.offset, body.limit)
    if not docs:
        raise kie.kv_not_found(kie.MSG_REVISION_NOT_EXISTS)
    return Reply.ok(KVList(total=total, data=[kie.kv_doc(d) for d in docs]))
