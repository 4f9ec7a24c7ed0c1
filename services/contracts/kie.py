"""ServiceComb-Kie v1 (``/v1/{project}/kie/...``): the HTTP bodies, the commands the edge sends the
config worker (subjects ``openstage.cmd.<project>.config.kv.*``), the replies, the events and Kie's
error codes. Followed from apache/servicecomb-kie at fcacc0dab (2024-02-22):

- routes, bodies and replies: ``server/resource/v1/kv_resource.go`` L362-505 (URLPatterns),
  ``server/resource/v1/history_resource.go`` L125-143 (``GET /v1/{project}/kie/revision/{kv_id}``),
  ``server/resource/v1/doc_struct.go`` L173-206 (KVCreateBody, KVUpdateBody, DeleteBody);
- the KV document: ``pkg/model/db_schema.go`` L32-50 (KVDoc: id, key, value, value_type, labels,
  status, create_revision, update_revision, create_time, update_time, with their validation tags)
  and ``pkg/model/kv.go`` L29-33 (KVResponse ``{"total", "data"}``);
- query parameters and limits: ``pkg/common/common.go`` L23-76 (``label``, ``match``, ``wait``,
  ``revision``, ``status``, ``offset``, ``limit``; header ``X-Kie-Revision``; wait at most 5 minutes);
- validation patterns: ``pkg/validator/rule.go`` L22-45;
- error codes and shape: go-chassis/cari ``config/error.go`` L24-48 and ``pkg/errsvc/error.go``
  L21-40 (``{"errorCode": "400001", "errorMessage": "invalid parameter(s)", "detail": "..."}``, HTTP
  status = code // 1000).

The pure rules (label parsing, wait, key patterns, matching) are in :mod:`services.domain.config.kie`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contracts.errors import ServiceError

# --- Kie's limits (pkg/model/db_schema.go L36-48, pkg/model/db_schema.go L95-105, pkg/common/common.go L75)
MAX_KEY_LENGTH = 2048
MAX_VALUE_LENGTH = 131072  # 128 KiB
MAX_LABELS_ON_CREATE = 6
MAX_LABELS_ON_LIST = 8
MAX_LIST_KEY_LENGTH = 128
MAX_LIMIT = 100
MAX_WAIT_SECONDS = 300.0  # common.MaxWait = 5 * time.Minute
MAX_ID_LENGTH = 64
#: openstage: at most this many ids in one batch delete (Kie sets no limit).
MAX_IDS_PER_DELETE = 1000

KEY_PATTERN = r"^[a-zA-Z0-9._:-]+$"
LABEL_KEY_PATTERN = r"^[a-zA-Z0-9]{1,32}$|^[a-zA-Z0-9][a-zA-Z0-9_\-.]{1,30}[a-zA-Z0-9]$"
LABEL_VALUE_PATTERN = r"^[a-zA-Z0-9]{0,160}$|^[a-zA-Z0-9][a-zA-Z0-9_\-.]{0,158}[a-zA-Z0-9]$"
LIST_KEY_PATTERN = r"^[a-zA-Z0-9._:-]*$|^beginWith\([a-zA-Z0-9._:-]*\)$|^wildcard\([a-zA-Z0-9*._:-]*\)$"

VALUE_TYPES = ("ini", "json", "text", "yaml", "properties", "xml")
DEFAULT_VALUE_TYPE = "text"  # server/datasource/dao.go L46
STATUS_ENABLED = "enabled"
STATUS_DISABLED = "disabled"
MATCH_EXACT = "exact"
REVISION_HEADER = "X-Kie-Revision"

# --- error codes (go-chassis/cari config/error.go L24-48) ------------------------------------------
ERR_INVALID_PARAMS = "400001"
ERR_OBSERVE_EVENT = "400003"
ERR_RECORD_NOT_EXISTS = "404001"
ERR_RECORD_ALREADY_EXISTS = "409001"
ERR_INTERNAL = "500001"
MESSAGES = {
    ERR_INVALID_PARAMS: "invalid parameter(s)",
    ERR_OBSERVE_EVENT: "failed to observe event",
    ERR_RECORD_NOT_EXISTS: "record does not exist",
    ERR_RECORD_ALREADY_EXISTS: "record already exist",
    ERR_INTERNAL: "internal server error",
}
# Kie's detail texts (server/datasource/dao.go L38-42, pkg/common/common.go L68-72)
MSG_KEY_NOT_EXISTS = "can not find any key value"
MSG_REVISION_NOT_EXISTS = "revision does not exist"
MSG_KV_ALREADY_EXISTS = "kv already exists"
MSG_ILLEGAL_LABELS = "label value can not be empty, label can not be duplicated, please check query parameters"
MSG_INVALID_WAIT = "wait param should be formed with number and time unit like 5s,100ms, and less than 5m"
MSG_INVALID_REV = "revision param should be formed with number greater than 0"
MSG_KEY_WITH_WAIT = "can not accept key params, when using wait"


class KieError(ServiceError):
    """A Kie failure: ``errorCode`` (a numeric string), Kie's fixed ``errorMessage`` for it and a
    ``detail``; the HTTP status is ``code // 1000`` (cari ``pkg/errsvc/error.go`` L34-40)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(int(code) // 1000, code, MESSAGES.get(code, ""), detail)


def invalid_params(detail: str) -> KieError:
    return KieError(ERR_INVALID_PARAMS, detail)


def kv_not_found(detail: str = MSG_KEY_NOT_EXISTS) -> KieError:
    return KieError(ERR_RECORD_NOT_EXISTS, detail)


# --- the KV as Kie answers it ----------------------------------------------------------------------
class KVDoc(BaseModel):
    """One key-value (``pkg/model/db_schema.go`` L32-50 without the fields Kie clears before
    answering: domain, project, label_format). Times are Unix seconds."""

    id: str
    key: str
    value: str
    value_type: str
    labels: dict[str, str]
    status: str
    create_revision: int
    update_revision: int
    create_time: int
    update_time: int


class KVList(BaseModel):
    """``GET /v1/{project}/kie/kv`` and the revision (history) endpoint: ``{"total", "data"}``."""

    total: int
    data: list[KVDoc]


# --- HTTP bodies (server/resource/v1/doc_struct.go L173-206) -----------------------------------
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN)]
Status = Literal["enabled", "disabled"]
ValueType = Literal["ini", "json", "text", "yaml", "properties", "xml"]
KVId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]


class KVCreateBody(BaseModel):
    """``POST /v1/{project}/kie/kv``. ``status`` defaults to ``disabled`` and ``value_type`` to
    ``text`` (server/service/kv/kv_svc.go L77-100). Unknown fields are ignored, as Go's decoder does."""

    model_config = ConfigDict(extra="ignore")

    key: Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH, pattern=KEY_PATTERN)]
    value: Annotated[str, StringConstraints(max_length=MAX_VALUE_LENGTH)] = ""
    value_type: ValueType | Literal[""] = ""
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS_ON_CREATE)] | None = None
    status: Status | Literal[""] = ""


class KVUpdateBody(BaseModel):
    """``PUT /v1/{project}/kie/kv/{kv_id}``: a non-empty ``value`` and/or ``status`` replace the
    stored ones (server/service/kv/kv_svc.go L238-243)."""

    model_config = ConfigDict(extra="ignore")

    value: Annotated[str, StringConstraints(max_length=MAX_VALUE_LENGTH)] = ""
    status: Status | Literal[""] = ""


class KVDeleteBody(BaseModel):
    """``DELETE /v1/{project}/kie/kv``: ``{"ids": [...]}``."""

    model_config = ConfigDict(extra="ignore")

    ids: Annotated[list[KVId], Field(max_length=MAX_IDS_PER_DELETE)] = Field(default_factory=list)


# --- commands (openstage.cmd.<project>.config.kv.*) ------------------------------------------------
class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateKV(_Command):
    """``config.kv.create``."""

    kv: KVCreateBody


class ListKVs(_Command):
    """``config.kv.list``: the edge has parsed ``label=k:v`` into ``labels``, ``wait`` (a Go
    duration) into ``wait_seconds`` and ``revision`` into an integer."""

    key: Annotated[str, StringConstraints(max_length=MAX_LIST_KEY_LENGTH, pattern=LIST_KEY_PATTERN)] = ""
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS_ON_LIST)] = Field(
        default_factory=dict, description="label=k:v of the query: every one must be on the KV"
    )
    match: Literal["exact", ""] = Field(default="", description="exact: the KV's labels are exactly ``labels``")
    status: Status | Literal[""] = ""
    offset: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=0, le=MAX_LIMIT)] = 0  # 0: no paging
    revision: int | None = Field(
        default=None, description="the client's X-Kie-Revision: another one answers at once, the current one 304 (or waits)"
    )
    wait_seconds: Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS)] | None = Field(
        default=None, description="wait at most this long for a change of a KV the labels match, then 304"
    )


class GetKV(_Command):
    """``config.kv.get``."""

    id: KVId


class UpdateKV(_Command):
    """``config.kv.update``."""

    id: KVId
    kv: KVUpdateBody


class DeleteKV(_Command):
    """``config.kv.delete``: 204, or 404001 when the id does not exist."""

    id: KVId


class DeleteKVs(_Command):
    """``config.kv.delete_many``: always 204 (ids that do not exist are ignored)."""

    ids: Annotated[list[KVId], Field(max_length=MAX_IDS_PER_DELETE)]


class KVHistory(_Command):
    """``config.kv.history``: the revisions of one KV, newest first (404001 when it has none)."""

    id: KVId
    offset: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=0, le=MAX_LIMIT)] = 0


# --- events (openstage.evt.<project>.config.kv.<verb>) ---------------------------------------------
class KVChanged(BaseModel):
    """Data of ``config.kv.created`` and ``config.kv.updated``: the KV as it now is."""

    kv: KVDoc


class KVDeleted(BaseModel):
    """Data of ``config.kv.deleted``: the KV as it was, and the project's revision after the delete."""

    kv: KVDoc
    revision: int


def kv_doc(raw: dict[str, Any]) -> KVDoc:
    """A stored KV document as Kie answers it (the store's extra fields are dropped)."""
    return KVDoc.model_validate({k: raw[k] for k in KVDoc.model_fields})


__all__ = [
    "CreateKV",
    "DeleteKV",
    "DeleteKVs",
    "GetKV",
    "KVChanged",
    "KVCreateBody",
    "KVDeleteBody",
    "KVDeleted",
    "KVDoc",
    "KVHistory",
    "KVList",
    "KVUpdateBody",
    "KieError",
    "ListKVs",
    "UpdateKV",
]
