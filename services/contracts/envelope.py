"""Envelope shared by every command reply, and small models reused by several API groups."""

from __future__ import annotations

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
    ``{"status": 4xx/5xx, "error": {...}}``. ``status`` is the HTTP status the edge returns."""

    status: int = 200
    result: Any = None
    error: ErrorBody | None = None
    # HTTP headers the edge copies onto the response (the registry's X-Resource-Revision,
    # X-Schema-Summary, Deprecation); absent on most replies.
    headers: dict[str, str] | None = None

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
    encoded again): what the workers' fast paths answer from memory."""
    head = b'{"status":' + str(status).encode()
    if headers:
        head += b',"headers":' + orjson.dumps(headers)
    return head + b',"result":' + result_json + b"}"


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
