"""Refresh-token rotation and reuse, access token claims, bearer checks, logout and GET /user."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest
import requests
from jose import jwt

from devstack.auth import (
    legacy_secret_kid,
)
from tests.devstack.auth.harness import (
    CLAIM_NAMES,
    ISSUER,
    JWT_SECRET,
    TIMEOUT,
    bearer,
    decode_claims,
    post_json,
    random_email,
    refresh_session,
    sign_in_with_password,
    sign_up,
)


def test_refresh_rotates_within_the_same_session(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    first = sign_up(auth)
    second = refresh_session(auth, first["refresh_token"]).json()
    third = refresh_session(auth, second["refresh_token"]).json()
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
    assert (
        decode_claims(third["access_token"])["session_id"]
        == decode_claims(first["access_token"])["session_id"]
    )


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
    first = sign_up(auth)
    second = refresh_session(auth, first["refresh_token"]).json()
    _age(db, first["refresh_token"], 3600)
    again = refresh_session(auth, first["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] == second["refresh_token"]
    session_id = decode_claims(second["access_token"])["session_id"]
    assert decode_claims(again.json()["access_token"])["session_id"] == session_id
    assert _live_tokens(db, first["user"]["id"]) == 1


def test_reuse_within_the_interval_gets_a_new_child_token(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    # Two tabs refreshing at once: an older rotated token, presented within
    # refresh_token_reuse_interval (10 s) of its rotation, is swapped for a new child.
    first = sign_up(auth)
    second = refresh_session(auth, first["refresh_token"]).json()
    third = refresh_session(auth, second["refresh_token"]).json()
    _age(db, first["refresh_token"], 9)
    branch = refresh_session(auth, first["refresh_token"])
    assert branch.status_code == 200
    token = branch.json()["refresh_token"]
    assert token not in {first["refresh_token"], second["refresh_token"], third["refresh_token"]}
    parent = db.execute("select parent from auth.refresh_tokens where token = %s", (token,)).fetchone()
    assert parent == (first["refresh_token"],)


def test_reuse_after_the_interval_revokes_the_session(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    first = sign_up(auth)
    second = refresh_session(auth, first["refresh_token"]).json()
    third = refresh_session(auth, second["refresh_token"]).json()
    _age(db, first["refresh_token"], 11)
    reuse = refresh_session(auth, first["refresh_token"])
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
    latest = refresh_session(auth, third["refresh_token"])
    assert latest.status_code == 400
    assert latest.json()["error_code"] == "refresh_token_already_used"


def test_refresh_errors(auth: str) -> None:
    unknown = refresh_session(auth, "no-such-token")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "code": 400,
        "error_code": "refresh_token_not_found",
        "msg": "Invalid Refresh Token: Refresh Token Not Found",
    }
    empty = post_json(auth, "/token?grant_type=refresh_token", {})
    assert empty.status_code == 400
    assert empty.json() == {"error": "invalid_request", "error_description": "refresh_token required"}
    unsupported = post_json(auth, "/token?grant_type=magic", {})
    assert unsupported.status_code == 400
    assert unsupported.json()["msg"] == "unsupported_grant_type"


def test_access_token_claims(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    email = random_email()
    session = sign_up(auth, email=email, data={"name": "Ada"})
    token = session["access_token"]
    # Like a hosted project's shared-secret signing key: its kid in the header.
    assert jwt.get_unverified_header(token) == {
        "alg": "HS256",
        "kid": legacy_secret_kid(JWT_SECRET),
        "typ": "JWT",
    }
    claims = decode_claims(token)
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

    refreshed = decode_claims(refresh_session(auth, session["refresh_token"]).json()["access_token"])
    assert refreshed["session_id"] == claims["session_id"]
    assert refreshed["amr"] == claims["amr"]  # GoTrue keeps the original sign-in method
    assert refreshed["exp"] - refreshed["iat"] == 3600


@pytest.mark.parametrize("method_path", [("GET", "/user"), ("POST", "/logout")])
def test_bad_or_missing_jwt_is_rejected(auth: str, method_path: tuple[str, str]) -> None:
    method, path = method_path
    session = sign_up(auth)
    claims = decode_claims(session["access_token"])
    forged = str(jwt.encode(claims, "some-other-secret", algorithm="HS256"))
    expired = str(jwt.encode({**claims, "exp": int(time.time()) - 60}, JWT_SECRET, algorithm="HS256"))
    cases = {"garbage": "not-a-jwt", "forged": forged, "expired": expired}
    for name, token in cases.items():
        response = requests.request(method, f"{auth}{path}", headers=bearer(token), timeout=TIMEOUT)
        assert response.status_code == 403, name
        body = response.json()
        assert body["code"] == 403
        assert body["error_code"] == "bad_jwt"
        assert body["msg"].startswith("invalid JWT: unable to parse or verify signature, "), name
    expired_body = requests.request(method, f"{auth}{path}", headers=bearer(expired), timeout=TIMEOUT).json()
    assert "token is expired" in expired_body["msg"]
    missing = requests.request(method, f"{auth}{path}", timeout=TIMEOUT)
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "no_authorization"
    # The genuine token still works: nothing above touched the session.
    assert requests.get(f"{auth}/user", headers=bearer(session["access_token"]), timeout=TIMEOUT).ok


def test_logout_scopes(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    email = random_email()
    first = sign_up(auth, email=email)
    second = sign_in_with_password(auth, email).json()
    third = sign_in_with_password(auth, email).json()
    user_id = first["user"]["id"]

    def sessions() -> set[str]:
        rows = db.execute("select id from auth.sessions where user_id = %s", (user_id,)).fetchall()
        return {str(row[0]) for row in rows}

    def session_id(session: dict[str, Any]) -> str:
        return str(decode_claims(session["access_token"])["session_id"])

    assert len(sessions()) == 3
    others = post_json(auth, "/logout?scope=others", headers=bearer(first["access_token"]))
    assert others.status_code == 204
    assert sessions() == {session_id(first)}
    assert refresh_session(auth, second["refresh_token"]).json()["error_code"] == "refresh_token_not_found"
    assert refresh_session(auth, third["refresh_token"]).status_code == 400

    fourth = sign_in_with_password(auth, email).json()
    local = post_json(auth, "/logout?scope=local", headers=bearer(fourth["access_token"]))
    assert local.status_code == 204
    assert sessions() == {session_id(first)}

    bogus = post_json(auth, "/logout?scope=everything", headers=bearer(first["access_token"]))
    assert bogus.status_code == 400
    assert bogus.json()["error_code"] == "validation_failed"

    assert post_json(auth, "/logout", headers=bearer(first["access_token"])).status_code == 204
    assert sessions() == set()
    # As GoTrue's requireAuthentication: the still-unexpired token of a deleted session is refused
    # (supabase-js and supabase-py treat that 403 as signed out).
    again = post_json(auth, "/logout", headers=bearer(first["access_token"]))
    assert (again.status_code, again.json()["error_code"]) == (403, "session_not_found")


def test_user_endpoint_rejects_deleted_sessions_and_users(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    session = sign_up(auth)
    ok = requests.get(f"{auth}/user", headers=bearer(session["access_token"]), timeout=TIMEOUT)
    assert ok.status_code == 200
    assert ok.json() == session["user"] | {"updated_at": ok.json()["updated_at"]}

    db.execute("delete from auth.sessions where user_id = %s", (session["user"]["id"],))
    gone = requests.get(f"{auth}/user", headers=bearer(session["access_token"]), timeout=TIMEOUT)
    assert gone.status_code == 403
    assert gone.json() == {
        "code": 403,
        "error_code": "session_not_found",
        "msg": "Session from session_id claim in JWT does not exist",
    }
    db.execute("delete from auth.users where id = %s", (session["user"]["id"],))
    deleted = requests.get(f"{auth}/user", headers=bearer(session["access_token"]), timeout=TIMEOUT)
    assert deleted.status_code == 403
    assert deleted.json()["error_code"] == "user_not_found"
    assert post_json(auth, "/logout", headers=bearer(session["access_token"])).status_code == 403
