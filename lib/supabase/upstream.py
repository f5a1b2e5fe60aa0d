"""Upstream (PostgREST, Auth) failures, translated into our problems without their text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lib.http.problems import (
    ApiError,
    BadGateway,
    GatewayTimeout,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)
from lib.supabase.rest import RestError
from lib.supabase.transport import ConnectFailed, GatewayFailed, ReadTimedOut, TransportError

# PostgREST codes that mean "your token is not acceptable"; VS401 is our
# db-pre-request's "the token's session has ended" (logout, role change).
_JWT_CODES = {"PGRST300", "PGRST301", "PGRST302", "PGRST303", "VS401"}
QUERY_CANCELED = "57014"  # statement_timeout
# Our db-pre-request's "the caller's write budget is spent", sent as a 429 with Retry-After
# and the RateLimit headers, which lib.supabase.clients captures for the request.
WRITES_LIMITED = "VR429"


def map_transport_error(error: TransportError) -> ApiError:
    """The problem for a network-level failure talking to PostgREST (lib.supabase.transport's errors)."""
    if isinstance(error, GatewayFailed):
        return map_status(error.status) or BadGateway("The database service failed")
    if isinstance(error, ConnectFailed):  # refused, unreachable, or ConnectTimedOut
        return ServiceUnavailable("The database service is not reachable")
    if isinstance(error, ReadTimedOut):
        return GatewayTimeout("The database service did not answer in time")
    return BadGateway("The database service answered with an invalid response")


def map_status(status: int) -> ApiError | None:
    """The problem for a gateway-level status that did not come from PostgREST itself."""
    if status == 503:
        return ServiceUnavailable("The database service is unavailable")
    if status == 504:
        return GatewayTimeout("The database service did not answer in time")
    if status in (502, 520, 521, 522, 523, 524, 530):
        return BadGateway("The database service answered with an invalid response")
    return None


def map_api_error(code: str | None) -> ApiError:
    """The problem for a PostgREST error code we did not handle more specifically."""
    if code == WRITES_LIMITED:
        return _writes_limited()
    if code == QUERY_CANCELED:
        return GatewayTimeout("The query took too long")
    if code in _JWT_CODES:
        return Unauthorized("The access token was rejected")
    if code is not None and code.isdigit() and (mapped := map_status(int(code))) is not None:
        return mapped
    return BadGateway("The database service rejected the request")


def _writes_limited() -> RateLimited:
    from lib.supabase.clients import captured_rate_headers

    headers = captured_rate_headers()
    retry_after = headers.pop("Retry-After", "")
    # Without the header (a proxy dropped it), a second is the shortest honest wait.
    return RateLimited(int(retry_after) if retry_after.isdigit() else 1, headers)


@contextmanager
def upstream_call(translate: Callable[[Any], ApiError | None] | None = None) -> Iterator[None]:
    """Run PostgREST calls; map every failure to a problem. `translate` may claim RestErrors first."""
    try:
        yield
    except TransportError as error:
        raise map_transport_error(error) from None
    except RestError as error:
        mapped = translate(error) if translate is not None else None
        raise (mapped or map_api_error(error.code)) from None


def expect_rows(data: object) -> list[dict[str, Any]]:
    """PostgREST's rows, or BadGateway if the body was not a JSON array of objects."""
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise BadGateway("The database service answered with an invalid response")
    return data


def expect_object(data: object) -> dict[str, Any]:
    """A JSON object result, or BadGateway."""
    if not isinstance(data, dict):
        raise BadGateway("The database service answered with an invalid response")
    return data
