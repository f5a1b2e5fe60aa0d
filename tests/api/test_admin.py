"""Admin routes: users, roles (last admin), audit log."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from devstack.stack_settings import StackSettings
from tests.api.conftest import Actors
from tests.factories import User, create_user, create_vehicle
from tests.support import ApiClient, assert_problem


@pytest.mark.parametrize("path", ["admin/users", "admin/audit"])
def test_only_admins(api: ApiClient, actors: Actors, path: str) -> None:
    for user in (actors.member, actors.manager):
        assert_problem(api.get(path, headers=user.headers), 403, "forbidden")
    assert_problem(api.get(path), 401, "unauthorized")
    assert api.get(path, headers=actors.admin.headers).status_code == 200


def test_users_page_through_everyone(api: ApiClient, actors: Actors) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 50}
        if cursor:
            params["cursor"] = cursor
        page = api.get("admin/users", params=params, headers=actors.admin.headers).json()
        seen.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [u["id"] for u in seen]
    assert len(ids) == len(set(ids))
    by_id = {u["id"]: u for u in seen}
    assert by_id[actors.manager.id]["role"] == "manager"
    assert set(by_id[actors.member.id]) == {"id", "email", "role", "created_at"}
    assert_problem(
        api.get("admin/users", params={"role": "admin"}, headers=actors.admin.headers), 400, "invalid_query"
    )


def test_role_change_takes_effect_and_is_audited(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    response = api.put(
        f"admin/users/{actors.member.id}/role", json={"role": "manager"}, headers=actors.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": actors.member.id, "role": "manager"}
    stored = db.execute(
        "select role from public.user_roles where user_id = %s", (actors.member.id,)
    ).fetchone()
    assert stored == ("manager",)
    audit = api.get(
        "admin/audit",
        params={"table": "user_roles", "record_id": actors.member.id},
        headers=actors.admin.headers,
    ).json()["data"]
    latest = audit[0]
    assert latest["actor_id"] == actors.admin.id
    assert latest["action"] == "update"
    assert latest["table"] == "user_roles"
    assert latest["changes"]["role"] == {"old": "member", "new": "manager"}


def test_role_change_rules(api: ApiClient, actors: Actors) -> None:
    url = f"admin/users/{actors.member.id}/role"
    assert_problem(
        api.put(url, json={"role": "owner"}, headers=actors.admin.headers), 422, "validation_error"
    )
    assert_problem(api.put(url, json={"role": "admin"}, headers=actors.manager.headers), 403, "forbidden")
    missing = "admin/users/00000000-0000-4000-8000-000000000999/role"
    assert_problem(api.put(missing, json={"role": "member"}, headers=actors.admin.headers), 404, "not_found")


def test_last_admin_cannot_be_demoted(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    admin = create_user(db, stack_settings, "admin")
    others = db.execute(
        "select user_id from public.user_roles where role = 'admin' and user_id <> %s", (admin.id,)
    ).fetchall()
    db.execute(
        "update public.user_roles set role = 'manager' where user_id = any(%s)", ([r[0] for r in others],)
    )
    try:
        for role in ("manager", "member"):
            response = api.put(f"admin/users/{admin.id}/role", json={"role": role}, headers=admin.headers)
            assert_problem(response, 409, "last_admin")
    finally:
        db.execute(
            "update public.user_roles set role = 'admin' where user_id = any(%s)", ([r[0] for r in others],)
        )


def test_audit_filters_and_actor(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    created = api.post(
        "vehicles",
        json={
            "vin": "WVWZZZ1JZXW" + actors.member.id[:6].upper(),
            "make": "VW",
            "model": "Golf",
            "model_year": 2020,
        },
        headers=actors.member.headers,
    )
    assert created.status_code == 201, created.text
    vehicle_id = created.json()["id"]
    entries = api.get("admin/audit", params={"record_id": vehicle_id}, headers=actors.admin.headers).json()[
        "data"
    ]
    assert [(e["action"], e["table"], e["actor_id"]) for e in entries] == [
        ("insert", "vehicles", actors.member.id)
    ]
    by_actor = api.get(
        "admin/audit", params={"actor_id": actors.member.id}, headers=actors.admin.headers
    ).json()["data"]
    assert {e["record_id"] for e in by_actor} >= {vehicle_id}
    assert_problem(
        api.get("admin/audit", params={"table": "secrets"}, headers=actors.admin.headers),
        400,
        "invalid_query",
    )
    create_vehicle(db, actors.member)


def _page_holding(api: ApiClient, admin: User, user_id: str) -> dict[str, Any]:
    """The query of the users page that lists `user_id`."""
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = api.get("admin/users", params=params, headers=admin.headers).json()
        if any(user["id"] == user_id for user in page["data"]):
            return params
        assert page["next_cursor"], f"user {user_id} is not listed"
        params = {"limit": 100, "cursor": page["next_cursor"]}


def test_users_list_etag_and_304(api: ApiClient, actors: Actors) -> None:
    params = _page_holding(api, actors.admin, actors.member.id)
    first = api.get("admin/users", params=params, headers=actors.admin.headers)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"')  # strong
    conditional = {**actors.admin.headers, "If-None-Match": etag}
    again = api.get("admin/users", params=params, headers=conditional)
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert again.headers["Vary"] == "Authorization, Cookie, Origin"
    weak = {**actors.admin.headers, "If-None-Match": f'"other", W/{etag}'}
    assert api.get("admin/users", params=params, headers=weak).status_code == 304
    assert api.request("HEAD", "admin/users", params=params, headers=conditional).status_code == 304
    other = {**actors.admin.headers, "If-None-Match": '"other"'}
    assert api.get("admin/users", params=params, headers=other).status_code == 200
    changed_role = api.put(
        f"admin/users/{actors.member.id}/role", json={"role": "manager"}, headers=actors.admin.headers
    )
    assert changed_role.status_code == 200
    changed = api.get("admin/users", params=params, headers=conditional)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_audit_list_etag_and_304(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    params = {"table": "vehicles", "record_id": vehicle["id"]}
    first = api.get("admin/audit", params=params, headers=actors.admin.headers)
    assert first.status_code == 200
    assert len(first.json()["data"]) == 1
    etag = first.headers["ETag"]
    conditional = {**actors.admin.headers, "If-None-Match": etag}
    again = api.get("admin/audit", params=params, headers=conditional)
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    assert (
        api.get("admin/audit", params=params, headers={**conditional, "If-None-Match": "*"}).status_code
        == 304
    )
    updated = api.patch(f"vehicles/{vehicle['id']}", json={"color": "red"}, headers=actors.member.headers)
    assert updated.status_code == 200
    changed = api.get("admin/audit", params=params, headers=conditional)
    assert changed.status_code == 200
    assert len(changed.json()["data"]) == 2
    assert changed.headers["ETag"] != etag


@pytest.mark.parametrize("path", ["admin/users", "admin/audit"])
def test_authorisation_comes_before_304(api: ApiClient, actors: Actors, path: str) -> None:
    etag = api.get(path, headers=actors.admin.headers).headers["ETag"]
    for user in (actors.member, actors.manager):
        for tag in (etag, "*"):
            refused = api.get(path, headers={**user.headers, "If-None-Match": tag})
            assert_problem(refused, 403, "forbidden")
    assert_problem(api.get(path, headers={"If-None-Match": "*"}), 401, "unauthorized")
