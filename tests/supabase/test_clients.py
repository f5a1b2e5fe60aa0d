"""Supabase clients (lib/supabase/clients.py): which key goes in which header.

Supabase's gateway refuses an `sb_publishable_…`/`sb_secret_…` key in
`Authorization: Bearer` unless it equals the `apikey` header, and the new keys are
not JWTs: the API sends them in `apikey` only (supabase-py's own client would put
the key in Authorization too). Legacy JWT keys still go in both, as PostgREST
reads the role from Authorization.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt

from lib.config import Settings, resolve_settings
from lib.supabase import clients
from lib.supabase.transport import Pool

SUPABASE_URL = "http://127.0.0.1:54321"
JWT_SECRET = "clients-test-secret-with-at-least-32-characters"
NEW_KEYS = {
    "SUPABASE_PUBLISHABLE_KEY": "sb_publishable_CLIENTStest000000000000_pub",
    "SUPABASE_SECRET_KEY": "sb_secret_CLIENTStest000000000000_sec",
}
LEGACY_KEYS = {
    "SUPABASE_PUBLISHABLE_KEY": str(jwt.encode({"role": "anon", "iss": "supabase-demo"}, JWT_SECRET)),
    "SUPABASE_SECRET_KEY": str(jwt.encode({"role": "service_role", "iss": "supabase-demo"}, JWT_SECRET)),
}
USER_TOKEN = str(jwt.encode({"sub": "user", "role": "authenticated"}, JWT_SECRET, headers={"kid": "k"}))


def _settings(tmp_path: Path, keys: dict[str, str]) -> Settings:
    env = {"APP_ENV": "development", "SUPABASE_URL": SUPABASE_URL, "SUPABASE_JWT_SECRET": JWT_SECRET, **keys}
    return resolve_settings(env, root=tmp_path)


@pytest.fixture(params=["new", "legacy"])
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings with either key style, used by lib.supabase.clients; a private pool that never connects."""
    resolved = _settings(tmp_path, NEW_KEYS if request.param == "new" else LEGACY_KEYS)
    monkeypatch.setattr(clients, "get_settings", lambda: resolved)
    pool = Pool(connect_timeout=1.0, read_timeout=1.0)
    monkeypatch.setattr(clients, "upstream_pool", lambda: pool)
    with httpx.Client() as auth_pool:
        monkeypatch.setattr("lib.supabase.auth_pool.auth_http_client", lambda: auth_pool)
        yield resolved


def _is_api_key(value: str) -> bool:
    return value.startswith(("sb_publishable_", "sb_secret_"))


def _sent_headers(client: Any) -> dict[str, str]:
    headers = client.headers if hasattr(client, "headers") else client._headers
    return {name.lower(): value for name, value in dict(headers).items()}


CLIENTS: dict[str, Callable[[], Any]] = {
    "anon": clients.anon_client,
    "admin": clients.admin_client,
    "user": lambda: clients.user_client(USER_TOKEN),
    "auth": clients.auth_client,
}


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_no_client_sends_an_api_key_as_a_bearer_token_unless_it_is_the_apikey(
    settings: Settings, name: str
) -> None:
    headers = _sent_headers(CLIENTS[name]())
    authorization = headers.get("authorization")
    if authorization is not None:
        token = authorization.removeprefix("Bearer ")
        assert not _is_api_key(token) or token == headers["apikey"]


@pytest.mark.parametrize(("name", "key"), [("anon", "publishable_key"), ("admin", "secret_key")])
def test_a_new_key_goes_in_apikey_only(settings: Settings, name: str, key: str) -> None:
    headers = _sent_headers(CLIENTS[name]())
    assert headers["apikey"] == getattr(settings, key)
    if _is_api_key(headers["apikey"]):
        # The gateway swaps in the role's JWT; the key itself is never a Bearer token.
        assert "authorization" not in headers
    else:
        # A legacy key is a JWT: PostgREST reads its role from Authorization.
        assert headers["authorization"] == f"Bearer {headers['apikey']}"


def test_the_user_client_sends_the_publishable_key_and_the_users_token(settings: Settings) -> None:
    headers = _sent_headers(clients.user_client(USER_TOKEN))
    assert headers["apikey"] == settings.publishable_key
    assert headers["authorization"] == f"Bearer {USER_TOKEN}"


def test_the_auth_client_sends_no_authorization_of_its_own(settings: Settings) -> None:
    headers = _sent_headers(clients.auth_client())
    # The secret key: Supabase honours Sb-Forwarded-For only next to one.
    assert headers["apikey"] == settings.secret_key
    assert "authorization" not in headers
    assert "sb-forwarded-for" not in headers


def test_the_auth_client_forwards_the_callers_ip(settings: Settings) -> None:
    headers = _sent_headers(clients.auth_client("203.0.113.7"))
    assert headers["sb-forwarded-for"] == "203.0.113.7"
    assert headers["apikey"] == settings.secret_key
    assert "authorization" not in headers


@pytest.mark.parametrize("token", ["sb_secret_CLIENTStest000000000000_sec", "sb_publishable_anything"])
def test_an_api_key_is_never_accepted_as_a_users_token(settings: Settings, token: str) -> None:
    with pytest.raises(ValueError, match="not an access token"):
        clients.user_client(token)


@pytest.mark.parametrize(
    ("api_key", "token", "expected"),
    [
        ("sb_publishable_x", None, {"apikey": "sb_publishable_x"}),
        ("sb_secret_x", None, {"apikey": "sb_secret_x"}),
        ("eyJ.legacy.jwt", None, {"apikey": "eyJ.legacy.jwt", "Authorization": "Bearer eyJ.legacy.jwt"}),
        (
            "sb_publishable_x",
            "eyJ.user.jwt",
            {"apikey": "sb_publishable_x", "Authorization": "Bearer eyJ.user.jwt"},
        ),
        (
            "eyJ.legacy.jwt",
            "eyJ.user.jwt",
            {"apikey": "eyJ.legacy.jwt", "Authorization": "Bearer eyJ.user.jwt"},
        ),
    ],
)
def test_upstream_headers(api_key: str, token: str | None, expected: dict[str, str]) -> None:
    assert clients.upstream_headers(api_key, token) == expected


# Building the Auth client in a fresh interpreter, as a cold Auth request does: httpx loads
# without HTTP/2 (h2, hpack, hyperframe: never spoken by the pool), and the refusal does not
# outlive the import: h2 can still be imported and an http2=True client still be built.
AUTH_CLIENT_BUILD = """
import json, sys
from lib.supabase import clients
clients.auth_client("192.0.2.10")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("h2", "hpack", "hyperframe"))
import h2, httpx
httpx.Client(http2=True).close()
print(json.dumps({"loaded": loaded, "h2_after": h2.__name__}))
"""


def test_the_auth_client_loads_httpx_without_http2_and_leaves_h2_importable() -> None:
    from tests.support import fresh_interpreter_json

    env = {
        "APP_ENV": "development",
        "SUPABASE_URL": SUPABASE_URL,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "PATH": "/usr/bin:/bin",
        **NEW_KEYS,
    }
    assert fresh_interpreter_json(AUTH_CLIENT_BUILD, env) == {"loaded": [], "h2_after": "h2"}
