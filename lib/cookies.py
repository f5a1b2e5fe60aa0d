"""The session cookies of the contract's section 5."""

from __future__ import annotations

import secrets

from lib.auth import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from lib.request import Request

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


def session_cookies(request: Request, access_token: str, refresh_token: str, expires_in: int) -> list[str]:
    """Set-Cookie values for a new session: access, refresh and a fresh CSRF token."""
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
            refresh_token,
            path="/api/auth",
            same_site="Strict",
            http_only=True,
            max_age=REFRESH_MAX_AGE,
            secure=secure,
        ),
        _cookie(
            CSRF_COOKIE,
            secrets.token_urlsafe(32),
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
