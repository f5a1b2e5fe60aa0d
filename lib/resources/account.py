"""The caller's account: /api/me, its password, and the auth routes.

The API is a backend-for-frontend over Supabase Auth: it calls Auth through
supabase-py's auth client (with the caller's IP in Sb-Forwarded-For, see
lib.supabase.clients.auth_headers), answers with the contract's Session shape and, for
browsers, keeps tokens in HttpOnly cookies. Auth's own refusals keep their
meaning: its 429 is our 429, its outages our 503/504.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx

from lib.config import get_settings
from lib.contract.schemas import (
    Credentials,
    LoginCredentials,
    PasswordChange,
    RecoverRequest,
    RefreshRequest,
    VerifyRequest,
)
from lib.http import cookies, cors
from lib.http.cookies import ACCESS_COOKIE
from lib.http.log import log_event
from lib.http.problems import (
    ApiError,
    BadGateway,
    Conflict,
    FieldError,
    Forbidden,
    GatewayTimeout,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from lib.http.request import Request
from lib.http.response import Response, empty_response, json_response
from lib.supabase.caller import (
    caller_of,
    check_csrf,
    csrf_token,
    request_token,
    verified_claims,
)
from lib.supabase.clients import auth_client

if TYPE_CHECKING:
    from supabase_auth.types import Session as AuthSession

T = TypeVar("T")
LOGIN_FAILED = "Invalid email or password"


def me(request: Request) -> Response:
    """GET /api/me: who the caller is now: the live session's current role, read from the database.

    Raises Unauthorized when the session has ended (logout, role change, deleted user).
    """
    from lib.supabase.caller import Caller
    from lib.supabase.clients import user_client
    from lib.supabase.upstream import expect_object, upstream_call

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


# Auth's 429 carries no Retry-After; its buckets refill within about a minute (sign-ins,
# verifications: token buckets refilled every few seconds; a repeated email: 60 s by default).
AUTH_RETRY_AFTER = 60
UPSTREAM_TIMEOUTS = (504, 524)  # a gateway's "the upstream was too slow": Supabase's, Cloudflare's


class _EmailSendLimited(RateLimited):
    """Auth refused to send one more email to this address (or the project's email budget is spent)."""


def _transport_problem(error: Exception) -> ApiError:
    cause = error.__cause__
    if isinstance(cause, httpx.TimeoutException) and not isinstance(cause, httpx.ConnectTimeout):
        return GatewayTimeout("The authentication service did not answer in time")
    status = getattr(error, "status", 0)
    if status in UPSTREAM_TIMEOUTS:
        return GatewayTimeout("The authentication service did not answer in time")
    if status in (502, 520):
        return BadGateway("The authentication service answered with an invalid response")
    return ServiceUnavailable("The authentication service is unavailable")


def _rate_limited(error: Any) -> RateLimited:
    """Auth's own 429, never disguised as a 401 or 422 (the caller is to wait, not to retype)."""
    if error.code == "over_email_send_rate_limit":
        return _EmailSendLimited(AUTH_RETRY_AFTER)
    return RateLimited(AUTH_RETRY_AFTER)


@contextmanager
def _auth_errors(on_api_error: Callable[[Any], ApiError]) -> Iterator[None]:
    """Map what Auth raises: 429 and outages as themselves, other 4xx answers by `on_api_error`."""
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
        if error.status == 429:
            raise _rate_limited(error) from None
        if error.status >= 500:
            raise BadGateway("The authentication service failed") from None
        raise on_api_error(error) from None
    except (AuthError, httpx.HTTPError, ValueError) as error:
        # AuthUnknownError, unparseable answers (pydantic ValueError), stray transport errors.
        raise BadGateway("The authentication service answered with an invalid response") from error


def _allowed_redirect(url: str | None) -> str | None:
    """`url` when it is an http(s) URL on an allowed origin (docs/api.md §5.4); else 422.

    Auth checks its own Redirect URLs list too, but falls back to the Site URL without a word
    when one does not match: refusing here tells the frontend at once.
    """
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    usable = (
        parts is not None
        and parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
        and not any(character.isspace() or character == "\\" for character in url)
    )
    if parts is None or not usable or parts.hostname is None:
        raise ValidationFailed([FieldError("redirect_to", "redirect_not_allowed", "Must be an http(s) URL")])
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = {"http": 80, "https": 443}[parts.scheme]
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")
    if not cors.is_allowed(origin, get_settings()):
        raise ValidationFailed(
            [FieldError("redirect_to", "redirect_not_allowed", "Must be a URL on an allowed origin")]
        )
    return url


def _session_body(session: AuthSession) -> tuple[dict[str, Any], str]:
    """The contract's Session (role read from the verified access token) and its session id."""
    from lib.supabase.tokens import InvalidToken, verify_access_token

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
    """POST /api/auth/signup: 201 with the user, and a session unless the email awaits confirmation.

    Under email confirmation (the hosted default) Auth answers an address that is already
    registered with an obfuscated user and sends nothing, so the answer is the same 201 whoever
    owns the address. With confirmation off it refuses the address: 409.
    """
    credentials = request.body(Credentials)
    redirect = _allowed_redirect(credentials.redirect_to)

    def failed(error: Any) -> ApiError:
        if error.code in ("user_already_exists", "email_exists"):
            return Conflict("An account with this email already exists")
        return ValidationFailed([FieldError("email", "rejected", "This email cannot be used to sign up")])

    with _auth_errors(failed):
        result = auth_client(request.client_ip).sign_up(
            {
                "email": credentials.email,
                "password": credentials.password,
                "options": {"email_redirect_to": redirect} if redirect is not None else {},
            }
        )
    if result.user is None:
        raise BadGateway("The authentication service answered with an invalid response")
    issued = _session_body(result.session) if result.session is not None else None
    body = {
        "user": {"id": result.user.id, "email": result.user.email or credentials.email},
        "session": issued[0] if issued is not None else None,
        "confirmation_sent": issued is None,
    }
    response = json_response(body, 201)
    if result.session is not None and issued is not None:
        _set_cookies(request, response, result.session, issued[1], issued[0]["csrf_token"])
    return response


def _login_refused(error: Any) -> ApiError:
    # Auth says so only once the password matched (GoTrue checks it first): no enumeration.
    if error.code == "email_not_confirmed":
        return Forbidden(
            "Confirm your email address first: follow the link in the confirmation email",
            code="email_not_confirmed",
        )
    return Unauthorized(LOGIN_FAILED)


def login(request: Request) -> Response:
    """POST /api/auth/login: a Session and the session cookies; one generic 401 otherwise.

    Whatever the pair's shape, a wrong one is that 401: Auth answers a malformed address with a
    4xx, mapped to the 401 below. An address no account can have is not sent at all: a blank one
    (the auth client refuses it itself) or one holding NUL (Postgres text cannot store it). The
    right password of an account whose email is not confirmed yet is 403 email_not_confirmed.
    """
    credentials = request.body(LoginCredentials)
    if not credentials.email or "\x00" in credentials.email:
        raise Unauthorized(LOGIN_FAILED)
    with _auth_errors(_login_refused):
        result = auth_client(request.client_ip).sign_in_with_password(
            {"email": credentials.email, "password": credentials.password}
        )
    if result.session is None:
        raise Unauthorized(LOGIN_FAILED)
    return _session_response(request, result.session)


def recover(request: Request) -> Response:
    """POST /api/auth/recover: 202 {} whether or not the address is registered; Auth sends the email.

    Auth's per-address email limit (one email a minute by default, and the project's hourly
    budget) would tell a registered address from an unknown one, which Auth answers without
    sending anything: that refusal is logged and answered 202 like the rest. Its per-IP limit,
    the same for every address, is a 429.
    """
    body = request.body(RecoverRequest)
    redirect = _allowed_redirect(body.redirect_to)
    try:
        with _auth_errors(
            lambda error: ValidationFailed([FieldError("email", "rejected", "This email cannot be used")])
        ):
            auth_client(request.client_ip).reset_password_for_email(
                body.email, {"redirect_to": redirect} if redirect is not None else {}
            )
    except _EmailSendLimited:
        log_event("recover_email_limited", level="info", request_id=request.request_id)
    return json_response({}, 202)


VERIFY_FAILED = "The link is invalid, already used or expired"


def verify(request: Request) -> Response:
    """POST /api/auth/verify: the token hash of an email link for a Session and the session cookies.

    Raises Unauthorized for an invalid, used or expired token. Under Auth's secure email change
    the first of the two links only confirms its half (no session yet): 202 {}.
    """
    body = request.body(VerifyRequest)
    with _auth_errors(lambda error: Unauthorized(VERIFY_FAILED)):
        result = auth_client(request.client_ip).verify_otp({"token_hash": body.token_hash, "type": body.type})
    if result.session is None:
        if body.type == "email_change" and result.user is None:
            return json_response({}, 202)
        raise Unauthorized(VERIFY_FAILED)
    return _session_response(request, result.session)


REFRESH_FAILED = "The refresh token is invalid, expired or revoked"


def _refreshed(request: Request, token: str) -> AuthSession:
    """A new session for a refresh token. Raises Unauthorized when Auth refuses the token."""
    if not (token.isascii() and token.isprintable()):
        # Auth issues printable ASCII tokens; anything else cannot be one (and a NUL would only
        # make Auth's database refuse the lookup, a 500 upstream).
        raise Unauthorized(REFRESH_FAILED)
    with _auth_errors(lambda error: Unauthorized(REFRESH_FAILED)):
        result = auth_client(request.client_ip).refresh_session(token)
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
        body, _ = _session_body(_refreshed(request, from_body))
        return json_response(body)
    return _session_response(request, _refreshed(request, _cookie_refresh_token(request)))


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
        return _refreshed(request, token).access_token
    except Unauthorized:
        return None


def logout(request: Request) -> Response:
    """POST /api/auth/logout: revoke this session upstream and clear the three cookies."""
    token = _logout_token(request)
    if token is not None:
        _sign_out(request, token, "local")
    response = empty_response(204)
    response.cookies = cookies.cleared_cookies(request)
    return response


def _sign_out(request: Request, token: str, scope: Any) -> None:
    """Auth's /logout for the session of `token` (`local`) or the user's other ones (`others`).

    A session Auth no longer knows has nothing left to revoke: not an error.
    """
    try:
        with _auth_errors(lambda error: _SessionGone()):
            auth_client(request.client_ip).admin.sign_out(token, scope)
    except _SessionGone:
        pass


# --- PUT /api/me/password ------------------------------------------------------------------

RECOVERY_WINDOW = 600  # seconds after the verify during which no current password is asked
# The sign-in methods that proved control of the mailbox, as GoTrue records them in the token's
# `amr` (Session.IsRecovery: otp, magiclink, recovery). POST /verify records "otp" whatever the
# link's type; the redirect flow records the type. The entry's timestamp is when it happened,
# kept through refreshes, and Auth signed it: neither the caller nor a refresh can move it.
RECOVERY_METHODS = frozenset({"otp", "magiclink", "recovery"})
NO_RECOVERY_HINT = (
    "Send your current password as current_password (it may be left out only within 10 minutes"
    " of verifying a password-recovery link)"
)


def recovered_recently(claims: Mapping[str, Any], now: float) -> bool:
    """True when the token's session began with an email link (recovery) at most 10 minutes ago."""
    amr = claims.get("amr")
    if not isinstance(amr, list):
        return False
    for entry in amr:
        if not isinstance(entry, dict) or entry.get("method") not in RECOVERY_METHODS:
            continue
        stamp = entry.get("timestamp")
        if isinstance(stamp, int) and not isinstance(stamp, bool) and 0 <= now - stamp <= RECOVERY_WINDOW:
            return True
    return False


class _WrongPasswordProblem(Forbidden):
    """Auth refused the password grant that checks the current password."""

    def __init__(self) -> None:
        super().__init__("The current password is wrong", code="current_password_invalid")


def _check_current_password(request: Request, email: str | None, password: str) -> None:
    """Auth's password grant for the caller's address; the session it opens is closed at once.

    Raises Forbidden(current_password_invalid) when Auth refuses the pair.
    """
    if not email:
        raise _WrongPasswordProblem()
    with _auth_errors(lambda error: _WrongPasswordProblem()):
        result = auth_client(request.client_ip).sign_in_with_password({"email": email, "password": password})
    if result.session is None:
        raise _WrongPasswordProblem()
    _sign_out(request, result.session.access_token, "local")


def _update_refused(error: Any) -> ApiError:
    if error.code == "same_password":
        return ValidationFailed(
            [FieldError("password", "same_password", "Choose a password other than the current one")]
        )
    if error.code in ("current_password_mismatch", "current_password_required"):
        return Forbidden("The current password is wrong", code="current_password_invalid")
    if error.code == "reauthentication_needed":
        return Forbidden("Sign in again, then change the password")
    if error.status in (401, 403, 404):
        return Unauthorized("The session has ended; sign in again")
    return ValidationFailed([FieldError("password", "rejected", "This password cannot be used")])


def change_password(request: Request) -> Response:
    """PUT /api/me/password: 204; the user's other sessions are revoked, the caller's stays.

    The current password is required unless the caller's session began with a recovery link at
    most 10 minutes ago (recovered_recently). Raises Forbidden(current_password_invalid) when it
    is wrong or missing, ValidationFailed for a password Auth refuses.
    """
    caller = caller_of(request)
    body = request.body(PasswordChange)
    if body.current_password is not None:
        _check_current_password(request, caller.email, body.current_password)
    elif not recovered_recently(verified_claims(caller.access_token, get_settings()).raw, time.time()):
        raise Forbidden(NO_RECOVERY_HINT, code="current_password_invalid")
    attributes: dict[str, str] = {"password": body.password}
    if body.current_password is not None:
        # For a project with "require current password" on: Auth checks it again itself.
        attributes["current_password"] = body.current_password
    with _auth_errors(_update_refused):
        # PUT /user as the caller: supabase-py's update_user wants a stored session, which a
        # stateless function does not keep; its request helper takes the token per call.
        auth_client(request.client_ip)._request("PUT", "user", body=attributes, jwt=caller.access_token)
    # Auth ends the other sessions itself on a password change (GoTrue's UpdatePassword); asked
    # once more so that the contract holds whatever the Auth version does.
    _sign_out(request, caller.access_token, "others")
    return empty_response(204)
