"""Upstream failures as problems, without their text: PostgREST (lib.supabase.upstream) and Auth
(lib.resources.auth_service)."""

from __future__ import annotations

import pytest
from supabase_auth.errors import AuthApiError, AuthRetryableError, AuthWeakPasswordError

from lib.http.problems import (
    ApiError,
    BadGateway,
    Conflict,
    GatewayTimeout,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from lib.resources.auth_service import EmailSendLimited, auth_errors
from lib.supabase import db_errors
from lib.supabase.rest import RestError
from lib.supabase.transport import (
    ConnectFailed,
    ConnectTimedOut,
    ExchangeFailed,
    GatewayFailed,
    ReadTimedOut,
    TransportError,
)
from lib.supabase.upstream import expect_object, expect_rows, upstream_call


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ConnectFailed("refused"), ServiceUnavailable),
        (ConnectTimedOut("slow"), ServiceUnavailable),
        (ReadTimedOut("slow"), GatewayTimeout),
        (GatewayFailed(503), ServiceUnavailable),
        (GatewayFailed(504), GatewayTimeout),
        (GatewayFailed(502), BadGateway),
        (GatewayFailed(530), BadGateway),
        (ExchangeFailed("garbage"), BadGateway),
        (TransportError("other"), BadGateway),
        (RestError({"code": "57014", "message": "canceling statement"}), GatewayTimeout),
        (RestError({"code": "PGRST301", "message": "jwt"}), Unauthorized),
        (RestError({"code": "VS401", "message": "session ended"}), Unauthorized),
        (RestError({"code": "XX000", "message": "internal detail"}), BadGateway),
    ],
)
def test_postgrest_failures(raised: Exception, expected: type[ApiError]) -> None:
    with pytest.raises(expected) as mapped, upstream_call():
        raise raised
    assert "internal detail" not in str(mapped.value)


def test_our_schemas_errors_are_claimed_first() -> None:
    with pytest.raises(Conflict) as mapped, upstream_call(db_errors.translate):
        raise RestError(
            {
                "code": "23505",
                "message": 'duplicate key value violates unique constraint "vehicles_vin_key"',
            }
        )
    assert mapped.value.code == "duplicate_vin"


def test_answers_of_the_wrong_shape_are_502() -> None:
    assert expect_rows([{"a": 1}]) == [{"a": 1}]
    assert expect_object({"a": 1}) == {"a": 1}
    for wrong in (None, {"a": 1}, [1]):
        with pytest.raises(BadGateway):
            expect_rows(wrong)
    with pytest.raises(BadGateway):
        expect_object([])


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (AuthApiError("wait", 429, "over_request_rate_limit"), RateLimited),
        (AuthApiError("wait", 429, "over_email_send_rate_limit"), EmailSendLimited),
        (AuthApiError("boom", 500, "unexpected_failure"), BadGateway),
        (AuthApiError("no", 400, "invalid_credentials"), Unauthorized),
        (AuthRetryableError("down", 503), ServiceUnavailable),
        (AuthRetryableError("slow", 504), GatewayTimeout),
        (AuthRetryableError("bad", 502), BadGateway),
        (AuthWeakPasswordError("weak", 422, ["length"]), ValidationFailed),
        (ValueError("unparseable"), BadGateway),
    ],
)
def test_auth_failures(raised: Exception, expected: type[ApiError]) -> None:
    with pytest.raises(expected), auth_errors(lambda error: Unauthorized("refused")):
        raise raised
