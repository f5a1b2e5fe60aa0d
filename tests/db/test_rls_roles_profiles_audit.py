"""user_roles, profiles, role_permissions, audit_log, the private schema and the access token hook."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from lib.supabase.caller import ROLE_PERMISSIONS
from tests.db.conftest import Actors, Db, actor_of, fetch_all, fetch_one, impersonate
from tests.db.rest import Rest, anon_denied, assert_error, rows
from tests.factories import User, create_vehicle, north_american_vin
from tests.factories import create_record as create_vehicle_record


def role_of(db: Db, user: User) -> str | None:
    row = fetch_one(db, "select role::text from public.user_roles where user_id = %s", (user.id,))
    return None if row is None else row["role"]


def admin_count(db: Db) -> int:
    row = fetch_one(db, "select count(*) as n from public.user_roles where role = 'admin'")
    assert row is not None
    return int(row["n"])


# -- user_roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "visible"),
    [
        ("anon", set()),
        ("owner", {"owner"}),
        ("manager", {"manager"}),
        ("admin", {"owner", "other", "manager", "admin"}),
        ("service", {"owner", "other", "manager", "admin"}),
    ],
)
def test_user_roles_own_row_readable_others_only_for_admin(
    actors: Actors, actor: str, visible: set[str]
) -> None:
    users = {name: getattr(actors, name) for name in ("owner", "other", "manager", "admin")}
    ids = ",".join(user.id for user in users.values())
    response = actors.client(actor_of(actors, actor)).select("user_roles", {"user_id": f"in.({ids})"})
    if actor == "anon":
        anon_denied(response)
        return
    found = rows(response)
    assert {row["user_id"] for row in found} == {users[name].id for name in visible}
    for row in found:
        assert row["role"] == next(u.role for u in users.values() if u.id == row["user_id"])


@pytest.mark.parametrize("actor", ["anon", "owner", "manager"])
@pytest.mark.parametrize("target", ["self", "other"])
def test_only_admin_changes_roles(db: Db, actors: Actors, actor: str, target: str) -> None:
    victim = actors.other if target == "other" or actor == "anon" else getattr(actors, actor)
    before = role_of(db, victim)
    response = actors.client(actor_of(actors, actor)).update(
        "user_roles", {"role": "admin"}, {"user_id": f"eq.{victim.id}"}
    )
    if actor == "anon":
        anon_denied(response)
    else:
        assert rows(response) == []
    assert role_of(db, victim) == before


@pytest.mark.parametrize("actor", ["anon", "owner", "manager"])
def test_non_admins_cannot_insert_or_delete_roles(db: Db, actors: Actors, actor: str) -> None:
    client = actors.client(actor_of(actors, actor))
    db.execute("delete from public.user_roles where user_id = %s", (actors.other.id,))
    response = client.insert("user_roles", {"user_id": actors.other.id, "role": "admin"})
    assert_error(response, 401 if actor == "anon" else 403, "42501")
    assert role_of(db, actors.other) is None
    response = client.delete("user_roles", {"user_id": f"eq.{actors.owner.id}"})
    assert_error(response, 401 if actor == "anon" else 403, "42501")
    assert role_of(db, actors.owner) == "member"


def test_admin_changes_roles_but_role_rows_follow_the_users(db: Db, actors: Actors) -> None:
    # Rows are created by the sign-up trigger and removed with the user: the API
    # roles hold only UPDATE (role) on user_roles, admins included.
    admin = actors.client(actors.admin)
    changed = rows(admin.update("user_roles", {"role": "manager"}, {"user_id": f"eq.{actors.owner.id}"}))
    assert changed[0]["role"] == "manager"
    assert role_of(db, actors.owner) == "manager"
    assert_error(admin.delete("user_roles", {"user_id": f"eq.{actors.other.id}"}), 403, "42501")
    assert role_of(db, actors.other) == "member"
    assert_error(admin.insert("user_roles", {"user_id": actors.other.id, "role": "admin"}), 403, "42501")
    assert_error(
        admin.update("user_roles", {"user_id": actors.admin.id}, {"user_id": f"eq.{actors.other.id}"}),
        403,
        "42501",
    )
    assert role_of(db, actors.other) == "member"


def test_last_admin_cannot_be_demoted_or_deleted(
    db: Db, actors: Actors, sole_admins: Callable[[list[User]], None]
) -> None:
    sole_admins([actors.admin])
    admin = actors.client(actors.admin)
    for role in ("manager", "member"):
        response = admin.update("user_roles", {"role": role}, {"user_id": f"eq.{actors.admin.id}"})
        assert_error(response, 400, "VA409")
    assert_error(admin.delete("user_roles", {"user_id": f"eq.{actors.admin.id}"}), 403, "42501")
    # Not even the database owner, nor by deleting the auth user (the cascade fires the trigger).
    for statement in (
        "update public.user_roles set role = 'member' where user_id = %s",
        "delete from public.user_roles where user_id = %s",
        "delete from auth.users where id = %s",
    ):
        with pytest.raises(psycopg.Error) as raised:
            db.execute(statement, (actors.admin.id,))
        assert raised.value.sqlstate == "VA409"
    assert role_of(db, actors.admin) == "admin"
    assert admin_count(db) == 1
    # Keeping the role is not a demotion.
    assert len(rows(admin.update("user_roles", {"role": "admin"}, {"user_id": f"eq.{actors.admin.id}"}))) == 1


def test_an_admin_can_be_demoted_while_another_remains(
    db: Db, actors: Actors, make_user: Callable[..., User], sole_admins: Callable[[list[User]], None]
) -> None:
    second = make_user("admin")
    sole_admins([actors.admin, second])
    response = actors.client(actors.admin).update(
        "user_roles", {"role": "member"}, {"user_id": f"eq.{second.id}"}
    )
    assert rows(response)[0]["role"] == "member"
    assert admin_count(db) == 1


def _demote(
    conn: Db,
    actor: User,
    target: User,
    *,
    locked: threading.Event,
    release: threading.Event,
    results: dict[str, Any],
) -> None:
    try:
        with conn.transaction():
            impersonate(conn, actor)
            cursor = conn.execute(
                "update public.user_roles set role = 'member' where user_id = %s returning user_id",
                (target.id,),
            )
            results[actor.id] = ("ok", cursor.rowcount)
            locked.set()
            release.wait(10)  # keep the transaction (and its advisory lock) open until told to commit
    except psycopg.Error as error:
        results[actor.id] = ("error", error.sqlstate)
    finally:
        locked.set()


def wait_until_blocked(db: Db, pid: int, timeout: float = 10.0) -> None:
    """Wait until backend `pid` waits for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = fetch_one(db, "select wait_event_type from pg_stat_activity where pid = %s", (pid,))
        if row is not None and row["wait_event_type"] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


def test_two_concurrent_demotions_leave_an_admin(
    db: Db,
    make_user: Callable[..., User],
    connect: Callable[[], Db],
    sole_admins: Callable[[list[User]], None],
) -> None:
    first, second = make_user("admin"), make_user("admin")
    sole_admins([first, second])
    results: dict[str, Any] = {}
    first_locked, second_locked, release = threading.Event(), threading.Event(), threading.Event()
    release_now = threading.Event()
    release_now.set()
    conn_one, conn_two = connect(), connect()
    one = threading.Thread(
        target=_demote,
        args=(conn_one, first, second),
        kwargs={"locked": first_locked, "release": release, "results": results},
    )
    two = threading.Thread(
        target=_demote,
        args=(conn_two, second, first),
        kwargs={"locked": second_locked, "release": release_now, "results": results},
    )
    one.start()
    assert first_locked.wait(10)
    assert results[first.id] == ("ok", 1)
    # The first demotion is done but uncommitted; the second must wait for it instead of
    # counting the first admin as still present.
    two.start()
    try:
        wait_until_blocked(db, conn_two.info.backend_pid)
    finally:
        release.set()
    one.join(15)
    two.join(15)
    assert results[second.id] == ("error", "VA409")
    assert admin_count(db) == 1
    assert role_of(db, first) == "admin"
    assert role_of(db, second) == "member"


def test_racing_demotions_never_remove_every_admin(
    db: Db,
    make_user: Callable[..., User],
    connect: Callable[[], Db],
    sole_admins: Callable[[list[User]], None],
) -> None:
    first, second = make_user("admin"), make_user("admin")
    sole_admins([first, second])
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def demote(conn: Db, actor: User, target: User) -> None:
        try:
            with conn.transaction():
                impersonate(conn, actor)
                barrier.wait(5)
                conn.execute("update public.user_roles set role = 'member' where user_id = %s", (target.id,))
            results[actor.id] = "ok"
        except psycopg.Error as error:
            results[actor.id] = error.sqlstate

    threads = [
        threading.Thread(target=demote, args=(connect(), first, second)),
        threading.Thread(target=demote, args=(connect(), second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert sorted(results.values()) == ["VA409", "ok"]
    assert admin_count(db) == 1


def add_session(db: Db, user: User) -> None:
    db.execute(
        "insert into auth.sessions (id, user_id, created_at, updated_at, aal)"
        " values (%s, %s, now(), now(), 'aal1')",
        (str(uuid.uuid4()), user.id),
    )


def session_count(db: Db, user: User) -> int:
    row = fetch_one(db, "select count(*) as n from auth.sessions where user_id = %s", (user.id,))
    assert row is not None
    return int(row["n"])


def test_role_change_revokes_the_users_sessions(db: Db, actors: Actors) -> None:
    add_session(db, actors.owner)
    add_session(db, actors.owner)
    add_session(db, actors.other)
    owner_sessions, other_sessions = session_count(db, actors.owner), session_count(db, actors.other)
    assert owner_sessions >= 2
    admin = actors.client(actors.admin)
    # Writing the same role is no change: sessions stay.
    rows(admin.update("user_roles", {"role": "member"}, {"user_id": f"eq.{actors.owner.id}"}))
    assert session_count(db, actors.owner) == owner_sessions
    rows(admin.update("user_roles", {"role": "manager"}, {"user_id": f"eq.{actors.owner.id}"}))
    assert session_count(db, actors.owner) == 0
    assert session_count(db, actors.other) == other_sessions


# -- profiles -------------------------------------------------------------------------------------


def test_sign_up_creates_profile_and_member_role(db: Db, make_user: Callable[..., User]) -> None:
    user = make_user("member")
    profile = fetch_one(db, "select * from public.profiles where id = %s", (user.id,))
    assert profile is not None
    assert profile["email"] == user.email
    assert role_of(db, user) == "member"
    db.execute("update auth.users set email = %s where id = %s", ("changed-" + user.email, user.id))
    changed = fetch_one(db, "select email from public.profiles where id = %s", (user.id,))
    assert changed == {"email": "changed-" + user.email}


@pytest.mark.parametrize(
    ("actor", "visible"),
    [
        ("anon", set()),
        ("owner", {"owner"}),
        ("manager", {"manager"}),
        ("admin", {"owner", "other", "manager", "admin"}),
    ],
)
def test_profiles_own_visible_others_only_to_admin(actors: Actors, actor: str, visible: set[str]) -> None:
    users = {name: getattr(actors, name) for name in ("owner", "other", "manager", "admin")}
    ids = ",".join(user.id for user in users.values())
    response = actors.client(actor_of(actors, actor)).select("profiles", {"id": f"in.({ids})"})
    if actor == "anon":
        anon_denied(response)
        return
    found = rows(response)
    assert {row["id"] for row in found} == {users[name].id for name in visible}
    assert {row["email"] for row in found} == {users[name].email for name in visible}


@pytest.mark.parametrize("actor", ["anon", "owner", "manager", "admin"])
def test_nobody_writes_profiles_through_the_api(db: Db, actors: Actors, actor: str) -> None:
    client = actors.client(actor_of(actors, actor))
    before = fetch_all(
        db, "select * from public.profiles where id in (%s, %s)", (actors.owner.id, actors.other.id)
    )
    fresh = str(uuid.uuid4())
    response = client.insert("profiles", {"id": fresh, "email": "forged@example.test"})
    assert_error(response, 401 if actor == "anon" else 403, "42501")
    refused = 401 if actor == "anon" else 403
    for target in (actors.owner, actors.other):
        updated = client.update("profiles", {"email": "x@example.test"}, {"id": f"eq.{target.id}"})
        assert_error(updated, refused, "42501")
        assert_error(client.delete("profiles", {"id": f"eq.{target.id}"}), refused, "42501")
    after = fetch_all(
        db, "select * from public.profiles where id in (%s, %s)", (actors.owner.id, actors.other.id)
    )
    assert after == before
    assert fetch_one(db, "select 1 from public.profiles where id = %s", (fresh,)) is None


# -- role_permissions -----------------------------------------------------------------------------


def test_role_permissions_match_lib_auth(db: Db) -> None:
    stored: dict[str, set[str]] = {}
    for row in fetch_all(db, "select role::text, permission::text from public.role_permissions"):
        stored.setdefault(row["role"], set()).add(row["permission"])
    expected = {role: set(granted) for role, granted in ROLE_PERMISSIONS.items() if granted}
    assert stored == expected
    enum_roles = fetch_all(db, "select unnest(enum_range(null::public.app_role))::text as role")
    assert {row["role"] for row in enum_roles} == set(ROLE_PERMISSIONS)
    enum_permissions = fetch_all(db, "select unnest(enum_range(null::public.app_permission))::text as p")
    assert {row["p"] for row in enum_permissions} == set().union(*ROLE_PERMISSIONS.values())


def test_role_permissions_readable_by_users_but_never_writable(db: Db, actors: Actors) -> None:
    before = fetch_all(db, "select * from public.role_permissions order by id")
    anon_denied(actors.client("anon").select("role_permissions"))
    for user in (actors.owner, actors.admin):
        client = actors.client(user)
        assert len(rows(client.select("role_permissions"))) == len(before)
        assert_error(
            client.insert("role_permissions", {"role": "member", "permission": "audit.read"}), 403, "42501"
        )
        assert_error(
            client.update("role_permissions", {"role": "member"}, {"role": "eq.admin"}), 403, "42501"
        )
        assert_error(client.delete("role_permissions", {"role": "eq.admin"}), 403, "42501")
    assert fetch_all(db, "select * from public.role_permissions order by id") == before


# -- audit_log ------------------------------------------------------------------------------------


def audit_rows(db: Db, table: str, record_id: Any) -> list[dict[str, Any]]:
    return fetch_all(
        db,
        "select * from public.audit_log where table_name = %s and record_id = %s order by id",
        (table, str(record_id)),
    )


def test_vehicle_changes_are_audited_with_the_acting_user(db: Db, actors: Actors) -> None:
    vin = north_american_vin()
    body = {"vin": vin, "make": "Audi", "model": "A4", "model_year": 2019, "color": "red"}
    created = rows(actors.client(actors.owner).insert("vehicles", body), 201)[0]
    rows(
        actors.client(actors.manager).update(
            "vehicles", {"color": "blue", "odometer_km": 5}, {"id": f"eq.{created['id']}"}
        )
    )
    rows(actors.client(actors.admin).delete("vehicles", {"id": f"eq.{created['id']}"}))

    insert, update, delete = audit_rows(db, "vehicles", created["id"])
    assert (insert["action"], str(insert["actor_id"]), insert["actor_role"]) == (
        "insert",
        actors.owner.id,
        "authenticated",
    )
    assert insert["changes"]["vin"] == {"old": None, "new": vin}
    assert insert["changes"]["owner_id"] == {"old": None, "new": actors.owner.id}
    assert all(change["old"] is None for change in insert["changes"].values())

    assert (update["action"], str(update["actor_id"])) == ("update", actors.manager.id)
    assert update["changes"] == {"color": {"old": "red", "new": "blue"}, "odometer_km": {"old": 0, "new": 5}}

    assert (delete["action"], str(delete["actor_id"])) == ("delete", actors.admin.id)
    assert delete["changes"]["color"] == {"old": "blue", "new": None}
    assert all(change["new"] is None for change in delete["changes"].values())


def test_maintenance_changes_are_audited(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.owner, odometer_km=100)
    body = {
        "vehicle_id": str(vehicle["id"]),
        "performed_at": "2026-03-01",
        "odometer_km": 250,
        "kind": "tires",
    }
    owner = actors.client(actors.owner)
    created = rows(owner.insert("maintenance_records", body), 201)[0]
    # Only an admin corrects or removes a record (history is append-only for everyone else).
    admin = actors.client(actors.admin)
    rows(admin.update("maintenance_records", {"cost_cents": 100}, {"id": f"eq.{created['id']}"}))
    rows(admin.delete("maintenance_records", {"id": f"eq.{created['id']}"}))

    insert, update, delete = audit_rows(db, "maintenance_records", created["id"])
    assert (insert["action"], str(insert["actor_id"])) == ("insert", actors.owner.id)
    assert insert["changes"]["kind"] == {"old": None, "new": "tires"}
    assert (update["action"], str(update["actor_id"])) == ("update", actors.admin.id)
    assert update["changes"] == {"cost_cents": {"old": None, "new": 100}}
    assert (delete["action"], str(delete["actor_id"])) == ("delete", actors.admin.id)
    assert delete["changes"]["odometer_km"] == {"old": 250, "new": None}
    # The odometer raise the record caused is audited on the vehicle, by the same user.
    raised = audit_rows(db, "vehicles", vehicle["id"])[-1]
    assert (raised["action"], str(raised["actor_id"])) == ("update", actors.owner.id)
    assert raised["changes"] == {"odometer_km": {"old": 100, "new": 250}}


def test_role_changes_are_audited_with_the_admin_as_actor(db: Db, actors: Actors) -> None:
    rows(
        actors.client(actors.admin).update(
            "user_roles", {"role": "manager"}, {"user_id": f"eq.{actors.owner.id}"}
        )
    )
    entries = [row for row in audit_rows(db, "user_roles", actors.owner.id) if row["action"] == "update"]
    assert len(entries) == 1
    entry = entries[0]
    assert str(entry["actor_id"]) == actors.admin.id
    assert entry["record_id"] == actors.owner.id
    assert entry["changes"] == {"role": {"old": "member", "new": "manager"}}


def test_an_update_that_changes_nothing_is_not_audited(db: Db, actors: Actors) -> None:
    rows(
        actors.client(actors.admin).update(
            "user_roles", {"role": "member"}, {"user_id": f"eq.{actors.owner.id}"}
        )
    )
    assert [row["action"] for row in audit_rows(db, "user_roles", actors.owner.id)] == ["insert"]


@pytest.mark.parametrize(
    ("actor", "readable"), [("anon", False), ("owner", False), ("manager", False), ("admin", True)]
)
def test_only_admin_reads_the_audit_log(db: Db, actors: Actors, actor: str, readable: bool) -> None:
    vehicle = rows(
        actors.client(actors.owner).insert(
            "vehicles", {"vin": north_american_vin(), "make": "Kia", "model": "Rio", "model_year": 2018}
        ),
        201,
    )[0]
    response = actors.client(actor_of(actors, actor)).select(
        "audit_log", {"record_id": f"eq.{vehicle['id']}"}
    )
    if actor == "anon":
        anon_denied(response)
        return
    found = rows(response)
    assert len(found) == (1 if readable else 0)


def _audit_tamper(client: Rest, entry_id: int) -> list[int]:
    """Try insert, update and delete of audit rows; return the HTTP statuses."""
    statuses = []
    forged = {"actor_role": "forged", "action": "insert", "table_name": "vehicles", "record_id": "x"}
    statuses.append(client.insert("audit_log", forged).status_code)
    statuses.append(
        client.update("audit_log", {"actor_role": "forged"}, {"id": f"eq.{entry_id}"}).status_code
    )
    statuses.append(client.delete("audit_log", {"id": f"eq.{entry_id}"}).status_code)
    return statuses


def _latest_entry(db: Db, actors: Actors) -> dict[str, Any]:
    vehicle = create_vehicle(db, actors.owner)
    return audit_rows(db, "vehicles", vehicle["id"])[-1]


@pytest.mark.parametrize("actor", ["anon", "owner", "manager", "admin"])
def test_nobody_tampers_with_the_audit_log_through_postgrest(db: Db, actors: Actors, actor: str) -> None:
    entry = _latest_entry(db, actors)
    count_before = fetch_one(db, "select count(*) as n from public.audit_log where actor_role = 'forged'")
    statuses = _audit_tamper(actors.client(actor_of(actors, actor)), entry["id"])
    assert statuses == [401, 401, 401] if actor == "anon" else statuses == [403, 403, 403]
    assert fetch_one(db, "select * from public.audit_log where id = %s", (entry["id"],)) == entry
    assert (
        fetch_one(db, "select count(*) as n from public.audit_log where actor_role = 'forged'")
        == count_before
    )


def test_service_role_cannot_tamper_with_the_audit_log(db: Db, actors: Actors) -> None:
    entry = _latest_entry(db, actors)
    try:
        statuses = _audit_tamper(actors.client("service"), entry["id"])
        assert fetch_one(db, "select * from public.audit_log where id = %s", (entry["id"],)) == entry
        assert all(status >= 400 for status in statuses), statuses
    finally:
        # Had the revoke regressed, a forged row would be in: never leave it for other tests.
        db.execute("delete from public.audit_log where actor_role = 'forged'")


# -- the private schema ---------------------------------------------------------------------------

PRIVATE_PATHS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "idempotency_keys", None),
    ("POST", "idempotency_keys", {"key": "k"}),
    ("POST", "rpc/authorize", {"requested": "users.manage"}),
    ("GET", "rpc/authorize?requested=users.manage", None),
    ("POST", "rpc/is_admin", {}),
    ("POST", "rpc/is_privileged", {}),
    ("POST", "rpc/idempotency_begin", {"p_key": "k", "p_request_hash": "h"}),
    ("POST", "rpc/idempotency_find", {"p_key": "k", "p_request_hash": "h"}),
    ("POST", "rpc/idempotency_complete", {"p_key": "k", "p_request_hash": "h", "p_status": 201}),
    ("POST", "rpc/idempotency_sweep", {}),
    ("POST", "rpc/audit_changes", {"old_row": {}, "new_row": {}}),
    ("POST", "rpc/handle_new_user", {}),
]


@pytest.mark.parametrize("actor", ["anon", "owner", "admin", "service"])
@pytest.mark.parametrize(("method", "path", "body"), PRIVATE_PATHS)
def test_private_schema_is_unreachable(actors: Actors, actor: str, method: str, path: str, body: Any) -> None:
    response = actors.client(actor_of(actors, actor)).request(method, path, body=body)
    # PostgREST 12 answers 404: PGRST202 (no such function), 42P01 (no such relation), or an
    # empty object for a POST to an unknown relation. Either way nothing runs and nothing leaks.
    assert response.status_code == 404, (response.status_code, response.text)
    assert response.json().get("code") in {"PGRST202", "PGRST205", "42P01", None}
    assert set(response.json()) <= {"code", "message", "details", "hint"}


@pytest.mark.parametrize("actor", ["anon", "owner", "admin", "service"])
@pytest.mark.parametrize("header", ["Accept-Profile", "Content-Profile"])
def test_private_schema_cannot_be_selected_as_profile(actors: Actors, actor: str, header: str) -> None:
    client = actors.client(actor_of(actors, actor))
    method, body = ("GET", None) if header == "Accept-Profile" else ("POST", {"key": "k"})
    response = client.request(method, "idempotency_keys", body=body, headers={header: "private"})
    assert_error(response, 406, "PGRST106")


# -- custom_access_token_hook ---------------------------------------------------------------------


def run_hook(db: Db, event: dict[str, Any]) -> dict[str, Any]:
    """Call the hook as Supabase Auth does: as supabase_auth_admin."""
    with db.transaction():
        db.execute("set local role supabase_auth_admin")
        row = db.execute("select public.custom_access_token_hook(%s::jsonb)", (json.dumps(event),)).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


@pytest.mark.parametrize("role", ["member", "manager", "admin"])
def test_hook_adds_the_users_role(db: Db, make_user: Callable[..., User], role: str) -> None:
    user = make_user(role)
    claims = {"sub": user.id, "aud": "authenticated", "role": "authenticated", "email": user.email}
    result = run_hook(db, {"user_id": user.id, "claims": claims, "authentication_method": "password"})
    assert result == {"claims": {**claims, "user_role": role}}


def test_hook_defaults_to_member(db: Db, make_user: Callable[..., User]) -> None:
    user = make_user("member")
    db.execute("delete from public.user_roles where user_id = %s", (user.id,))
    assert run_hook(db, {"user_id": user.id, "claims": {"sub": user.id}}) == {
        "claims": {"sub": user.id, "user_role": "member"}
    }
    stranger = str(uuid.uuid4())
    assert run_hook(db, {"user_id": stranger, "claims": {}}) == {"claims": {"user_role": "member"}}


def test_hook_overrides_a_forged_user_role_claim(db: Db, make_user: Callable[..., User]) -> None:
    user = make_user("member")
    result = run_hook(db, {"user_id": user.id, "claims": {"sub": user.id, "user_role": "admin"}})
    assert result["claims"]["user_role"] == "member"


@pytest.mark.parametrize("actor", ["anon", "owner", "admin"])
def test_hook_not_executable_by_api_users(actors: Actors, actor: str) -> None:
    event = {"event": {"user_id": actors.admin.id, "claims": {}}}
    response = actors.client(actor_of(actors, actor)).rpc("custom_access_token_hook", event)
    assert_error(response, 401 if actor == "anon" else 403, "42501")


def test_cascaded_record_deletes_are_audited_with_the_deleting_user(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.owner)
    record = create_vehicle_record(db, vehicle, actors.owner)
    rows(actors.client(actors.admin).delete("vehicles", {"id": f"eq.{vehicle['id']}"}))
    (entry,) = [
        row for row in audit_rows(db, "maintenance_records", record["id"]) if row["action"] == "delete"
    ]
    assert str(entry["actor_id"]) == actors.admin.id
