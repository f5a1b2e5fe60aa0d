"""The auth routes: sign-up, sign-in, refresh, sign-out, recovery and email links.

The API is a backend-for-frontend over Supabase Auth: it calls Auth through
supabase-py's auth client (with the caller's IP in Sb-Forwarded-For, see
lib.supabase.clients.auth_headers), answers with the contract's Session shape and, for
browsers, keeps tokens in HttpOnly cookies. Auth's refusals and outages are mapped by
lib.resources.auth_service; the caller's own account (/api/me) is lib.resources.me.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lib.config import Settings, get_settings
from lib.contract.inputs import (
    Credentials,
    EmptyBody,
    LoginCredentials,
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
    Unauthorized,
    ValidationFailed,
)
from lib.http.request import Request
from lib.http.response import Response, empty_response, json_response
from lib.resources.auth_service import EmailSendLimited, auth_errors, sign_out
from lib.supabase.caller import Anonymous, check_csrf, csrf_token, request_token, verified_claims

if TYPE_CHECKING:
    from supabase_auth.types import Session as AuthSession

LOGIN_FAILED = "Invalid email or password"
Open = Anonymous[Any, Any]  # any call of these routes, for the helpers that need only its request and deps


def _allowed_redirect(url: str | None, settings: Settings | None = None) -> str | None:
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
    if not cors.is_allowed(origin, settings if settings is not None else get_settings()):
        raise ValidationFailed(
            [FieldError("redirect_to", "redirect_not_allowed", "Must be a URL on an allowed origin")]
        )
    return url


def _session_body(session: AuthSession, settings: Settings) -> tuple[dict[str, Any], str]:
    """The contract's Session (role read from the verified access token) and its session id."""
    from lib.supabase.tokens import InvalidToken, verify_access_token

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


def _session_response(call: Open, session: AuthSession) -> Response:
    """A Session answer that also sets the session cookies."""
    body, session_id = _session_body(session, call.deps.settings())
    response = json_response(body)
    _set_cookies(call.request, response, session, session_id, body["csrf_token"])
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


def signup(call: Anonymous[Credentials, None]) -> Response:
    """POST /api/auth/signup: 201 with the user, and a session unless the email awaits confirmation.

    Under email confirmation (the hosted default) Auth answers an address that is already
    registered with an obfuscated user and sends nothing, so the answer is the same 201 whoever
    owns the address. With confirmation off it refuses the address: 409.
    """
    credentials, request = call.body, call.request
    settings = call.deps.settings()
    redirect = _allowed_redirect(credentials.redirect_to, settings)

    def failed(error: Any) -> ApiError:
        if error.code in ("user_already_exists", "email_exists"):
            return Conflict("An account with this email already exists")
        return ValidationFailed([FieldError("email", "rejected", "This email cannot be used to sign up")])

    with auth_errors(failed):
        result = call.deps.auth_client(request.client_ip).sign_up(
            {
                "email": credentials.email,
                "password": credentials.password,
                "options": {"email_redirect_to": redirect} if redirect is not None else {},
            }
        )
    if result.user is None:
        raise BadGateway("The authentication service answered with an invalid response")
    issued = _session_body(result.session, settings) if result.session is not None else None
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


def login(call: Anonymous[LoginCredentials, None]) -> Response:
    """POST /api/auth/login: a Session and the session cookies; one generic 401 otherwise.

    Whatever the pair's shape, a wrong one is that 401: Auth answers a malformed address with a
    4xx, mapped to the 401 below. An address no account can have is not sent at all: a blank one
    (the auth client refuses it itself) or one holding NUL (Postgres text cannot store it). The
    right password of an account whose email is not confirmed yet is 403 email_not_confirmed.
    """
    credentials = call.body
    if not credentials.email or "\x00" in credentials.email:
        raise Unauthorized(LOGIN_FAILED)
    with auth_errors(_login_refused):
        result = call.deps.auth_client(call.request.client_ip).sign_in_with_password(
            {"email": credentials.email, "password": credentials.password}
        )
    if result.session is None:
        raise Unauthorized(LOGIN_FAILED)
    return _session_response(call, result.session)


def recover(call: Anonymous[RecoverRequest, None]) -> Response:
    """POST /api/auth/recover: 202 {} whether or not the address is registered; Auth sends the email.

    Auth's per-address email limit (one email a minute by default, and the project's hourly
    budget) would tell a registered address from an unknown one, which Auth answers without
    sending anything: that refusal is logged and answered 202 like the rest. Its per-IP limit,
    the same for every address, is a 429.
    """
    body, request = call.body, call.request
    redirect = _allowed_redirect(body.redirect_to, call.deps.settings())
    try:
        with auth_errors(
            lambda error: ValidationFailed([FieldError("email", "rejected", "This email cannot be used")])
        ):
            call.deps.auth_client(request.client_ip).reset_password_for_email(
                body.email, {"redirect_to": redirect} if redirect is not None else {}
            )
    except EmailSendLimited:
        log_event("recover_email_limited", level="info", request_id=request.request_id)
    return json_response({}, 202)


VERIFY_FAILED = "The link is invalid, already used or expired"


def verify(call: Anonymous[VerifyRequest, None]) -> Response:
    """POST /api/auth/verify: the token hash of an email link for a Session and the session cookies.

    Raises Unauthorized for an invalid, used or expired token. Under Auth's secure email change
    the first of the two links only confirms its half (no session yet): 202 {}.
    """
    body = call.body
    with auth_errors(lambda error: Unauthorized(VERIFY_FAILED)):
        result = call.deps.auth_client(call.request.client_ip).verify_otp(
            {"token_hash": body.token_hash, "type": body.type}
        )
    if result.session is None:
        if body.type == "email_change" and result.user is None:
            return json_response({}, 202)
        raise Unauthorized(VERIFY_FAILED)
    return _session_response(call, result.session)


REFRESH_FAILED = "The refresh token is invalid, expired or revoked"


def _refreshed(call: Open, token: str) -> AuthSession:
    """A new session for a refresh token. Raises Unauthorized when Auth refuses the token."""
    if not (token.isascii() and token.isprintable()):
        # Auth issues printable ASCII tokens; anything else cannot be one (and a NUL would only
        # make Auth's database refuse the lookup, a 500 upstream).
        raise Unauthorized(REFRESH_FAILED)
    with auth_errors(lambda error: Unauthorized(REFRESH_FAILED)):
        result = call.deps.auth_client(call.request.client_ip).refresh_session(token)
    if result.session is None:
        raise Unauthorized(REFRESH_FAILED)
    return result.session


def _cookie_refresh_token(request: Request, settings: Settings) -> str:
    """The refresh cookie's token, once X-CSRF-Token proved the request is the session's own.

    Raises Unauthorized without a refresh cookie, Forbidden(csrf_failed) with the wrong token.
    """
    found = cookies.refresh_cookie(request)
    if found is None:
        raise Unauthorized("Send a refresh token in the body or the refresh cookie")
    session_id, token = found
    check_csrf(request, session_id, settings)
    return token


def refresh(call: Anonymous[RefreshRequest, None]) -> Response:
    """POST /api/auth/refresh: rotate a refresh token from the body or (with CSRF) the cookie."""
    from_body = call.body.refresh_token
    settings = call.deps.settings()
    if from_body is not None:
        body, _ = _session_body(_refreshed(call, from_body), settings)
        return json_response(body)
    return _session_response(call, _refreshed(call, _cookie_refresh_token(call.request, settings)))


def _logout_token(call: Open) -> str | None:
    """An access token of the session to end; None when its refresh token is already dead.

    In the contract's order: the Authorization header, else a valid access cookie, else the
    refresh cookie alone, exchanged for a fresh access token because Auth's /logout takes
    nothing else (an expired access cookie must not strand a 30-day session). Cookies need the
    session's CSRF token. Raises Unauthorized or Forbidden(csrf_failed).
    """
    request, settings = call.request, call.deps.settings()
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
    token = _cookie_refresh_token(request, settings)
    try:
        return _refreshed(call, token).access_token
    except Unauthorized:
        return None


def logout(call: Anonymous[EmptyBody, None]) -> Response:
    """POST /api/auth/logout: revoke this session upstream and clear the three cookies."""
    token = _logout_token(call)
    if token is not None:
        sign_out(call.deps, call.request.client_ip, token, "local")
    response = empty_response(204)
    response.cookies = cookies.cleared_cookies(call.request)
    return response
