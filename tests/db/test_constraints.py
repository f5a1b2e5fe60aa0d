"""Every constraint and trigger on vehicles and maintenance_records.

Writes go through PostgREST with the owner's token (what a client gets when it
talks to the database directly); results are checked in Postgres.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.db.conftest import Db, fetch_one
from tests.db.rest import Rest, assert_error, rows
from tests.factories import User, create_record, create_vehicle, european_vin, north_american_vin

THIS_YEAR = dt.datetime.now(dt.UTC).year


def vehicle_body(**fields: Any) -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": "Subaru", "model": "Outback", "model_year": 2022, **fields}


def vehicle_row(db: Db, vehicle_id: Any) -> dict[str, Any]:
    row = fetch_one(db, "select * from public.vehicles where id = %s", (vehicle_id,))
    assert row is not None
    return row


# -- vehicles: accepted and rejected values -------------------------------------------------------

REJECTED_VEHICLE_FIELDS = [
    ("vin", "1HGCM82633A00435"),  # 16 characters
    ("vin", "1HGCM82633A0043521"),  # 18
    ("vin", "1HGCM82633A00435I"),
    ("vin", "1HGCM82633A00435O"),
    ("vin", "1HGCM82633A00435Q"),
    ("vin", "1hgcm82633a004352"),  # lower case
    ("vin", "1HGCM82633A00435 "),
    ("vin", "1HGCM-2633A004352"),
    ("make", ""),
    ("make", "x" * 65),
    (" make", None),  # placeholder replaced below: leading space
    ("make", "Honda "),
    ("make", "Hon\tda"),
    ("make", "Hon\nda"),
    ("make", "Honda\x1f"),
    ("make", "Honda\x7f"),
    ("model", ""),
    ("model", "m" * 65),
    ("model", " Civic"),
    ("model", "Civic "),
    ("model", "Ci\x01vic"),
    ("model_year", 1980),
    ("model_year", THIS_YEAR + 3),
    ("plate", ""),
    ("plate", "abc-123"),  # lower case
    ("plate", "A" * 17),
    ("plate", "AB_123"),
    ("plate", "AB.123"),
    ("color", ""),
    ("color", "c" * 33),
    ("color", "bl\nue"),
    ("odometer_km", -1),
    ("odometer_km", 2_000_001),
]
REJECTED_VEHICLE_FIELDS = [
    ("make", " Honda") if field == " make" else (field, value) for field, value in REJECTED_VEHICLE_FIELDS
]


@pytest.mark.parametrize(("field", "value"), REJECTED_VEHICLE_FIELDS)
def test_vehicle_check_constraints_reject(db: Db, client: Rest, field: str, value: Any) -> None:
    body = vehicle_body(**{field: value})
    assert_error(client.insert("vehicles", body), 400, "23514")
    if field != "vin":
        assert fetch_one(db, "select 1 from public.vehicles where vin = %s", (body["vin"],)) is None


@pytest.mark.parametrize(
    ("field", "value"), [(field, value) for field, value in REJECTED_VEHICLE_FIELDS if field != "vin"]
)
def test_vehicle_check_constraints_reject_updates(
    db: Db, owner: User, client: Rest, field: str, value: Any
) -> None:
    vehicle = create_vehicle(db, owner)
    # A negative odometer is first of all a rollback (the trigger runs before the CHECK).
    code = "VO422" if (field, value) == ("odometer_km", -1) else "23514"
    assert_error(client.update("vehicles", {field: value}, {"id": f"eq.{vehicle['id']}"}), 400, code)
    assert vehicle_row(db, vehicle["id"]) == vehicle


ACCEPTED_VEHICLE_FIELDS = [
    ("vin", "WVWZZZ1JZXW000001"),  # non-North-American: format only
    ("make", "x" * 64),
    ("make", "M"),
    ("make", "Citroën"),
    ("model", "m" * 64),
    ("model", "Model S (P85+), 'Plaid' \"edition\""),
    ("model_year", 1981),
    ("model_year", THIS_YEAR + 2),
    ("plate", "A"),
    ("plate", "AB-12 34"),
    ("plate", "A" * 16),
    ("plate", None),
    ("color", "c"),
    ("color", "c" * 32),
    ("color", None),
    ("odometer_km", 0),
    ("odometer_km", 2_000_000),
    ("status", "active"),
    ("status", "maintenance"),
    ("status", "retired"),
]


@pytest.mark.parametrize(("field", "value"), ACCEPTED_VEHICLE_FIELDS)
def test_vehicle_check_constraints_accept_edges(db: Db, client: Rest, field: str, value: Any) -> None:
    body = vehicle_body(**{field: value})
    if field == "vin":
        body["vin"] = european_vin()
    created = rows(client.insert("vehicles", body), 201)[0]
    assert created[field] == body[field]


def test_vehicle_defaults(db: Db, owner: User, client: Rest) -> None:
    created = rows(client.insert("vehicles", vehicle_body()), 201)[0]
    assert (created["odometer_km"], created["status"], created["owner_id"]) == (0, "active", owner.id)
    assert created["plate"] is None
    assert created["color"] is None
    assert created["version"] == 1


def test_status_is_an_enum(client: Rest) -> None:
    assert_error(client.insert("vehicles", vehicle_body(status="scrapped")), 400, "22P02")


def test_vin_is_unique(
    db: Db, owner: User, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    existing = create_vehicle(db, make_user("member"))
    # Even a vin the caller cannot see collides (the API maps this to 409 duplicate_vin).
    assert_error(rest(owner).insert("vehicles", vehicle_body(vin=existing["vin"])), 409, "23505")


def test_vin_is_immutable(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner)
    body = assert_error(
        client.update("vehicles", {"vin": north_american_vin()}, {"id": f"eq.{vehicle['id']}"}), 400, "VV422"
    )
    assert body["hint"] == "vin_immutable"
    assert vehicle_row(db, vehicle["id"]) == vehicle
    # Writing the same value is allowed.
    assert len(rows(client.update("vehicles", {"vin": vehicle["vin"]}, {"id": f"eq.{vehicle['id']}"}))) == 1


def test_odometer_never_decreases(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner, odometer_km=5000)
    body = assert_error(
        client.update("vehicles", {"odometer_km": 4999}, {"id": f"eq.{vehicle['id']}"}), 400, "VO422"
    )
    assert body["hint"] == "odometer_rollback"
    assert vehicle_row(db, vehicle["id"]) == vehicle
    with pytest.raises(psycopg.Error) as raised:
        db.execute("update public.vehicles set odometer_km = 0 where id = %s", (vehicle["id"],))
    assert raised.value.sqlstate == "VO422"
    assert len(rows(client.update("vehicles", {"odometer_km": 5000}, {"id": f"eq.{vehicle['id']}"}))) == 1
    assert len(rows(client.update("vehicles", {"odometer_km": 6000}, {"id": f"eq.{vehicle['id']}"}))) == 1
    assert vehicle_row(db, vehicle["id"])["odometer_km"] == 6000


def test_version_and_timestamps_are_maintained(db: Db, owner: User, client: Rest) -> None:
    created = rows(
        client.insert("vehicles", vehicle_body(version=7, created_at="2000-01-01T00:00:00Z")), 201
    )[0]
    vehicle = vehicle_row(db, created["id"])
    assert vehicle["version"] == 1
    assert vehicle["created_at"] == vehicle["updated_at"]
    assert vehicle["created_at"].year >= THIS_YEAR
    previous = vehicle
    for step, color in enumerate(("red", "green", "blue"), start=2):
        time.sleep(0.002)
        changes = {
            "color": color,
            "version": 99,
            "created_at": "2000-01-01T00:00:00Z",
            "updated_at": "2000-01-01T00:00:00Z",
        }
        rows(client.update("vehicles", changes, {"id": f"eq.{vehicle['id']}"}))
        current = vehicle_row(db, vehicle["id"])
        assert current["version"] == step
        assert current["created_at"] == vehicle["created_at"]
        assert current["updated_at"] > previous["updated_at"]
        previous = current


def test_model_year_bound_uses_the_current_utc_year(db: Db, owner: User) -> None:
    for year, ok in ((THIS_YEAR + 2, True), (THIS_YEAR + 3, False), (1981, True), (1980, False)):
        if ok:
            create_vehicle(db, owner, model_year=year)
            continue
        with pytest.raises(psycopg.Error) as raised:
            create_vehicle(db, owner, model_year=year)
        assert raised.value.sqlstate == "23514"
        assert raised.value.diag.constraint_name == "vehicles_model_year_check"


# -- maintenance records --------------------------------------------------------------------------


def record_body(vehicle: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "vehicle_id": str(vehicle["id"]),
        "performed_at": "2026-01-10",
        "odometer_km": 10,
        "kind": "service",
        **fields,
    }


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("currency", "usd", "23514"),
        ("currency", "US", "23514"),
        ("currency", "USDD", "23514"),
        ("currency", "U5D", "23514"),
        ("description", "d" * 2001, "23514"),
        ("cost_cents", -1, "23514"),
        ("odometer_km", -1, "23514"),
        ("odometer_km", 2_000_001, "23514"),
        ("kind", "wash", "22P02"),
        ("performed_at", "tomorrow", "23514"),
    ],
)
def test_record_constraints_reject(
    db: Db, owner: User, client: Rest, *, field: str, value: Any, code: str
) -> None:
    vehicle = create_vehicle(db, owner)
    if value == "tomorrow":
        value = (today_utc() + dt.timedelta(days=1)).isoformat()
    assert_error(client.insert("maintenance_records", record_body(vehicle, **{field: value})), 400, code)
    assert (
        fetch_one(db, "select 1 from public.maintenance_records where vehicle_id = %s", (vehicle["id"],))
        is None
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "EUR"),
        ("description", "d" * 2000),
        ("description", None),
        ("cost_cents", 0),
        ("cost_cents", None),
        ("performed_at", "today"),
        ("performed_at", "1990-05-05"),
        ("kind", "repair"),
        ("kind", "inspection"),
        ("kind", "tires"),
        ("kind", "other"),
    ],
)
def test_record_constraints_accept_edges(db: Db, owner: User, client: Rest, field: str, value: Any) -> None:
    vehicle = create_vehicle(db, owner)
    if value == "today":
        value = today_utc().isoformat()
    created = rows(client.insert("maintenance_records", record_body(vehicle, **{field: value})), 201)[0]
    assert created[field] == value


def test_record_defaults(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner)
    created = rows(client.insert("maintenance_records", record_body(vehicle)), 201)[0]
    assert created["currency"] == "USD"
    assert created["created_by"] == owner.id


def test_future_performed_at_rejected_on_update(
    db: Db, owner: User, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    vehicle = create_vehicle(db, owner)
    record = create_record(db, vehicle, owner)
    tomorrow = (today_utc() + dt.timedelta(days=1)).isoformat()
    admin = rest(make_user("admin"))  # only admins change a record
    response = admin.update("maintenance_records", {"performed_at": tomorrow}, {"id": f"eq.{record['id']}"})
    assert_error(response, 400, "23514")


def test_record_above_the_odometer_raises_it_in_the_same_transaction(
    db: Db, owner: User, connect: Callable[[], Db]
) -> None:
    vehicle = create_vehicle(db, owner, odometer_km=1000)
    conn = connect()
    with conn.transaction(force_rollback=True):
        create_record(conn, vehicle, owner, odometer_km=1500)
        inside = fetch_one(
            conn, "select odometer_km, version from public.vehicles where id = %s", (vehicle["id"],)
        )
        assert inside == {"odometer_km": 1500, "version": 2}
        # Not yet visible outside the transaction, and gone with it on rollback.
        assert vehicle_row(db, vehicle["id"])["odometer_km"] == 1000
    assert vehicle_row(db, vehicle["id"]) == vehicle


def test_record_above_the_odometer_raises_it_through_postgrest(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner, odometer_km=1000)
    rows(client.insert("maintenance_records", record_body(vehicle, odometer_km=1200)), 201)
    stored = vehicle_row(db, vehicle["id"])
    assert (stored["odometer_km"], stored["version"]) == (1200, 2)
    assert stored["updated_at"] > vehicle["updated_at"]


@pytest.mark.parametrize("odometer", [0, 999, 1000])
def test_record_at_or_below_the_odometer_leaves_the_vehicle(
    db: Db, owner: User, client: Rest, odometer: int
) -> None:
    vehicle = create_vehicle(db, owner, odometer_km=1000)
    rows(client.insert("maintenance_records", record_body(vehicle, odometer_km=odometer)), 201)
    assert vehicle_row(db, vehicle["id"]) == vehicle


def test_raising_a_records_odometer_raises_the_vehicle(
    db: Db, owner: User, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    vehicle = create_vehicle(db, owner, odometer_km=1000)
    record = create_record(db, vehicle, owner, odometer_km=900)
    client = rest(make_user("admin"))  # only admins change a record
    rows(client.update("maintenance_records", {"odometer_km": 800}, {"id": f"eq.{record['id']}"}))
    assert vehicle_row(db, vehicle["id"]) == vehicle
    rows(client.update("maintenance_records", {"odometer_km": 1100}, {"id": f"eq.{record['id']}"}))
    assert vehicle_row(db, vehicle["id"])["odometer_km"] == 1100


def test_deleting_a_vehicle_deletes_its_records(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner)
    other = create_vehicle(db, owner)
    for _ in range(3):
        create_record(db, vehicle, owner)
    kept = create_record(db, other, owner)
    assert len(rows(client.delete("vehicles", {"id": f"eq.{vehicle['id']}"}))) == 1
    assert (
        fetch_one(db, "select 1 from public.maintenance_records where vehicle_id = %s", (vehicle["id"],))
        is None
    )
    assert fetch_one(db, "select 1 from public.maintenance_records where id = %s", (kept["id"],)) is not None


# -- rules the database enforces beyond its CHECK constraints' formats ---------------------------


@pytest.mark.parametrize("description", ["line\nbreak", "tab\there", "bell\x07", "del\x7f"])
def test_record_description_rejects_control_characters(
    db: Db, owner: User, client: Rest, description: str
) -> None:
    vehicle = create_vehicle(db, owner)
    assert_error(
        client.insert("maintenance_records", record_body(vehicle, description=description)), 400, "23514"
    )


def test_north_american_vin_needs_a_valid_check_digit(client: Rest) -> None:
    vin = north_american_vin()
    wrong = vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]
    assert_error(client.insert("vehicles", vehicle_body(vin=wrong)), 400, "23514")
