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
from lib.auth import (
    ACCESS_COOKIE,
    caller_of,
    check_csrf,
    csrf_token,
    request_token,
    verified_claims,
)
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


def _session_body(session: AuthSession) -> tuple[dict[str, Any], str]:
    """The contract's Session (role read from the verified access token) and its session id."""
    from lib.tokens import InvalidToken, verify_access_token

    settings = get_settings()
    try:
        claims = verify_access_token(session.access_token, settings)
    except InvalidToken:
        raise BadGateway("The authentication service issued an unusable token") from None
    if claims.session_id is None:
        # The CSRF token is bound to the session: without its id there is nothing to bind to.
        raise BadGateway("The authentication service issued a token without a session")
    body = {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "token_type": "bearer",
        "expires_in": session.expires_in,
        "expires_at": session.expires_at,
        "csrf_token": csrf_token(claims.session_id, settings),
        "user": {"id": claims.sub, "email": claims.email, "role": claims.role},
    }
    return body, claims.session_id


def _session_response(request: Request, session: AuthSession) -> Response:
    """A Session answer that also sets the session cookies."""
    body, session_id = _session_body(session)
    response = json_response(body)
    _set_cookies(request, response, session, session_id, body["csrf_token"])
    return response


def _set_cookies(
    request: Request, response: Response, session: AuthSession, session_id: str, csrf: str
) -> None:
    response.cookies = cookies.session_cookies(
        request,
        session.access_token,
        session.refresh_token,
        int(session.expires_in),
        session_id=session_id,
        csrf=csrf,
    )


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
    issued = _session_body(result.session) if result.session is not None else None
    body = {
        "user": {"id": result.user.id, "email": result.user.email or credentials.email},
        "session": issued[0] if issued is not None else None,
    }
    response = json_response(body, 201)
    if result.session is not None and issued is not None:
        _set_cookies(request, response, result.session, issued[1], issued[0]["csrf_token"])
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
    return _session_response(request, result.session)


REFRESH_FAILED = "The refresh token is invalid, expired or revoked"


def _refreshed(token: str) -> AuthSession:
    """A new session for a refresh token. Raises Unauthorized when Auth refuses the token."""
    if not (token.isascii() and token.isprintable()):
        # Auth issues printable ASCII tokens; anything else cannot be one (and a NUL would only
        # make Auth's database refuse the lookup, a 500 upstream).
        raise Unauthorized(REFRESH_FAILED)
    with _auth_errors(lambda error: Unauthorized(REFRESH_FAILED)):
        result = auth_client().refresh_session(token)
    if result.session is None:
        raise Unauthorized(REFRESH_FAILED)
    return result.session


def _cookie_refresh_token(request: Request) -> str:
    """The refresh cookie's token, once X-CSRF-Token proved the request is the session's own.

    Raises Unauthorized without a refresh cookie, Forbidden(csrf_failed) with the wrong token.
    """
    found = cookies.refresh_cookie(request)
    if found is None:
        raise Unauthorized("Send a refresh token in the body or the refresh cookie")
    session_id, token = found
    check_csrf(request, session_id, get_settings())
    return token


def refresh(request: Request) -> Response:
    """POST /api/auth/refresh: rotate a refresh token from the body or (with CSRF) the cookie."""
    from_body = request.body(RefreshRequest).refresh_token
    if from_body is not None:
        body, _ = _session_body(_refreshed(from_body))
        return json_response(body)
    return _session_response(request, _refreshed(_cookie_refresh_token(request)))


class _SessionGone(Unauthorized):
    """Auth no longer knows the session: logging out has nothing left to revoke."""


def _logout_token(request: Request) -> str | None:
    """An access token of the session to end; None when its refresh token is already dead.

    In the contract's order: the Authorization header, else a valid access cookie, else the
    refresh cookie alone, exchanged for a fresh access token because Auth's /logout takes
    nothing else (an expired access cookie must not strand a 30-day session). Cookies need the
    session's CSRF token. Raises Unauthorized or Forbidden(csrf_failed).
    """
    settings = get_settings()
    found = request_token(request)
    if found is not None and not found[1]:
        verified_claims(found[0], settings)
        return found[0]
    access = request.cookies.get(ACCESS_COOKIE)
    if access:
        try:
            claims = verified_claims(access, settings)
        except Unauthorized:
            if cookies.refresh_cookie(request) is None:
                raise
        else:
            check_csrf(request, claims.session_id, settings)
            return access
    if cookies.refresh_cookie(request) is None:
        raise Unauthorized("Sign in to sign out: send an access token or the session cookies")
    token = _cookie_refresh_token(request)
    try:
        return _refreshed(token).access_token
    except Unauthorized:
        return None


def logout(request: Request) -> Response:
    """POST /api/auth/logout: revoke this session upstream and clear the three cookies."""
    token = _logout_token(request)
    if token is not None:
        try:
            with _auth_errors(lambda error: _SessionGone()):
                auth_client().admin.sign_out(token, "local")
        except _SessionGone:
            pass
    response = empty_response(204)
    response.cookies = cookies.cleared_cookies(request)
    return response
