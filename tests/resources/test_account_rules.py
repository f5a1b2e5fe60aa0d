"""lib.resources.account without a stack: when a session may skip the current password, redirects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lib.config import resolve_settings
from lib.http.problems import ValidationFailed
from lib.resources import account
from lib.resources.me import RECOVERY_WINDOW, recovered_recently

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("amr", "expected"),
    [
        # POST /verify records "otp" whatever the link's type; the redirect flow records the type.
        ([{"method": "otp", "timestamp": NOW - 60}], True),
        ([{"method": "recovery", "timestamp": NOW - 60}], True),
        ([{"method": "magiclink", "timestamp": NOW - RECOVERY_WINDOW}], True),
        ([{"method": "password", "timestamp": NOW - 60}, {"method": "otp", "timestamp": NOW - 5}], True),
        # Too old, from the future, another method, or not what Auth writes.
        ([{"method": "otp", "timestamp": NOW - RECOVERY_WINDOW - 1}], False),
        ([{"method": "otp", "timestamp": NOW + 60}], False),
        ([{"method": "password", "timestamp": NOW - 5}], False),
        ([{"method": "token_refresh", "timestamp": NOW - 5}], False),
        ([{"method": "otp", "timestamp": str(NOW - 5)}], False),
        ([{"method": "otp", "timestamp": True}], False),
        ([{"method": "otp"}], False),
        (["otp"], False),
        ("otp", False),
        (None, False),
    ],
)
def test_a_recent_email_link_session_may_skip_the_current_password(amr: Any, expected: bool) -> None:
    claims = {} if amr is None else {"amr": amr}
    assert recovered_recently(claims, NOW) is expected


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """lib.resources.account reading production settings whose one allowed origin is the frontend's."""
    env = {
        "APP_ENV": "production",
        "SUPABASE_URL": "https://project.supabase.co",
        "SUPABASE_PUBLISHABLE_KEY": "sb_publishable_ACCOUNTtest00000000000_pub",
        "SUPABASE_SECRET_KEY": "sb_secret_ACCOUNTtest00000000000_sec",
        "SUPABASE_JWT_SECRET": "account-test-secret-with-at-least-32-characters",
        "ALLOWED_ORIGINS": "https://app.example.com",
    }
    settings = resolve_settings(env, root=tmp_path)
    monkeypatch.setattr(account, "get_settings", lambda: settings)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com",
        "https://app.example.com/auth/confirm?next=/garage",
        "https://APP.example.com:443/x",
    ],
)
def test_a_redirect_on_an_allowed_origin(production: None, url: str) -> None:
    assert account._allowed_redirect(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://app.example.com/",  # another scheme is another origin
        "https://app.example.com:8443/",
        "https://app.example.com.evil.example/",
        "https://evil.example/?https://app.example.com",
        "https://user@app.example.com/",
        "https://app.example.com\\@evil.example/",
        "//app.example.com/",
        "javascript:alert(1)",
        "http://localhost:5173/",  # development only
        "https://[::1/",
        "https://app.example.com /x",
    ],
)
def test_a_redirect_anywhere_else_is_422(production: None, url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        account._allowed_redirect(url)
    assert refused.value.errors[0].field == "redirect_to"
