"""Authorisation follows the current role and the live session, on the API and on /rest/v1 alike.

A token stays cryptographically valid for an hour; what it may do must not.
Logout, a role change (which ends the user's sessions) and deleting the user
take effect on the very next request, whether the token is used on the API or
straight against PostgREST with the publishable key.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import requests

from devstack.stack_settings import StackSettings
from tests.factories import create_user, session_token
from tests.support import ApiClient, assert_problem, random_ip

PASSWORD = "correct-horse-battery"


@pytest.fixture
def api(api: ApiClient) -> ApiClient:
    """The API from an address of its own, so login limits of other tests never interfere."""
    return ApiClient(api.base_url, {"X-Forwarded-For": random_ip()})


def signed_in(
    api: ApiClient, db: psycopg.Connection[Any], settings: StackSettings, role: str
) -> dict[str, Any]:
    """A new user with `role`, signed in through the API: its Session body."""
    user = create_user(db, settings, role, password=PASSWORD)
    response = api.post("auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def direct(settings: StackSettings, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    """A call to the project's /rest/v1 with the publishable key and the user's own token."""
    headers = {"apikey": settings.publishable_key, **bearer(token), **kwargs.pop("headers", {})}
    return requests.request(
        method, f"{settings.supabase_url}/rest/v1/{path}", headers=headers, timeout=10, **kwargs
    )


def assert_refused_on_both_paths(api: ApiClient, settings: StackSettings, token: str) -> None:
    assert_problem(api.get("me", headers=bearer(token)), 401, "unauthorized")
    assert_problem(api.get("vehicles", headers=bearer(token)), 401, "unauthorized")
    answer = direct(settings, "GET", "vehicles?select=id&limit=1", token)
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "VS401"


def test_a_logout_ends_the_access_token_on_the_next_request(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    session = signed_in(api, db, stack_settings, "member")
    token = session["access_token"]
    assert api.get("me", headers=bearer(token)).status_code == 200
    assert direct(stack_settings, "GET", "vehicles?select=id", token).status_code == 200
    assert api.post("auth/logout", headers=bearer(token)).status_code == 204
    assert_refused_on_both_paths(api, stack_settings, token)


def test_a_demoted_admin_loses_admin_rights_at_once_on_both_paths(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    demoted = signed_in(api, db, stack_settings, "admin")
    other_admin = create_user(db, stack_settings, "admin")
    victim = create_user(db, stack_settings, "member")
    token, demoted_id = demoted["access_token"], demoted["user"]["id"]
    assert api.get("admin/users", headers=bearer(token)).status_code == 200
    demotion = api.put(f"admin/users/{demoted_id}/role", json={"role": "member"}, headers=other_admin.headers)
    assert demotion.status_code == 200, demotion.text
    # The old token still claims admin, but can neither promote itself back nor act as admin.
    promote = api.put(f"admin/users/{demoted_id}/role", json={"role": "admin"}, headers=bearer(token))
    assert_problem(promote, 401, "unauthorized")
    patched = direct(
        stack_settings, "PATCH", f"user_roles?user_id=eq.{demoted_id}", token, json={"role": "admin"}
    )
    assert patched.status_code == 401, patched.text
    assert direct(stack_settings, "GET", f"user_roles?user_id=eq.{victim.id}", token).status_code == 401
    assert_refused_on_both_paths(api, stack_settings, token)
    (role,) = db.execute(
        "select role::text from public.user_roles where user_id = %s", (demoted_id,)
    ).fetchone() or ("",)
    assert role == "member"


def test_a_deleted_user_is_refused_on_the_next_request(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    session = signed_in(api, db, stack_settings, "member")
    db.execute("delete from auth.users where id = %s", (session["user"]["id"],))
    assert_refused_on_both_paths(api, stack_settings, session["access_token"])


def test_permissions_come_from_the_current_role_not_the_claim(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    # A live session whose token claims admin while the user is a member (e.g. a
    # token minted before a role change that did not end the session): the
    # database and /api/me go by user_roles.
    member = create_user(db, stack_settings, "member")
    token = session_token(db, stack_settings, member.id, email=member.email, role="admin")
    me = api.get("me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert (me.json()["role"], me.json()["permissions"]) == ("member", [])
    others = direct(stack_settings, "GET", f"user_roles?user_id=neq.{member.id}&select=user_id", token)
    assert others.status_code == 200
    assert others.json() == []
    promote = direct(
        stack_settings, "PATCH", f"user_roles?user_id=eq.{member.id}", token, json={"role": "admin"}
    )
    assert promote.status_code == 204  # RLS: the update matches no row, and changes nothing
    (role,) = db.execute(
        "select role::text from public.user_roles where user_id = %s", (member.id,)
    ).fetchone() or ("",)
    assert role == "member"


def test_a_token_without_a_session_is_refused_directly(
    db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    from tests.factories import mint_token

    member = create_user(db, stack_settings, "member")
    forged = mint_token(stack_settings, member.id, email=member.email)  # a session that never existed
    answer = direct(stack_settings, "GET", "vehicles?select=id", forged)
    assert answer.status_code == 401, answer.text
    assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
