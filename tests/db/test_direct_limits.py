"""What a signed-in caller of /rest/v1 can store: one row per insert request, and a quota per user.

The publishable key is public, so these hold in the database, for direct callers
and the API alike; the API never inserts more than one row at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.db.conftest import Db, fetch_one
from tests.db.rest import Rest, assert_error, rows
from tests.factories import User, create_vehicle, north_american_vin


def new_vehicle(**fields: Any) -> dict[str, Any]:
    """A valid vehicle body."""
    return {"vin": north_american_vin(), "make": "Mazda", "model": "3", "model_year": 2021, **fields}


def new_record(vehicle: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A valid maintenance record body."""
    return {
        "vehicle_id": str(vehicle["id"]),
        "performed_at": "2026-02-01",
        "odometer_km": 10,
        "kind": "repair",
        **fields,
    }


def count(db: Db, table: str, column: str, user: User) -> int:
    row = fetch_one(db, f"select count(*) as n from public.{table} where {column} = %s", (user.id,))
    assert row is not None
    return int(row["n"])


@pytest.fixture
def quotas(db: Db) -> Iterator[Callable[[str, int], None]]:
    """Lower a quota for one test; every quota is put back afterwards."""
    saved = {row[0]: row[1] for row in db.execute("select name, max_rows from private.quotas").fetchall()}

    def lower(name: str, max_rows: int) -> None:
        db.execute("update private.quotas set max_rows = %s where name = %s", (max_rows, name))

    try:
        yield lower
    finally:
        for name, max_rows in saved.items():
            db.execute("update private.quotas set max_rows = %s where name = %s", (max_rows, name))


def test_the_default_quotas(db: Db) -> None:
    stored = dict(db.execute("select name, max_rows from private.quotas order by name").fetchall())
    assert stored == {"maintenance_records": 100_000, "vehicles": 10_000}


def test_a_multi_row_insert_is_refused_whole(
    db: Db, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    member = make_user("member")
    client = rest(member)
    assert_error(client.insert("vehicles", [new_vehicle() for _ in range(500)]), 400, "VB400")
    assert count(db, "vehicles", "owner_id", member) == 0
    vehicle = create_vehicle(db, member)
    records = [new_record(vehicle, created_by=member.id) for _ in range(5000)]
    assert_error(client.insert("maintenance_records", records), 400, "VB400")
    assert count(db, "maintenance_records", "created_by", member) == 0
    # One row is fine, as an array of one too.
    rows(client.insert("vehicles", [new_vehicle()]), 201)
    rows(client.insert("maintenance_records", new_record(vehicle, created_by=member.id)), 201)


def test_the_service_role_may_still_insert_in_bulk(db: Db, rest: Callable[[User | str], Rest]) -> None:
    owner = rest("service")
    response = owner.insert("vehicles", [new_vehicle(owner_id=_any_user(db)) for _ in range(3)])
    assert len(rows(response, 201)) == 3


def _any_user(db: Db) -> str:
    row = fetch_one(db, "select id from auth.users order by created_at limit 1")
    assert row is not None
    return str(row["id"])


def test_vehicle_quota_binds_direct_inserts(
    db: Db,
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
    quotas: Callable[[str, int], None],
) -> None:
    member = make_user("member")
    client = rest(member)
    quotas("vehicles", 2)
    for _ in range(2):
        rows(client.insert("vehicles", new_vehicle()), 201)
    assert_error(client.insert("vehicles", new_vehicle()), 403, "VQ403")
    assert_error(client.rpc("create_vehicle", {"p_vehicle": new_vehicle()}), 403, "VQ403")
    assert count(db, "vehicles", "owner_id", member) == 2
    # Another user's quota is their own; a manager creating for the member counts against the member.
    rows(rest(make_user("member")).insert("vehicles", new_vehicle()), 201)
    manager = rest(make_user("manager"))
    assert_error(manager.insert("vehicles", new_vehicle(owner_id=member.id)), 403, "VQ403")


def test_maintenance_quota_binds_direct_inserts(
    db: Db,
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
    quotas: Callable[[str, int], None],
) -> None:
    member = make_user("member")
    client = rest(member)
    vehicle = create_vehicle(db, member)
    quotas("maintenance_records", 1)
    rows(client.insert("maintenance_records", new_record(vehicle, created_by=member.id)), 201)
    refused = client.insert("maintenance_records", new_record(vehicle, created_by=member.id))
    assert_error(refused, 403, "VQ403")
    assert count(db, "maintenance_records", "created_by", member) == 1


def test_deleting_frees_quota_and_a_new_owner_is_counted(
    db: Db,
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
    quotas: Callable[[str, int], None],
) -> None:
    member, other = make_user("member"), make_user("member")
    client = rest(member)
    quotas("vehicles", 1)
    first = rows(client.insert("vehicles", new_vehicle()), 201)[0]
    assert_error(client.insert("vehicles", new_vehicle()), 403, "VQ403")
    rows(client.delete("vehicles", {"id": f"eq.{first['id']}"}))
    kept = rows(client.insert("vehicles", new_vehicle()), 201)[0]
    # An admin gives the member's vehicle to another user: the quota follows the vehicle.
    rows(rest(make_user("admin")).update("vehicles", {"owner_id": other.id}, {"id": f"eq.{kept['id']}"}))
    rows(client.insert("vehicles", new_vehicle()), 201)
    assert_error(rest(other).insert("vehicles", new_vehicle()), 403, "VQ403")
    used = dict(
        db.execute(
            "select user_id::text, used from private.usage"
            " where kind = 'vehicles' and user_id = any(%s::uuid[])",
            ([member.id, other.id],),
        ).fetchall()
    )
    assert used == {member.id: 1, other.id: 1}
