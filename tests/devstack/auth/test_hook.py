"""The custom access token hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import requests

from tests.devstack.auth.harness import (
    CLAIM_NAMES,
    HOOK_URI,
    PASSWORD,
    TIMEOUT,
    bearer,
    decode_claims,
    post_json,
    random_email,
    refresh_session,
    sign_in_with_password,
    sign_up,
)

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
    claims = decode_claims(sign_up(auth)["access_token"])
    assert set(claims) == CLAIM_NAMES


def test_hook_adds_claims_for_password_and_refresh_grants(
    auth: str, install_hook: Callable[[str], None]
) -> None:
    install_hook(ADD_CLAIMS)
    email = random_email()
    session = sign_up(auth, email=email)
    claims = decode_claims(session["access_token"])
    assert claims["user_role"] == "admin"
    assert claims["hook_ran_as"] == "supabase_auth_admin"
    assert claims["auth_method"] == "password"
    assert claims["event_user_id"] == session["user"]["id"]

    signed_in = decode_claims(sign_in_with_password(auth, email).json()["access_token"])
    assert (signed_in["user_role"], signed_in["auth_method"]) == ("admin", "password")

    refreshed = refresh_session(auth, session["refresh_token"])
    assert refreshed.status_code == 200
    refreshed_claims = decode_claims(refreshed.json()["access_token"])
    assert (refreshed_claims["user_role"], refreshed_claims["auth_method"]) == ("admin", "token_refresh")
    # The service itself accepts the customised token.
    user = requests.get(f"{auth}/user", headers=bearer(refreshed.json()["access_token"]), timeout=TIMEOUT)
    assert user.status_code == 200


def test_hook_error_object_becomes_the_response_and_rolls_back(
    auth: str, install_hook: Callable[[str], None], db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    existing = random_email()
    sign_up(auth, email=existing)
    install_hook(
        "begin return jsonb_build_object('error',"
        " jsonb_build_object('http_code', 403, 'message', 'Sign-ins are closed')); end"
    )
    email = random_email()
    rejected = post_json(auth, "/signup", {"email": email, "password": PASSWORD})
    assert rejected.status_code == 403
    assert rejected.json() == {"code": 403, "error_code": "unknown", "msg": "Sign-ins are closed"}
    assert db.execute("select 1 from auth.users where email = %s", (email,)).fetchone() is None

    before = db.execute("select count(*) from auth.sessions").fetchone()
    sign_in = sign_in_with_password(auth, existing)
    assert sign_in.status_code == 403
    assert sign_in.json()["msg"] == "Sign-ins are closed"
    assert db.execute("select count(*) from auth.sessions").fetchone() == before


def test_hook_sql_error_is_a_500_and_leaves_the_refresh_token_usable(
    auth: str, install_hook: Callable[[str], None], db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    session = sign_up(auth)
    install_hook("begin raise exception 'boom'; end")
    failed = refresh_session(auth, session["refresh_token"])
    assert failed.status_code == 500
    assert failed.json() == {
        "code": 500,
        "error_code": "unexpected_failure",
        "msg": f"Error running hook URI: {HOOK_URI}",
    }
    db.execute("drop function public.custom_access_token_hook(jsonb)")
    assert refresh_session(auth, session["refresh_token"]).status_code == 200


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
    response = post_json(auth, "/signup", {"email": random_email(), "password": PASSWORD})
    assert response.status_code == 500
    assert response.json()["error_code"] == "unexpected_failure"
    assert message in response.json()["msg"]
