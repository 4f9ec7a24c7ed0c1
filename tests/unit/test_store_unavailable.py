"""A command whose handler cannot reach the store answers 503 (as when no worker answers), not 500."""

from __future__ import annotations

from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError

from services.contracts.errors import UNAVAILABLE, ServiceError
from workers.runtime import as_service_error


def test_store_unreachable_is_503() -> None:
    for exc in (AutoReconnect("connection reset"), ServerSelectionTimeoutError("refused")):
        err = as_service_error(exc)
        assert err.status == 503 and err.code == UNAVAILABLE


def test_transient_transaction_error_is_503() -> None:
    exc = OperationFailure("no such savepoint", details={"errorLabels": ["TransientTransactionError"]})
    assert as_service_error(exc).status == 503


def test_other_failures_stay_500_and_service_errors_pass() -> None:
    assert as_service_error(ValueError("bug")).status == 500
    assert as_service_error(OperationFailure("bad query")).status == 500
    own = ServiceError(404, "SVCSTG.00100411", "missing")
    assert as_service_error(own) is own
