"""The local Auth-compatible service, against a throwaway Postgres, parsed by supabase-py's own client."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt
from jose.exceptions import JWTError
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from devstack.auth_service import (
    AuthConfig,
    config_from_env,
    legacy_secret_kid,
    load_hook_from_config,
    make_server,
)
from devstack.migrate import bootstrap
from devstack.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "test-jwt-secret-with-at-least-32-characters-long"
AUTH_ADMIN_PASSWORD = "auth-admin-test-password"
ISSUER = "http://127.0.0.1:54321/auth/v1"
PASSWORD = "correct-horse-battery"
HOOK = "public.custom_access_token_hook"
HOOK_URI = "pg-functions://postgres/public/custom_access_token_hook"
KID = "devstack-test-key"
TIMEOUT = 10
NEW_API = {"X-Supabase-Api-Version": "2024-01-01"}
CLAIM_NAMES = {
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "email",
    "phone",
    "app_metadata",
    "user_metadata",
    "role",
    "aal",
    "amr",
    "session_id",
    "is_anonymous",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def _service_jwt(secret: str = JWT_SECRET) -> str:
    claims = {"role": "service_role", "iss": "supabase-demo", "exp": int(time.time()) + 3600}
    return str(jwt.encode(claims, secret, algorithm="HS256"))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="authenticated", issuer=ISSUER))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway Postgres with Supabase's roles and auth schema."""
    # Not under tmp_path_factory: every pytest start re-tightens /tmp/pytest-of-<user> to 0700,
    # which locks the unprivileged postgres account (used when running as root) out of its
    # data directory whenever another pytest session starts concurrently.
    root = Path(tempfile.mkdtemp(prefix="auth-service-"))
    server = PostgresServer(root / "db", _free_port(), "postgres", durable=False)
    try:
        server.init()
        server.start()
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            bootstrap(
                conn,
                authenticator_password="authenticator-test-password",
                auth_admin_password=AUTH_ADMIN_PASSWORD,
                cli_login_password="cli-login-test-password",
            )
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _config(postgres: PostgresServer, **overrides: Any) -> AuthConfig:
    values: dict[str, Any] = {
        "dsn": postgres.dsn("supabase_auth_admin", AUTH_ADMIN_PASSWORD),
        "jwt_secret": JWT_SECRET,
        "issuer": ISSUER,
        "hook": HOOK,
        "bcrypt_rounds": 4,
    }
    values.update(overrides)
    return AuthConfig(**values)


@contextmanager
def _serve(config: AuthConfig) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, name="auth-service", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


@pytest.fixture(scope="module")
def auth(postgres: PostgresServer) -> Iterator[str]:
    """The service URL (HS256, hook configured but only present while a test installs it)."""
    with _serve(_config(postgres)) as url:
        yield url


@pytest.fixture(scope="module")
def es256(postgres: PostgresServer) -> Iterator[tuple[str, dict[str, Any]]]:
    """A second instance signing with a generated P-256 key, and that private JWK."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = {**jwk.construct(pem, "ES256").to_dict(), "kid": KID}
    with _serve(_config(postgres, signing_jwk=key, hook=None)) as url:
        yield url, key


@pytest.fixture
def db(postgres: PostgresServer) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A superuser connection for setup and checks."""
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def client(auth: str) -> Iterator[SyncGoTrueClient]:
    """supabase-py's auth client pointed at the service."""
    gotrue = SyncGoTrueClient(url=auth, headers={}, auto_refresh_token=False, persist_session=False)
    try:
        yield gotrue
    finally:
        gotrue.close()


@pytest.fixture
def admin(auth: str) -> Iterator[SyncGoTrueAdminAPI]:
    """supabase-py's admin API with a service_role JWT."""
    api = SyncGoTrueAdminAPI(url=auth, headers=_bearer(_service_jwt()))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def install_hook(db: psycopg.Connection[tuple[Any, ...]]) -> Iterator[Callable[[str], None]]:
    """Create public.custom_access_token_hook with a given plpgsql body; dropped afterwards."""

    def install(body: str) -> None:
        db.execute(
            "create or replace function public.custom_access_token_hook(event jsonb)"
            f" returns jsonb language plpgsql as $$ {body} $$"
        )
        # Supabase's documented grants: only the Auth server may run the hook.
        db.execute("revoke execute on function public.custom_access_token_hook from public")
        db.execute("grant execute on function public.custom_access_token_hook to supabase_auth_admin")

    try:
        yield install
    finally:
        db.execute("drop function if exists public.custom_access_token_hook(jsonb)")


def _post(url: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
    return requests.post(f"{url}{path}", json=body, timeout=TIMEOUT, **kwargs)


def _signup(url: str, email: str | None = None, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    response = _post(url, "/signup", {"email": email or _email(), "password": password, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _sign_in(url: str, email: str, password: str = PASSWORD) -> requests.Response:
    return _post(url, "/token?grant_type=password", {"email": email, "password": password})


def _refresh(url: str, refresh_token: str) -> requests.Response:
    return _post(url, "/token?grant_type=refresh_token", {"refresh_token": refresh_token})


# --------------------------------------------------------------------------- supabase-py


def test_supabase_client_sign_up_sign_in_refresh_and_sign_out(client: SyncGoTrueClient) -> None:
    email = _email()
    signed_up = client.sign_up(
        {"email": email.upper(), "password": PASSWORD, "options": {"data": {"name": "Ada"}}}
    )
    assert signed_up.session is not None
    assert signed_up.user is not None
    user = signed_up.user
    assert user.email == email
    assert user.aud == "authenticated"
    assert user.role == "authenticated"
    assert user.user_metadata == {"name": "Ada"}
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.email_confirmed_at is not None
    assert user.confirmed_at is not None
    assert user.last_sign_in_at is not None
    assert user.identities is not None
    assert [(identity.provider, identity.id) for identity in user.identities] == [("email", user.id)]
    assert user.is_anonymous is False
    assert signed_up.session.token_type == "bearer"
    assert signed_up.session.expires_in == 3600

    signed_in = client.sign_in_with_password({"email": email, "password": PASSWORD})
    assert signed_in.session is not None
    fetched = client.get_user(signed_in.session.access_token)
    assert fetched is not None
    assert fetched.user.id == user.id

    refreshed = client.refresh_session(signed_in.session.refresh_token)
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != signed_in.session.refresh_token
    assert refreshed.user is not None
    assert refreshed.user.id == user.id
    # Presenting the rotated token again (its answer was lost) hands back the active one.
    again = client.refresh_session(signed_in.session.refresh_token)
    assert again.session is not None
    assert again.session.refresh_token == refreshed.session.refresh_token

    client.sign_out()  # global, with the refreshed session the client now holds
    with pytest.raises(AuthApiError) as after_logout:
        client.refresh_session(refreshed.session.refresh_token)
    # supabase_auth's ErrorCode Literal lacks this code, which GoTrue does send.
    logout_code: str | None = after_logout.value.code
    assert logout_code == "refresh_token_not_found"
    with pytest.raises(AuthApiError) as gone:
        client.get_user(refreshed.session.access_token)
    assert gone.value.status == 403
    assert gone.value.code == "session_not_found"


def test_supabase_admin_api_lists_and_updates_users(
    auth: str, client: SyncGoTrueClient, admin: SyncGoTrueAdminAPI
) -> None:
    first = _signup(auth, data={"keep": 1, "drop": 2})
    second = _signup(auth)
    listed = admin.list_users(page=1, per_page=1000)
    ids = [user.id for user in listed]
    # Newest first, as GoTrue sorts by created_at descending.
    assert ids.index(second["user"]["id"]) < ids.index(first["user"]["id"])

    user_id = first["user"]["id"]
    updated = admin.update_user_by_id(
        user_id, {"app_metadata": {"plan": "pro"}, "user_metadata": {"drop": None, "new": True}}
    )
    assert updated.user.app_metadata == {"provider": "email", "providers": ["email"], "plan": "pro"}
    assert updated.user.user_metadata == {"keep": 1, "new": True}
    assert admin.get_user_by_id(user_id).user.app_metadata["plan"] == "pro"
    # The next access token carries the new metadata.
    refreshed = _refresh(auth, first["refresh_token"])
    assert refreshed.status_code == 200
    assert _claims(refreshed.json()["access_token"])["app_metadata"]["plan"] == "pro"

    with pytest.raises(AuthApiError) as missing:
        admin.update_user_by_id(str(uuid.uuid4()), {"user_metadata": {"x": 1}})
    assert missing.value.status == 404
    assert missing.value.code == "user_not_found"

    with pytest.raises(AuthApiError) as not_admin:
        SyncGoTrueAdminAPI(url=auth, headers=_bearer(first["access_token"])).list_users()
    assert not_admin.value.status == 403
    assert not_admin.value.code == "not_admin"


def test_supabase_client_reports_weak_password_and_existing_user(client: SyncGoTrueClient) -> None:
    with pytest.raises(AuthWeakPasswordError) as weak:
        client.sign_up({"email": _email(), "password": "12345"})
    assert weak.value.status == 422
    assert weak.value.reasons == ["length"]

    email = _email()
    client.sign_up({"email": email, "password": PASSWORD})
    with pytest.raises(AuthApiError) as duplicate:
        client.sign_up({"email": email, "password": PASSWORD})
    assert duplicate.value.status == 422
    assert duplicate.value.code == "user_already_exists"

    with pytest.raises(AuthApiError) as wrong:
        client.sign_in_with_password({"email": email, "password": "wrong-password"})
    assert wrong.value.status == 400
    assert wrong.value.code == "invalid_credentials"


# --------------------------------------------------------------------------- raw HTTP


def test_health_settings_and_empty_jwks(auth: str) -> None:
    health = requests.get(f"{auth}/health", timeout=TIMEOUT)
    assert health.status_code == 200
    assert health.json() == {
        "version": "devstack",
        "name": "GoTrue",
        "description": "local Auth-compatible service",
    }
    settings = requests.get(f"{auth}/settings", timeout=TIMEOUT).json()
    assert settings["external"]["email"] is True
    assert settings["disable_signup"] is False
    assert settings["mailer_autoconfirm"] is True
    assert requests.get(f"{auth}/.well-known/jwks.json", timeout=TIMEOUT).json() == {"keys": []}


def test_signup_stores_a_confirmed_user_with_a_session(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    email = _email()
    session = _signup(auth, email=f"  {email.upper()}  ")
    assert set(session) == {"access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user"}
    assert session["user"]["email"] == email
    assert session["user"]["phone"] == ""
    assert session["user"]["user_metadata"] == {}
    row = db.execute(
        "select encrypted_password, email_confirmed_at, raw_app_meta_data, aud, role, last_sign_in_at"
        " from auth.users where id = %s",
        (session["user"]["id"],),
    ).fetchone()
    assert row is not None
    hashed, confirmed_at, app_metadata, aud, role, last_sign_in_at = row
    assert hashed.startswith("$2a$04$")
    assert PASSWORD not in hashed
    assert confirmed_at is not None
    assert last_sign_in_at is not None
    assert app_metadata == {"provider": "email", "providers": ["email"]}
    assert (aud, role) == ("authenticated", "authenticated")
    tokens = db.execute(
        "select rt.token, rt.user_id, rt.revoked, rt.parent, s.aal"
        " from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id"
        " where s.user_id = %s",
        (session["user"]["id"],),
    ).fetchall()
    assert tokens == [(session["refresh_token"], session["user"]["id"], False, None, "aal1")]
    assert 12 <= len(session["refresh_token"]) <= 22


def test_wrong_password_and_unknown_email_are_indistinguishable(auth: str) -> None:
    email = _email()
    _signup(auth, email=email)
    for headers in ({}, NEW_API):
        wrong = _post(
            auth, "/token?grant_type=password", {"email": email, "password": "nope-nope"}, headers=headers
        )
        unknown = _post(
            auth, "/token?grant_type=password", {"email": _email(), "password": "nope-nope"}, headers=headers
        )
        assert wrong.status_code == unknown.status_code == 400
        assert wrong.json() == unknown.json()
    legacy = _sign_in(auth, email, "nope-nope")
    assert legacy.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }
    assert "X-Supabase-Api-Version" not in legacy.headers
    versioned = _post(
        auth, "/token?grant_type=password", {"email": email, "password": "nope-nope"}, headers=NEW_API
    )
    assert versioned.json() == {"code": "invalid_credentials", "message": "Invalid login credentials"}
    assert versioned.headers["X-Supabase-Api-Version"] == "2024-01-01"
    assert _sign_in(auth, email.upper()).status_code == 200


def test_weak_password_is_rejected_with_reasons(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    email = _email()
    response = _post(auth, "/signup", {"email": email, "password": "12345"})
    assert response.status_code == 422
    assert response.json() == {
        "code": 422,
        "error_code": "weak_password",
        "msg": "Password should be at least 6 characters.",
        "weak_password": {"reasons": ["length"]},
    }
    versioned = _post(auth, "/signup", {"email": email, "password": "12345"}, headers=NEW_API)
    assert versioned.json() == {
        "code": "weak_password",
        "message": "Password should be at least 6 characters.",
        "weak_password": {"reasons": ["length"]},
    }
    assert db.execute("select 1 from auth.users where email = %s", (email,)).fetchone() is None


def test_duplicate_signup_is_rejected(auth: str) -> None:
    email = _email()
    _signup(auth, email=email)
    again = _post(auth, "/signup", {"email": email.upper(), "password": "another-password"})
    assert again.status_code == 422
    assert again.json() == {
        "code": 422,
        "error_code": "user_already_exists",
        "msg": "User already registered",
    }


@pytest.mark.parametrize(
    ("body", "status", "error_code"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, 400, "validation_failed"),
        ({"email": "a@example.com"}, 400, "validation_failed"),
        ({"phone": "+15550000000", "password": PASSWORD}, 400, "phone_provider_disabled"),
        ({}, 422, "anonymous_provider_disabled"),
        ({"email": "b@example.com", "password": PASSWORD, "data": [1]}, 400, "bad_json"),
        ({"email": 7, "password": PASSWORD}, 400, "bad_json"),
        ([1, 2], 400, "bad_json"),
    ],
)
def test_signup_validation(auth: str, body: Any, status: int, error_code: str) -> None:
    response = _post(auth, "/signup", body)
    assert response.status_code == status
    assert response.json()["error_code"] == error_code


def test_refresh_rotates_within_the_same_session(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    first = _signup(auth)
    second = _refresh(auth, first["refresh_token"]).json()
    third = _refresh(auth, second["refresh_token"]).json()
    rows = db.execute(
        "select token, parent, revoked, session_id from auth.refresh_tokens where user_id = %s order by id",
        (first["user"]["id"],),
    ).fetchall()
    assert [(token, parent, revoked) for token, parent, revoked, _ in rows] == [
        (first["refresh_token"], None, True),
        (second["refresh_token"], first["refresh_token"], True),
        (third["refresh_token"], second["refresh_token"], False),
    ]
    assert len({session_id for *_, session_id in rows}) == 1
    assert _claims(third["access_token"])["session_id"] == _claims(first["access_token"])["session_id"]


def _age(db: psycopg.Connection[tuple[Any, ...]], token: str, seconds: int) -> None:
    """Pretend `token` was rotated `seconds` ago (the reuse interval counts from then)."""
    db.execute(
        "update auth.refresh_tokens set updated_at = updated_at - make_interval(secs => %s) where token = %s",
        (seconds, token),
    )


def _live_tokens(db: psycopg.Connection[tuple[Any, ...]], user_id: str) -> int:
    row = db.execute(
        "select count(*) from auth.refresh_tokens where user_id = %s and not revoked", (user_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_reusing_the_parent_of_the_active_token_hands_back_the_active_token(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    # The client lost the answer to its refresh: GoTrue returns the token it issued then,
    # whenever that was, and issues no new one.
    first = _signup(auth)
    second = _refresh(auth, first["refresh_token"]).json()
    _age(db, first["refresh_token"], 3600)
    again = _refresh(auth, first["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] == second["refresh_token"]
    session_id = _claims(second["access_token"])["session_id"]
    assert _claims(again.json()["access_token"])["session_id"] == session_id
    assert _live_tokens(db, first["user"]["id"]) == 1


def test_reuse_within_the_interval_gets_a_new_child_token(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    # Two tabs refreshing at once: an older rotated token, presented within
    # refresh_token_reuse_interval (10 s) of its rotation, is swapped for a new child.
    first = _signup(auth)
    second = _refresh(auth, first["refresh_token"]).json()
    third = _refresh(auth, second["refresh_token"]).json()
    _age(db, first["refresh_token"], 9)
    branch = _refresh(auth, first["refresh_token"])
    assert branch.status_code == 200
    token = branch.json()["refresh_token"]
    assert token not in {first["refresh_token"], second["refresh_token"], third["refresh_token"]}
    parent = db.execute("select parent from auth.refresh_tokens where token = %s", (token,)).fetchone()
    assert parent == (first["refresh_token"],)


def test_reuse_after_the_interval_revokes_the_session(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    first = _signup(auth)
    second = _refresh(auth, first["refresh_token"]).json()
    third = _refresh(auth, second["refresh_token"]).json()
    _age(db, first["refresh_token"], 11)
    reuse = _refresh(auth, first["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json() == {
        "code": 400,
        "error_code": "refresh_token_already_used",
        "msg": "Invalid Refresh Token: Already Used",
    }
    # The whole family is revoked: the latest token too, which (as on GoTrue) is refused
    # once its own reuse interval, counted from this revocation, has passed.
    assert _live_tokens(db, first["user"]["id"]) == 0
    _age(db, third["refresh_token"], 11)
    latest = _refresh(auth, third["refresh_token"])
    assert latest.status_code == 400
    assert latest.json()["error_code"] == "refresh_token_already_used"


def test_refresh_errors(auth: str) -> None:
    unknown = _refresh(auth, "no-such-token")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "code": 400,
        "error_code": "refresh_token_not_found",
        "msg": "Invalid Refresh Token: Refresh Token Not Found",
    }
    empty = _post(auth, "/token?grant_type=refresh_token", {})
    assert empty.status_code == 400
    assert empty.json() == {"error": "invalid_request", "error_description": "refresh_token required"}
    unsupported = _post(auth, "/token?grant_type=magic", {})
    assert unsupported.status_code == 400
    assert unsupported.json()["msg"] == "unsupported_grant_type"


def test_access_token_claims(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    email = _email()
    session = _signup(auth, email=email, data={"name": "Ada"})
    token = session["access_token"]
    # Like a hosted project's shared-secret signing key: its kid in the header.
    assert jwt.get_unverified_header(token) == {
        "alg": "HS256",
        "kid": legacy_secret_kid(JWT_SECRET),
        "typ": "JWT",
    }
    claims = _claims(token)
    assert set(claims) == CLAIM_NAMES
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "authenticated"
    assert claims["sub"] == session["user"]["id"]
    assert claims["email"] == email
    assert claims["phone"] == ""
    assert claims["role"] == "authenticated"
    assert claims["aal"] == "aal1"
    assert claims["is_anonymous"] is False
    assert claims["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert claims["user_metadata"] == {"name": "Ada"}
    assert isinstance(claims["iat"], int)
    assert isinstance(claims["exp"], int)
    assert claims["exp"] - claims["iat"] == 3600
    assert session["expires_at"] == claims["exp"]
    assert abs(claims["iat"] - time.time()) < 60
    [amr] = claims["amr"]
    assert amr["method"] == "password"
    assert isinstance(amr["timestamp"], int)
    owner = db.execute("select user_id from auth.sessions where id = %s", (claims["session_id"],)).fetchone()
    assert owner == (uuid.UUID(claims["sub"]),)

    refreshed = _claims(_refresh(auth, session["refresh_token"]).json()["access_token"])
    assert refreshed["session_id"] == claims["session_id"]
    assert refreshed["amr"] == claims["amr"]  # GoTrue keeps the original sign-in method
    assert refreshed["exp"] - refreshed["iat"] == 3600


@pytest.mark.parametrize("method_path", [("GET", "/user"), ("POST", "/logout")])
def test_bad_or_missing_jwt_is_rejected(auth: str, method_path: tuple[str, str]) -> None:
    method, path = method_path
    session = _signup(auth)
    claims = _claims(session["access_token"])
    forged = str(jwt.encode(claims, "some-other-secret", algorithm="HS256"))
    expired = str(jwt.encode({**claims, "exp": int(time.time()) - 60}, JWT_SECRET, algorithm="HS256"))
    cases = {"garbage": "not-a-jwt", "forged": forged, "expired": expired}
    for name, token in cases.items():
        response = requests.request(method, f"{auth}{path}", headers=_bearer(token), timeout=TIMEOUT)
        assert response.status_code == 403, name
        body = response.json()
        assert body["code"] == 403
        assert body["error_code"] == "bad_jwt"
        assert body["msg"].startswith("invalid JWT: unable to parse or verify signature, "), name
    expired_body = requests.request(method, f"{auth}{path}", headers=_bearer(expired), timeout=TIMEOUT).json()
    assert "token is expired" in expired_body["msg"]
    missing = requests.request(method, f"{auth}{path}", timeout=TIMEOUT)
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "no_authorization"
    # The genuine token still works: nothing above touched the session.
    assert requests.get(f"{auth}/user", headers=_bearer(session["access_token"]), timeout=TIMEOUT).ok


def test_logout_scopes(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    email = _email()
    first = _signup(auth, email=email)
    second = _sign_in(auth, email).json()
    third = _sign_in(auth, email).json()
    user_id = first["user"]["id"]

    def sessions() -> set[str]:
        rows = db.execute("select id from auth.sessions where user_id = %s", (user_id,)).fetchall()
        return {str(row[0]) for row in rows}

    def session_id(session: dict[str, Any]) -> str:
        return str(_claims(session["access_token"])["session_id"])

    assert len(sessions()) == 3
    others = _post(auth, "/logout?scope=others", headers=_bearer(first["access_token"]))
    assert others.status_code == 204
    assert sessions() == {session_id(first)}
    assert _refresh(auth, second["refresh_token"]).json()["error_code"] == "refresh_token_not_found"
    assert _refresh(auth, third["refresh_token"]).status_code == 400

    fourth = _sign_in(auth, email).json()
    local = _post(auth, "/logout?scope=local", headers=_bearer(fourth["access_token"]))
    assert local.status_code == 204
    assert sessions() == {session_id(first)}

    bogus = _post(auth, "/logout?scope=everything", headers=_bearer(first["access_token"]))
    assert bogus.status_code == 400
    assert bogus.json()["error_code"] == "validation_failed"

    assert _post(auth, "/logout", headers=_bearer(first["access_token"])).status_code == 204
    assert sessions() == set()
    # As GoTrue's requireAuthentication: the still-unexpired token of a deleted session is refused
    # (supabase-js and supabase-py treat that 403 as signed out).
    again = _post(auth, "/logout", headers=_bearer(first["access_token"]))
    assert (again.status_code, again.json()["error_code"]) == (403, "session_not_found")


def test_user_endpoint_rejects_deleted_sessions_and_users(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    session = _signup(auth)
    ok = requests.get(f"{auth}/user", headers=_bearer(session["access_token"]), timeout=TIMEOUT)
    assert ok.status_code == 200
    assert ok.json() == session["user"] | {"updated_at": ok.json()["updated_at"]}

    db.execute("delete from auth.sessions where user_id = %s", (session["user"]["id"],))
    gone = requests.get(f"{auth}/user", headers=_bearer(session["access_token"]), timeout=TIMEOUT)
    assert gone.status_code == 403
    assert gone.json() == {
        "code": 403,
        "error_code": "session_not_found",
        "msg": "Session from session_id claim in JWT does not exist",
    }
    db.execute("delete from auth.users where id = %s", (session["user"]["id"],))
    deleted = requests.get(f"{auth}/user", headers=_bearer(session["access_token"]), timeout=TIMEOUT)
    assert deleted.status_code == 403
    assert deleted.json()["error_code"] == "user_not_found"
    assert _post(auth, "/logout", headers=_bearer(session["access_token"])).status_code == 403


def test_admin_list_users_paginates_like_gotrue(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    for _ in range(3):
        _signup(auth)
    headers = _bearer(_service_jwt())
    total_row = db.execute("select count(*) from auth.users where aud = 'authenticated'").fetchone()
    assert total_row is not None
    total = int(total_row[0])
    first = requests.get(f"{auth}/admin/users?page=1&per_page=1", headers=headers, timeout=TIMEOUT)
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == str(total)
    assert first.headers["Link"] == (
        f'</admin/users?page=2&per_page=1>; rel="next", </admin/users?page={total}&per_page=1>; rel="last"'
    )
    body = first.json()
    assert body["aud"] == "authenticated"
    assert len(body["users"]) == 1
    newest = db.execute("select id from auth.users order by created_at desc limit 1").fetchone()
    assert newest is not None
    assert body["users"][0]["id"] == str(newest[0])

    last = requests.get(f"{auth}/admin/users?page={total}&per_page=1", headers=headers, timeout=TIMEOUT)
    assert last.headers["Link"] == f'</admin/users?page={total}&per_page=1>; rel="last"'

    default = requests.get(f"{auth}/admin/users", headers=headers, timeout=TIMEOUT)
    assert len(default.json()["users"]) == min(total, 50)

    for query in ("per_page=0", "page=abc"):
        bad = requests.get(f"{auth}/admin/users?{query}", headers=headers, timeout=TIMEOUT)
        assert bad.status_code == 400, query
    anonymous = requests.get(f"{auth}/admin/users", timeout=TIMEOUT)
    assert anonymous.status_code == 401
    anon_key = str(jwt.encode({"role": "anon", "iss": "supabase-demo"}, JWT_SECRET, algorithm="HS256"))
    denied = requests.get(f"{auth}/admin/users", headers=_bearer(anon_key), timeout=TIMEOUT)
    assert denied.status_code == 403
    assert denied.json() == {"code": 403, "error_code": "not_admin", "msg": "User not allowed"}


def test_admin_update_bans_changes_password_and_email(auth: str, admin: SyncGoTrueAdminAPI) -> None:
    email = _email()
    session = _signup(auth, email=email)
    user_id = session["user"]["id"]

    banned = admin.update_user_by_id(user_id, {"ban_duration": "24h"})
    assert banned.user.banned_until is not None
    assert _sign_in(auth, email).json()["error_code"] == "user_banned"
    assert _refresh(auth, session["refresh_token"]).json()["error_code"] == "user_banned"
    unbanned = admin.update_user_by_id(user_id, {"ban_duration": "none"})
    assert unbanned.user.banned_until is None
    latest = _sign_in(auth, email)
    assert latest.status_code == 200

    admin.update_user_by_id(user_id, {"password": "a-brand-new-password"})
    # A new password ends every session, as GoTrue's UpdatePassword does.
    assert _refresh(auth, latest.json()["refresh_token"]).json()["error_code"] == "refresh_token_not_found"
    assert _sign_in(auth, email).status_code == 400
    assert _sign_in(auth, email, "a-brand-new-password").status_code == 200

    new_email = _email()
    moved = admin.update_user_by_id(user_id, {"email": new_email.upper()})
    assert moved.user.email == new_email
    assert _sign_in(auth, new_email, "a-brand-new-password").status_code == 200

    headers = _bearer(_service_jwt())
    taken = requests.put(
        f"{auth}/admin/users/{user_id}",
        json={"email": _signup(auth)["user"]["email"]},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert taken.status_code == 422
    assert taken.json()["error_code"] == "email_exists"
    weak = requests.put(
        f"{auth}/admin/users/{user_id}", json={"password": "123"}, headers=headers, timeout=TIMEOUT
    )
    assert weak.status_code == 422
    assert weak.json()["error_code"] == "weak_password"
    bad_ban = requests.put(
        f"{auth}/admin/users/{user_id}", json={"ban_duration": "forever"}, headers=headers, timeout=TIMEOUT
    )
    assert bad_ban.status_code == 400
    not_uuid = requests.put(f"{auth}/admin/users/nope", json={}, headers=headers, timeout=TIMEOUT)
    # GoTrue's loadUser answers a malformed id with NewNotFoundError(validation_failed).
    assert (not_uuid.status_code, not_uuid.json()["error_code"]) == (404, "validation_failed")


def test_unknown_paths_methods_and_bodies(auth: str) -> None:
    missing = requests.get(f"{auth}/nope", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json() == {"code": 404, "error_code": "not_found", "msg": "Not Found"}
    wrong_method = requests.get(f"{auth}/signup", timeout=TIMEOUT)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert wrong_method.json()["error_code"] == "method_not_allowed"
    assert requests.patch(f"{auth}/admin/users/{uuid.uuid4()}", timeout=TIMEOUT).status_code == 405
    broken = requests.post(
        f"{auth}/signup", data="{", headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert broken.status_code == 400
    assert broken.json()["error_code"] == "bad_json"
    assert broken.json()["msg"].startswith("Could not parse request body as JSON: ")


def test_concurrent_requests_use_separate_connections(auth: str) -> None:
    email = _email()
    _signup(auth, email=email)
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: _sign_in(auth, email), range(16)))
    assert [response.status_code for response in responses] == [200] * 16
    assert len({response.json()["refresh_token"] for response in responses}) == 16

    contested = _email()
    with ThreadPoolExecutor(max_workers=8) as pool:
        signups = list(
            pool.map(lambda _: _post(auth, "/signup", {"email": contested, "password": PASSWORD}), range(8))
        )
    assert sorted(response.status_code for response in signups) == [200] + [422] * 7


# --------------------------------------------------------------------------- custom access token hook

ADD_CLAIMS = """
begin
  return jsonb_set(event, '{claims}', (event->'claims') || jsonb_build_object(
    'user_role', 'admin',
    'hook_ran_as', current_user::text,
    'auth_method', event->>'authentication_method',
    'event_user_id', event->>'user_id'));
end
"""


def test_missing_hook_function_is_skipped(auth: str) -> None:
    claims = _claims(_signup(auth)["access_token"])
    assert set(claims) == CLAIM_NAMES


def test_hook_adds_claims_for_password_and_refresh_grants(
    auth: str, install_hook: Callable[[str], None]
) -> None:
    install_hook(ADD_CLAIMS)
    email = _email()
    session = _signup(auth, email=email)
    claims = _claims(session["access_token"])
    assert claims["user_role"] == "admin"
    assert claims["hook_ran_as"] == "supabase_auth_admin"
    assert claims["auth_method"] == "password"
    assert claims["event_user_id"] == session["user"]["id"]

    signed_in = _claims(_sign_in(auth, email).json()["access_token"])
    assert (signed_in["user_role"], signed_in["auth_method"]) == ("admin", "password")

    refreshed = _refresh(auth, session["refresh_token"])
    assert refreshed.status_code == 200
    refreshed_claims = _claims(refreshed.json()["access_token"])
    assert (refreshed_claims["user_role"], refreshed_claims["auth_method"]) == ("admin", "token_refresh")
    # The service itself accepts the customised token.
    user = requests.get(f"{auth}/user", headers=_bearer(refreshed.json()["access_token"]), timeout=TIMEOUT)
    assert user.status_code == 200


def test_hook_error_object_becomes_the_response_and_rolls_back(
    auth: str, install_hook: Callable[[str], None], db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    existing = _email()
    _signup(auth, email=existing)
    install_hook(
        "begin return jsonb_build_object('error',"
        " jsonb_build_object('http_code', 403, 'message', 'Sign-ins are closed')); end"
    )
    email = _email()
    rejected = _post(auth, "/signup", {"email": email, "password": PASSWORD})
    assert rejected.status_code == 403
    assert rejected.json() == {"code": 403, "error_code": "unknown", "msg": "Sign-ins are closed"}
    assert db.execute("select 1 from auth.users where email = %s", (email,)).fetchone() is None

    before = db.execute("select count(*) from auth.sessions").fetchone()
    sign_in = _sign_in(auth, existing)
    assert sign_in.status_code == 403
    assert sign_in.json()["msg"] == "Sign-ins are closed"
    assert db.execute("select count(*) from auth.sessions").fetchone() == before


def test_hook_sql_error_is_a_500_and_leaves_the_refresh_token_usable(
    auth: str, install_hook: Callable[[str], None], db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    session = _signup(auth)
    install_hook("begin raise exception 'boom'; end")
    failed = _refresh(auth, session["refresh_token"])
    assert failed.status_code == 500
    assert failed.json() == {
        "code": 500,
        "error_code": "unexpected_failure",
        "msg": f"Error running hook URI: {HOOK_URI}",
    }
    db.execute("drop function public.custom_access_token_hook(jsonb)")
    assert _refresh(auth, session["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "begin return jsonb_build_object('claims', (event->'claims') - 'sub'); end",
            "output claims do not conform to the expected schema",
        ),
        (
            "begin return jsonb_build_object('claims', (event->'claims') || '{\"exp\": \"soon\"}'); end",
            "exp: Invalid type",
        ),
        ("begin return '{}'::jsonb; end", "output claims field is missing"),
        ("begin return null; end", "output claims field is missing"),
    ],
)
def test_hook_output_must_keep_the_required_claims(
    auth: str, install_hook: Callable[[str], None], body: str, message: str
) -> None:
    install_hook(body)
    response = _post(auth, "/signup", {"email": _email(), "password": PASSWORD})
    assert response.status_code == 500
    assert response.json()["error_code"] == "unexpected_failure"
    assert message in response.json()["msg"]


# --------------------------------------------------------------------------- ES256


def test_es256_tokens_are_verifiable_through_the_published_jwks(es256: tuple[str, dict[str, Any]]) -> None:
    url, key = es256
    jwks = requests.get(f"{url}/.well-known/jwks.json", timeout=TIMEOUT).json()
    assert jwks == {
        "keys": [
            {
                "alg": "ES256",
                "crv": "P-256",
                "ext": True,
                "key_ops": ["verify"],
                "kid": KID,
                "kty": "EC",
                "use": "sig",
                "x": key["x"],
                "y": key["y"],
            }
        ]
    }
    session = _signup(url)
    token = session["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KID, "typ": "JWT"}
    claims = jwt.decode(token, jwks["keys"][0], algorithms=["ES256"], audience="authenticated", issuer=ISSUER)
    assert claims["sub"] == session["user"]["id"]
    with pytest.raises(JWTError):
        jwt.decode(token, JWT_SECRET, algorithms=["HS256"])

    gotrue = SyncGoTrueClient(url=url, headers={}, auto_refresh_token=False, persist_session=False)
    try:
        verified = gotrue.get_claims(token)  # fetches the JWKS and checks the signature itself
        assert verified is not None
        assert verified["claims"]["sub"] == session["user"]["id"]
        fetched = gotrue.get_user(token)
        assert fetched is not None
        assert fetched.user.id == session["user"]["id"]
    finally:
        gotrue.close()

    # The legacy HS256 service_role key keeps working next to the asymmetric key.
    admin = requests.get(f"{url}/admin/users", headers=_bearer(_service_jwt()), timeout=TIMEOUT)
    assert admin.status_code == 200
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    impostor = str(jwt.encode(claims, other, algorithm="ES256", headers={"kid": KID}))
    rejected = requests.get(f"{url}/user", headers=_bearer(impostor), timeout=TIMEOUT)
    assert rejected.status_code == 403
    assert rejected.json()["error_code"] == "bad_jwt"


def test_signing_key_must_be_a_private_p256_jwk(
    postgres: PostgresServer, es256: tuple[str, dict[str, Any]]
) -> None:
    _, key = es256
    public_only = {name: value for name, value in key.items() if name != "d"}
    off_curve = {**key, "x": key["y"]}
    for bad in (public_only, {**key, "kid": ""}, {**key, "crv": "P-384"}, off_curve):
        with pytest.raises(ValueError, match="signing_jwk"):
            make_server("127.0.0.1", 0, _config(postgres, signing_jwk=bad))


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[auth.hook.custom_access_token]\nenabled = true\nuri = "pg-functions://postgres/public/custom_access_token_hook"\n',
            "public.custom_access_token_hook",
        ),
        (
            '[auth.hook.custom_access_token]\nenabled = false\nuri = "pg-functions://postgres/public/custom_access_token_hook"\n',
            None,
        ),
        ("[auth]\nenabled = true\n", None),
        ("", None),
    ],
)
def test_load_hook_from_config(tmp_path: Path, toml: str, expected: str | None) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    assert load_hook_from_config(path) == expected


def test_load_hook_from_config_rejects_http_hooks_and_tolerates_no_file(tmp_path: Path) -> None:
    assert load_hook_from_config(tmp_path / "missing.toml") is None
    path = tmp_path / "config.toml"
    path.write_text('[auth.hook.custom_access_token]\nenabled = true\nuri = "https://example.com/hook"\n')
    with pytest.raises(ValueError, match="pg-functions"):
        load_hook_from_config(path)


def test_config_from_env(tmp_path: Path, es256: tuple[str, dict[str, Any]]) -> None:
    _, key = es256
    base = {"AUTH_DB_DSN": "host=127.0.0.1 dbname=postgres", "SUPABASE_JWT_SECRET": JWT_SECRET}
    toml = tmp_path / "config.toml"
    toml.write_text(
        '[auth.hook.custom_access_token]\nenabled = true\nuri = "pg-functions://postgres/app/hook"\n'
    )
    assert config_from_env({**base, "AUTH_CONFIG_TOML": str(toml)}).hook == "app.hook"
    assert config_from_env({**base, "AUTH_CONFIG_TOML": str(toml), "AUTH_HOOK": ""}).hook is None
    config = config_from_env(
        {**base, "AUTH_ISSUER": ISSUER, "AUTH_SIGNING_JWK": json.dumps([key]), "AUTH_BCRYPT_ROUNDS": "4"}
    )
    assert config.signing_jwk == key
    assert config.issuer == ISSUER
    assert config.bcrypt_rounds == 4
    assert JWT_SECRET not in repr(config)
    with pytest.raises(ValueError, match="AUTH_DB_DSN"):
        config_from_env({"SUPABASE_JWT_SECRET": JWT_SECRET})
    with pytest.raises(ValueError, match="AUTH_ACCESS_TOKEN_TTL"):
        config_from_env({**base, "AUTH_ACCESS_TOKEN_TTL": "soon"})


def test_main_serves_from_the_environment_and_never_logs_secrets(postgres: PostgresServer) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AUTH_", "SUPABASE_"))}
    env.update(
        {
            "AUTH_DB_DSN": postgres.dsn("supabase_auth_admin", AUTH_ADMIN_PASSWORD),
            "SUPABASE_JWT_SECRET": JWT_SECRET,
            "AUTH_ISSUER": ISSUER,
            "AUTH_BCRYPT_ROUNDS": "4",
            "PYTHONUNBUFFERED": "1",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.auth_service", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("auth service listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        session = _signup(url)
        refreshed = _refresh(url, session["refresh_token"])
        assert refreshed.status_code == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0
    assert "POST /signup 200" in stderr
    assert "POST /token 200" in stderr
    for secret in (
        PASSWORD,
        session["refresh_token"],
        refreshed.json()["refresh_token"],
        session["access_token"],
    ):
        assert secret not in stderr

    missing = subprocess.run(
        [sys.executable, "-m", "devstack.auth_service"],
        cwd=REPO_ROOT,
        env={key: value for key, value in env.items() if key != "AUTH_DB_DSN"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
        check=False,
    )
    assert missing.returncode == 2
    assert "AUTH_DB_DSN" in missing.stderr
