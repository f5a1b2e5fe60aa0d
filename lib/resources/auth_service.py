"""Calling Supabase Auth: its refusals and outages as the contract's problems, and signing out.

Auth's own refusals keep their meaning: its 429 is our 429, its outages our 503/504;
what else it refuses each caller maps (`auth_errors(on_api_error)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lib.http.problems import (
    ApiError,
    BadGateway,
    FieldError,
    GatewayTimeout,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from lib.supabase.deps import Deps

# Auth's 429 carries no Retry-After; its buckets refill within about a minute (sign-ins,
# verifications: token buckets refilled every few seconds; a repeated email: 60 s by default).
AUTH_RETRY_AFTER = 60
UPSTREAM_TIMEOUTS = (504, 524)  # a gateway's "the upstream was too slow": Supabase's, Cloudflare's


class EmailSendLimited(RateLimited):
    """Auth refused to send one more email to this address (or the project's email budget is spent)."""


def transport_problem(error: Exception) -> ApiError:
    """Auth unreachable or too slow (AuthRetryableError, its httpx cause) as 503/504/502."""
    import httpx  # what supabase_auth raises over; loaded only once Auth is called (not by GET /api/me)

    cause = error.__cause__
    if isinstance(cause, httpx.TimeoutException) and not isinstance(cause, httpx.ConnectTimeout):
        return GatewayTimeout("The authentication service did not answer in time")
    status = getattr(error, "status", 0)
    if status in UPSTREAM_TIMEOUTS:
        return GatewayTimeout("The authentication service did not answer in time")
    if status in (502, 520):
        return BadGateway("The authentication service answered with an invalid response")
    return ServiceUnavailable("The authentication service is unavailable")


def rate_limited(error: Any) -> RateLimited:
    """Auth's own 429, never disguised as a 401 or 422 (the caller is to wait, not to retype)."""
    if error.code == "over_email_send_rate_limit":
        return EmailSendLimited(AUTH_RETRY_AFTER)
    return RateLimited(AUTH_RETRY_AFTER)


@contextmanager
def auth_errors(on_api_error: Callable[[Any], ApiError]) -> Iterator[None]:
    """Map what Auth raises: 429 and outages as themselves, other 4xx answers by `on_api_error`."""
    import httpx
    from supabase_auth.errors import AuthApiError, AuthError, AuthRetryableError, AuthWeakPasswordError

    try:
        yield
    except AuthWeakPasswordError:
        raise ValidationFailed(
            [FieldError("password", "weak_password", "Choose a stronger password")]
        ) from None
    except AuthRetryableError as error:
        raise transport_problem(error) from None
    except AuthApiError as error:
        if error.status == 429:
            raise rate_limited(error) from None
        if error.status >= 500:
            raise BadGateway("The authentication service failed") from None
        raise on_api_error(error) from None
    except (AuthError, httpx.HTTPError, ValueError) as error:
        # AuthUnknownError, unparseable answers (pydantic ValueError), stray transport errors.
        raise BadGateway("The authentication service answered with an invalid response") from error


class SessionGone(Unauthorized):
    """Auth no longer knows the session: logging out has nothing left to revoke."""


def sign_out(deps: Deps, client_ip: str, token: str, scope: Any) -> None:
    """Auth's /logout for the session of `token` (`local`) or the user's other ones (`others`).

    A session Auth no longer knows has nothing left to revoke: not an error.
    """
    try:
        with auth_errors(lambda error: SessionGone()):
            deps.auth_client(client_ip).admin.sign_out(token, scope)
    except SessionGone:
        pass
