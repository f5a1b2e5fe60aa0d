"""The issue's "done when": a member's token used straight against PostgREST gets no more than the API gives.

Plain `requests` calls to `{supabase_url}/rest/v1/...`, exactly as a curious user
with their access token and the publishable key would make them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from devstack.stack_settings import StackSettings
from tests.db.conftest import Db, fetch_one
from tests.db.rest import Rest
from tests.factories import User, create_record, create_vehicle


def get(supabase_url: str, settings: StackSettings, user: User, path: str) -> requests.Response:
    return requests.get(
        f"{supabase_url}/rest/v1/{path}",
        headers={"apikey": settings.publishable_key, "Authorization": f"Bearer {user.token}"},
        timeout=30,
    )


def test_member_token_straight_against_postgrest(
    db: Db,
    supabase_url: str,
    stack_settings: StackSettings,
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
) -> None:
    member, other, admin = make_user("member"), make_user("member"), make_user("admin")
    mine = [create_vehicle(db, member) for _ in range(2)]
    theirs = create_vehicle(db, other)
    create_record(db, theirs, other)
    # Idempotency keys of both users exist, so an empty answer would prove nothing.
    # (the API stores them with the secret key: users cannot call the bookkeeping themselves).
    for user in (member, other):
        stored = rest("service").rpc(
            "idempotency_store",
            {
                "p_user_id": user.id,
                "p_key": "done-when",
                "p_request_hash": "h",
                "p_status": 422,
                "p_body": "{}",
            },
        )
        assert stored.status_code == 204, stored.text
    assert fetch_one(db, "select count(*) as n from private.idempotency_keys where key = 'done-when'") == {
        "n": 2
    }
    total_vehicles = fetch_one(db, "select count(*) as n from public.vehicles")
    assert total_vehicles is not None
    assert total_vehicles["n"] > 2

    vehicles = get(supabase_url, stack_settings, member, "vehicles?select=*")
    assert vehicles.status_code == 200
    assert sorted(row["id"] for row in vehicles.json()) == sorted(str(v["id"]) for v in mine)
    assert {row["owner_id"] for row in vehicles.json()} == {member.id}

    records = get(supabase_url, stack_settings, member, "maintenance_records?select=*")
    assert records.status_code == 200
    assert records.json() == []

    audit = get(supabase_url, stack_settings, member, "audit_log?select=*")
    assert audit.status_code == 200
    assert audit.json() == []
    assert fetch_one(
        db, "select count(*) as n from public.audit_log where record_id = %s", (str(mine[0]["id"]),)
    ) == {"n": 1}

    roles = get(supabase_url, stack_settings, member, "user_roles?select=*")
    assert roles.status_code == 200
    assert [(row["user_id"], row["role"]) for row in roles.json()] == [(member.id, "member")]

    profiles = get(supabase_url, stack_settings, member, "profiles?select=*")
    assert [row["id"] for row in profiles.json()] == [member.id]

    for table in ("rate_limits", "idempotency_keys"):
        response = get(supabase_url, stack_settings, member, f"{table}?select=*")
        assert_unreadable(response)

    # The admin, by contrast, sees everything the API's admin sees.
    admin_vehicles = get(supabase_url, stack_settings, admin, f"vehicles?select=id&owner_id=eq.{other.id}")
    assert [row["id"] for row in admin_vehicles.json()] == [str(theirs["id"])]


def assert_unreadable(response: requests.Response) -> None:
    """An error (the table is not exposed), never rows."""
    assert response.status_code in {401, 403, 404}, (response.status_code, response.text)
    body: Any = response.json()
    assert isinstance(body, dict)
    assert body.get("code") in {"42501", "42P01", "PGRST205"}


def test_member_cannot_touch_rate_limits_through_the_rpc(
    db: Db, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    member = make_user("member")
    args = {"p_key": f"user:{member.id}", "p_limit": 1, "p_window_seconds": 60}
    response = rest(member).rpc("rate_limit_take", args)
    assert response.status_code in {401, 403, 404}, response.text
    assert response.json()["code"] in {"42501", "PGRST202"}
    assert rest("anon").rpc("rate_limit_take", args).status_code in {401, 404}
