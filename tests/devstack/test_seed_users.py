"""Users written by hand (seeds, factories) must be readable by the real Supabase Auth.

Supabase Auth reads auth.users' token columns as strings: a NULL there fails every
sign-in of that user with a 500. The local Auth refuses the same way, so a seed that
would break on a hosted project breaks `make test` first.
"""

from __future__ import annotations

import uuid
from typing import Any

import bcrypt
import psycopg
import requests

from devstack.stack import Stack
from devstack.stack_settings import DEMO_USERS, SEED_DEMO_PASSWORD

PASSWORD = "seed-check-password"


def sign_in(stack: Stack, email: str, password: str) -> requests.Response:
    s = stack.settings
    return requests.post(
        f"{s.supabase_url}/auth/v1/token?grant_type=password",
        json={"email": email, "password": password},
        headers={"apikey": s.publishable_key},
        timeout=10,
    )


def test_demo_users_are_written_as_supabase_auth_writes_users(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    rows = db.execute(
        "select u.email, u.confirmation_token, u.recovery_token, u.email_change_token_new, u.email_change,"
        " (select count(*) from auth.identities i where i.user_id = u.id and i.provider = 'email'"
        "  and i.identity_data ->> 'email' = u.email)"
        " from auth.users u where u.email = any(%s) order by u.email",
        (list(DEMO_USERS),),
    ).fetchall()
    assert [row[0] for row in rows] == sorted(DEMO_USERS)
    for email, *tokens, identities in rows:
        assert tokens == ["", "", "", ""], email
        assert identities == 1, email
    if stack.settings.demo_password == SEED_DEMO_PASSWORD:
        assert sign_in(stack, "member@example.com", SEED_DEMO_PASSWORD).status_code == 200


def test_a_user_with_null_token_columns_cannot_sign_in_as_on_a_hosted_project(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    email = f"null-tokens-{uuid.uuid4().hex[:8]}@example.test"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    db.execute(
        "insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at,"
        " raw_app_meta_data, raw_user_meta_data, created_at, updated_at)"
        " values (gen_random_uuid(), 'authenticated', 'authenticated', %s, %s, now(),"
        " '{}', '{}', now(), now())",
        (email, hashed),
    )
    refused = sign_in(stack, email, PASSWORD)
    assert refused.status_code == 500, refused.text
    assert refused.json()["error_code"] == "unexpected_failure"
    db.execute(
        "update auth.users set confirmation_token = '', recovery_token = '', email_change_token_new = '',"
        " email_change = '' where email = %s",
        (email,),
    )
    assert sign_in(stack, email, PASSWORD).status_code == 200
