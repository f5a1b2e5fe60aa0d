"""The admin user endpoints."""

from __future__ import annotations

from typing import Any

import psycopg
import requests
from jose import jwt
from supabase_auth import SyncGoTrueAdminAPI

from tests.devstack.auth.harness import (
    JWT_SECRET,
    TIMEOUT,
    bearer,
    random_email,
    refresh_session,
    service_jwt,
    sign_in_with_password,
    sign_up,
)


def test_admin_list_users_paginates_like_gotrue(auth: str, db: psycopg.Connection[tuple[Any, ...]]) -> None:
    for _ in range(3):
        sign_up(auth)
    headers = bearer(service_jwt())
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
    denied = requests.get(f"{auth}/admin/users", headers=bearer(anon_key), timeout=TIMEOUT)
    assert denied.status_code == 403
    assert denied.json() == {"code": 403, "error_code": "not_admin", "msg": "User not allowed"}


def test_admin_update_bans_changes_password_and_email(auth: str, admin: SyncGoTrueAdminAPI) -> None:
    email = random_email()
    session = sign_up(auth, email=email)
    user_id = session["user"]["id"]

    banned = admin.update_user_by_id(user_id, {"ban_duration": "24h"})
    assert banned.user.banned_until is not None
    assert sign_in_with_password(auth, email).json()["error_code"] == "user_banned"
    assert refresh_session(auth, session["refresh_token"]).json()["error_code"] == "user_banned"
    unbanned = admin.update_user_by_id(user_id, {"ban_duration": "none"})
    assert unbanned.user.banned_until is None
    latest = sign_in_with_password(auth, email)
    assert latest.status_code == 200

    admin.update_user_by_id(user_id, {"password": "a-brand-new-password"})
    # A new password ends every session, as GoTrue's UpdatePassword does.
    assert (
        refresh_session(auth, latest.json()["refresh_token"]).json()["error_code"]
        == "refresh_token_not_found"
    )
    assert sign_in_with_password(auth, email).status_code == 400
    assert sign_in_with_password(auth, email, "a-brand-new-password").status_code == 200

    new_email = random_email()
    moved = admin.update_user_by_id(user_id, {"email": new_email.upper()})
    assert moved.user.email == new_email
    assert sign_in_with_password(auth, new_email, "a-brand-new-password").status_code == 200

    headers = bearer(service_jwt())
    taken = requests.put(
        f"{auth}/admin/users/{user_id}",
        json={"email": sign_up(auth)["user"]["email"]},
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
