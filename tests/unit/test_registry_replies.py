"""The registry's reply encoders (workers/registry/replies.py) write the one reply shape,
services.contracts.envelope.Reply, byte for byte what the model means."""

from __future__ import annotations

import orjson
import pytest

from services.contracts.envelope import ErrorBody, Reply
from services.contracts.errors import ServiceError
from services.contracts.registry_errors import instance_not_exists
from workers.registry import replies


def as_reply(data: bytes) -> Reply:
    return Reply.model_validate(orjson.loads(data))


@pytest.mark.parametrize(
    "data,expected",
    [
        (replies.OK_EMPTY, Reply()),
        (replies.reply(), Reply()),
        (replies.reply({"instanceId": "i1"}), Reply.ok({"instanceId": "i1"})),
        (replies.reply({}), Reply.ok({})),
        (replies.reply(status=304, headers={"X-Resource-Revision": "r"}), Reply(status=304, headers={"X-Resource-Revision": "r"})),
        (
            replies.reply_with_json(b'{"instances":[{"instanceId":"i"}]}', headers={"X-Resource-Revision": "r"}),
            Reply.ok({"instances": [{"instanceId": "i"}]}, headers={"X-Resource-Revision": "r"}),
        ),
        (replies.reply_with_json(b"{}", status=201), Reply.ok({}, status=201)),
    ],
)
def test_encoders_write_the_reply_model(data, expected):
    assert as_reply(data) == expected
    # nothing absent is written as null
    assert b"null" not in data
    assert data == replies.OK_EMPTY or data.startswith(b'{"status":')


def test_failures():
    err = instance_not_exists()
    assert as_reply(replies.failure(err)) == Reply(
        status=400, error=ErrorBody(status=400, error_code="400017", error_msg="Instance does not exist", detail=err.detail)
    )
    assert replies.failure(err) == Reply.failure(err).model_dump_json().encode()
    internal = as_reply(replies.failure(RuntimeError("boom")))
    assert internal.status == 500 and internal.error is not None and "boom" not in internal.error.error_msg
    teapot = ServiceError(418, "X.1", "short and stout")
    assert as_reply(replies.failure(teapot)).error == ErrorBody.of(teapot)
