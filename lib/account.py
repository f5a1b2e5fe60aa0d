"""The caller's account: /api/me and the auth routes (sign-up, login, refresh, logout).

The API is a backend-for-frontend over Supabase Auth: it calls Auth through
supabase-py's auth client, answers with the contract's Session shape and, for
browsers, keeps tokens in HttpOnly cookies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from lib import cookies
from lib.auth import REFRESH_COOKIE, caller_of, check_csrf
from lib.clients import auth_client
from lib.config import get_settings
from lib.problems import (
    ApiError,
    BadGateway,
    Conflict,
    FieldError,
    GatewayTimeout,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from lib.request import Request
from lib.response import Response, empty_response, json_response
from lib.schemas import Credentials, LoginCredentials, RefreshRequest

if TYPE_CHECKING:
    from supabase_auth.types import Session as AuthSession

T = TypeVar("T")
LOGIN_FAILED = "Invalid email or password"


def me(request: Request) -> Response:
    """GET /api/me: who the caller is now: the live session's current role, read from the database.

    Raises Unauthorized when the session has ended (logout, role change, deleted user).
    """
    from lib.auth import Caller
    from lib.clients import user_client
    from lib.upstream import expect_object, upstream_call

    caller = caller_of(request)
    with upstream_call():
        result = user_client(caller.access_token).rpc("me", {}).execute()
    row = expect_object(result.data)
    current = Caller(
        user_id=str(row.get("id") or caller.user_id),
        email=row.get("email") or caller.email,
        role=str(row.get("role") or "member"),
        access_token=caller.access_token,
    )
    return json_response(
        {
            "id": current.user_id,
            "email": current.email,
            "role": current.role,
            "permissions": list(current.permissions),
        }
    )


def _transport_problem(error: Exception) -> ApiError:
    cause = error.__cause__
    if isinstance(cause, httpx.TimeoutException) and not isinstance(cause, httpx.ConnectTimeout):
        return GatewayTimeout("The authentication service did not answer in time")
    status = getattr(error, "status", 0)
    if status in (502, 520):
        return BadGateway("The authentication service answered with an invalid response")
    return ServiceUnavailable("The authentication service is unavailable")


@contextmanager
def _auth_errors(on_api_error: Callable[[Any], ApiError]) -> Iterator[None]:
    from supabase_auth.errors import AuthApiError, AuthError, AuthRetryableError, AuthWeakPasswordError

    try:
        yield
    except AuthWeakPasswordError:
        raise ValidationFailed(
            [FieldError("password", "weak_password", "Choose a stronger password")]
        ) from None
    except AuthRetryableError as error:
        raise _transport_problem(error) from None
    except AuthApiError as error:
        if error.status >= 500:
            raise BadGateway("The authentication service failed") from None
        raise on_api_error(error) from None
    except (AuthError, httpx.HTTPError, ValueError) as error:
        # AuthUnknownError, unparseable answers (pydantic ValueError), stray transport errors.
        raise BadGateway("The authentication service answered with an invalid response") from error


def _session_body(session: AuthSession) -> dict[str, Any]:
    """The contract's Session, with the role read from the verified access token."""
    from lib.tokens import InvalidToken, verify_access_token

    try:
        claims = verify_access_token(session.access_token, get_settings())
    except InvalidToken:
        raise BadGateway("The authentication service issued an unusable token") from None
    return {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "token_type": "bearer",
        "expires_in": session.expires_in,
        "expires_at": session.expires_at,
        "user": {"id": claims.sub, "email": claims.email, "role": claims.role},
    }


def _with_cookies(request: Request, response: Response, session: AuthSession) -> Response:
    response.cookies = cookies.session_cookies(
        request, session.access_token, session.refresh_token, int(session.expires_in)
    )
    return response


def signup(request: Request) -> Response:
    """POST /api/auth/signup: 201 with the user and, when Auth signs them in at once, a session."""
    credentials = request.body(Credentials)

    def failed(error: Any) -> ApiError:
        if error.code in ("user_already_exists", "email_exists"):
            return Conflict("An account with this email already exists")
        return ValidationFailed([FieldError("email", "rejected", "This email cannot be used to sign up")])

    with _auth_errors(failed):
        result = auth_client().sign_up({"email": credentials.email, "password": credentials.password})
    if result.user is None:
        raise BadGateway("The authentication service answered with an invalid response")
    session = _session_body(result.session) if result.session is not None else None
    body = {
        "user": {"id": result.user.id, "email": result.user.email or credentials.email},
        "session": session,
    }
    response = json_response(body, 201)
    if result.session is not None:
        _with_cookies(request, response, result.session)
    return response


def login(request: Request) -> Response:
    """POST /api/auth/login: a Session and the session cookies; one generic 401 otherwise.

    Whatever the pair's shape, a wrong one is that 401: Auth answers a malformed address with a
    4xx, mapped to the 401 below. An address no account can have is not sent at all: a blank one
    (the auth client refuses it itself) or one holding NUL (Postgres text cannot store it).
    """
    credentials = request.body(LoginCredentials)
    if not credentials.email or "\x00" in credentials.email:
        raise Unauthorized(LOGIN_FAILED)
    with _auth_errors(lambda error: Unauthorized(LOGIN_FAILED)):
        result = auth_client().sign_in_with_password(
            {"email": credentials.email, "password": credentials.password}
        )
    if result.session is None:
        raise Unauthorized(LOGIN_FAILED)
    return _with_cookies(request, json_response(_session_body(result.session)), result.session)


def refresh(request: Request) -> Response:
    """POST /api/auth/refresh: rotate a refresh token from the body or the cookie."""
    from_body = request.body(RefreshRequest).refresh_token
    token = from_body or request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthorized("Send a refresh token in the body or the refresh cookie")
    if from_body is None:
        check_csrf(request)
    with _auth_errors(lambda error: Unauthorized("The refresh token is invalid, expired or revoked")):
        result = auth_client().refresh_session(token)
    if result.session is None:
        raise Unauthorized("The refresh token is invalid, expired or revoked")
    response = json_response(_session_body(result.session))
    return response if from_body is not None else _with_cookies(request, response, result.session)


class _SessionGone(Unauthorized):
    """Auth no longer knows the session: logging out has nothing left to revoke."""


def logout(request: Request) -> Response:
    """POST /api/auth/logout: revoke this session upstream and clear the cookies."""
    caller = caller_of(request)
    try:
        with _auth_errors(lambda error: _SessionGone()):
            auth_client().admin.sign_out(caller.access_token, "local")
    except _SessionGone:
        pass
    response = empty_response(204)
    response.cookies = cookies.cleared_cookies(request)
    return response
