"""POST /signup and the password grant's answers to wrong or weak credentials."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.devstack.auth.harness import (
    NEW_API,
    PASSWORD,
    post_json,
    random_email,
    sign_in_with_password,
    sign_up,
)


def test_signup_stores_a_confirmed_user_with_a_session(
    auth: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    email = random_email()
    session = sign_up(auth, email=f"  {email.upper()}  ")
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
    email = random_email()
    sign_up(auth, email=email)
    for headers in ({}, NEW_API):
        wrong = post_json(
            auth, "/token?grant_type=password", {"email": email, "password": "nope-nope"}, headers=headers
        )
        unknown = post_json(
            auth,
            "/token?grant_type=password",
            {"email": random_email(), "password": "nope-nope"},
            headers=headers,
        )
        assert wrong.status_code == unknown.status_code == 400
        assert wrong.json() == unknown.json()
    legacy = sign_in_with_password(auth, email, "nope-nope")
    assert legacy.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }
    assert "X-Supabase-Api-Version" not in legacy.headers
    versioned = post_json(
        auth, "/token?grant_type=password", {"email": email, "password": "nope-nope"}, headers=NEW_API
    )
    assert versioned.json() == {"code": "invalid_credentials", "message": "Invalid login credentials"}
    assert versioned.headers["X-Supabase-Api-Version"] == "2024-01-01"
    assert sign_in_with_password(auth, email.upper()).status_code == 200


def test_weak_password_is_rejected_with_reasons(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    email = random_email()
    response = post_json(auth, "/signup", {"email": email, "password": "12345"})
    assert response.status_code == 422
    assert response.json() == {
        "code": 422,
        "error_code": "weak_password",
        "msg": "Password should be at least 6 characters.",
        "weak_password": {"reasons": ["length"]},
    }
    versioned = post_json(auth, "/signup", {"email": email, "password": "12345"}, headers=NEW_API)
    assert versioned.json() == {
        "code": "weak_password",
        "message": "Password should be at least 6 characters.",
        "weak_password": {"reasons": ["length"]},
    }
    assert db.execute("select 1 from auth.users where email = %s", (email,)).fetchone() is None


def test_duplicate_signup_is_rejected(auth: str) -> None:
    email = random_email()
    sign_up(auth, email=email)
    again = post_json(auth, "/signup", {"email": email.upper(), "password": "another-password"})
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
    response = post_json(auth, "/signup", body)
    assert response.status_code == status
    assert response.json()["error_code"] == error_code
