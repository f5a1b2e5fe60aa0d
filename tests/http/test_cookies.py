"""lib.http.cookies: the session cookies' attributes, and reading the refresh cookie."""

from __future__ import annotations

import pytest

from lib.http import cookies
from tests.resources import fakes


def cookie_map(values: list[str]) -> dict[str, str]:
    return {value.split("=", 1)[0]: value for value in values}


def test_session_cookies_scope_and_security() -> None:
    request = fakes.request(values={"Host": "api.example.com", "X-Forwarded-Proto": "https"})
    sent = cookie_map(
        cookies.session_cookies(request, "acc", "ref", 3600, session_id=fakes.SESSION_ID, csrf="c")
    )
    assert (
        sent["sb-access-token"] == "sb-access-token=acc; Path=/; Max-Age=3600; SameSite=Lax; HttpOnly; Secure"
    )
    assert sent["sb-refresh-token"].startswith(f"sb-refresh-token={fakes.SESSION_ID}.ref; Path=/api/auth;")
    assert "SameSite=Strict" in sent["sb-refresh-token"]
    assert "HttpOnly" not in sent["csrf-token"]  # the frontend reads it


@pytest.mark.parametrize(
    ("values", "secure"),
    [
        ({"Host": "localhost:3000"}, False),
        ({"Host": "127.0.0.1"}, False),
        ({"Host": "[::1]:8000"}, False),
        ({"Host": "localhost:3000", "X-Forwarded-Proto": "https"}, True),
        ({"Host": "example.com"}, True),
    ],
)
def test_only_plain_local_http_drops_secure(values: dict[str, str], secure: bool) -> None:
    sent = cookies.cleared_cookies(fakes.request(values=values))
    assert all(("Secure" in value) is secure for value in sent)
    assert all("Max-Age=0" in value for value in sent)


def test_the_refresh_cookie_carries_its_session_id() -> None:
    request = fakes.request()
    assert cookies.refresh_cookie(request) is None
    request.cookies = {"sb-refresh-token": f"{fakes.SESSION_ID.upper()}.tok.en"}
    assert cookies.refresh_cookie(request) == (fakes.SESSION_ID, "tok.en")
    request.cookies = {"sb-refresh-token": "old-style-token"}
    assert cookies.refresh_cookie(request) == (None, "old-style-token")
