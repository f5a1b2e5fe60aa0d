"""The session cookies of docs/api.md §5.2.

The refresh cookie holds `<session id>.<refresh token>`. Auth's refresh tokens are opaque and
rotate, and Auth tells which session one belongs to only by consuming it; the session id next
to it lets the API check the CSRF token (bound to the session, lib.supabase.caller.csrf_token) before a
cookie refresh or logout reaches Auth, even when the access cookie has expired. An attacker
cannot pair someone else's refresh token with a session id of their choosing: the cookie is
HttpOnly and is only ever replaced whole.
"""

from __future__ import annotations

from lib.http.request import UUID_TEXT, Request

ACCESS_COOKIE = "sb-access-token"
REFRESH_COOKIE = "sb-refresh-token"
CSRF_COOKIE = "csrf-token"
CSRF_HEADER = "X-CSRF-Token"

REFRESH_MAX_AGE = 30 * 24 * 3600
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def is_plain_local_http(request: Request) -> bool:
    """True only for plain http on localhost, the one place cookies may lack Secure."""
    if (request.header("X-Forwarded-Proto") or "http").lower() == "https":
        return False
    host = (request.header("Host") or "").lower()
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in _LOCAL_HOSTS


def _cookie(
    name: str, value: str, *, path: str, same_site: str, http_only: bool, max_age: int, secure: bool
) -> str:
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", f"SameSite={same_site}"]
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def refresh_cookie(request: Request) -> tuple[str | None, str] | None:
    """(session id, refresh token) from the refresh cookie; the id is None in an old-style cookie."""
    value = request.cookies.get(REFRESH_COOKIE)
    if not value:
        return None
    session_id, dot, token = value.partition(".")
    if dot and token and UUID_TEXT.match(session_id):
        return session_id.lower(), token
    return None, value


def session_cookies(
    request: Request, access_token: str, refresh_token: str, expires_in: int, *, session_id: str, csrf: str
) -> list[str]:
    """Set-Cookie values for a session: access, refresh (with its session id) and its CSRF token."""
    secure = not is_plain_local_http(request)
    return [
        _cookie(
            ACCESS_COOKIE,
            access_token,
            path="/",
            same_site="Lax",
            http_only=True,
            max_age=expires_in,
            secure=secure,
        ),
        _cookie(
            REFRESH_COOKIE,
            f"{session_id}.{refresh_token}",
            path="/api/auth",
            same_site="Strict",
            http_only=True,
            max_age=REFRESH_MAX_AGE,
            secure=secure,
        ),
        _cookie(
            CSRF_COOKIE,
            csrf,
            path="/",
            same_site="Lax",
            http_only=False,
            max_age=REFRESH_MAX_AGE,
            secure=secure,
        ),
    ]


def cleared_cookies(request: Request) -> list[str]:
    """Set-Cookie values that delete all three session cookies."""
    secure = not is_plain_local_http(request)
    return [
        _cookie(ACCESS_COOKIE, "", path="/", same_site="Lax", http_only=True, max_age=0, secure=secure),
        _cookie(
            REFRESH_COOKIE, "", path="/api/auth", same_site="Strict", http_only=True, max_age=0, secure=secure
        ),
        _cookie(CSRF_COOKIE, "", path="/", same_site="Lax", http_only=False, max_age=0, secure=secure),
    ]
