"""Envelope shared by every command reply, and small models reused by several API groups."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from services.contracts.errors import ServiceError


class ErrorBody(BaseModel):
    """A typed error: the edge maps it to the API's own error shape without changing it."""

    status: int
    error_code: str
    error_msg: str
    detail: str = ""

    @classmethod
    def of(cls, err: ServiceError) -> ErrorBody:
        return cls(status=err.status, error_code=err.code, error_msg=err.message, detail=err.detail)


class Reply(BaseModel):
    """What every command/query subject answers: ``{"status": 200, "result": ...}`` or
    ``{"status": 4xx/5xx, "error": {...}}``. ``status`` is the HTTP status the edge returns.

    ``result`` is the last field, so its JSON ends the reply's: the edge forwards a successful
    reply's result without decoding it (``split_success``)."""

    status: int = 200
    error: ErrorBody | None = None
    # HTTP headers the edge copies onto the response (the registry's X-Resource-Revision,
    # X-Schema-Summary, Deprecation); absent on most replies.
    headers: dict[str, str] | None = None
    result: Any = None

    @classmethod
    def ok(
        cls, result: BaseModel | dict[str, Any] | list[Any] | None = None, status: int = 200, headers: dict[str, str] | None = None
    ) -> Reply:
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        return cls(status=status, result=result, headers=headers)

    @classmethod
    def failure(cls, err: ServiceError) -> Reply:
        return cls(status=err.status, error=ErrorBody.of(err))


# A list's offset: at most what MongoDB's skip() takes (a 64-bit integer); beyond, 400
Offset = Annotated[int, Field(ge=0, le=2**63 - 1)]


def reply_with_json(result_json: bytes, status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    """A :class:`Reply` as bytes whose ``result`` is already-serialized JSON (embedded, not
    encoded again), last: what the workers' fast paths answer from memory."""
    head = b'{"status":%d' % status
    if headers:
        head += b',"headers":' + orjson.dumps(headers)
    return head + b',"result":' + result_json + b"}"


# A successful reply as Reply.model_dump_json(), reply_with_json and the registry's encoders
# (workers/registry/replies.py) write it: the status, no error, the headers (null, or an object of
# strings; one whose strings hold a brace is left to the full decoding), then the result, last, up
# to the closing brace, or no result at all.
_SUCCESS_HEAD = re.compile(rb'\{"status":(\d{3})(?:,"error":null)?(?:,"headers":(null|\{[^{}]*\}))?(,"result":|\}$)')
# what would follow the result in a reply written in another key order (a worker of an earlier
# version wrote status, result, error, headers)
_AFTER_RESULT = (b',"headers":', b',"error":')


def split_success(data: bytes) -> tuple[int, dict[str, str] | None, bytes] | None:
    """A successful reply's (status, headers, result JSON: ``null`` when absent), the result as it
    was written, not decoded; None when ``data`` is not in that form (an error; keys in another
    order, or a result that holds one of ``_AFTER_RESULT``), which is then decoded as a
    :class:`Reply`. Pure: unit-tested."""
    head = _SUCCESS_HEAD.match(data)
    if head is None or not data.endswith(b"}"):
        return None
    result = b"null"
    if head[3] != b"}":
        result = data[head.end() : -1]
        if any(key in result for key in _AFTER_RESULT):
            return None
    headers = None if head[2] in (None, b"null") else orjson.loads(head[2])
    return int(head[1]), headers, result


class Page(BaseModel):
    """limit/offset/order_by/order as the v2 list calls take them."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=1000, ge=0, le=1000)
    offset: Offset = 0
    order_by: str = "create_time"
    order: Literal["desc", "asc"] = "desc"


class Empty(BaseModel):
    """A command that needs nothing but its subject (the project comes from the subject)."""

    model_config = ConfigDict(extra="ignore")
