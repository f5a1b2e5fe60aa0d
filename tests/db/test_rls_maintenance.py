"""Row level security on public.maintenance_records: visibility and writes follow the vehicle."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.db.conftest import ACTORS, Actors, Db, actor_of, fetch_one
from tests.db.rest import anon_denied, assert_error, rows
from tests.factories import create_record, create_vehicle

OWNERS = ("owner", "other", "manager")


def garage(db: Db, actors: Actors) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """For the owner, the other member and the manager: (their vehicle, one record on it)."""
    result = {}
    for name in OWNERS:
        owner = getattr(actors, name)
        vehicle = create_vehicle(db, owner)
        result[name] = (vehicle, create_record(db, vehicle, owner))
    return result


def record_row(db: Db, record_id: Any) -> dict[str, Any] | None:
    return fetch_one(db, "select * from public.maintenance_records where id = %s", (record_id,))


def new_record(vehicle: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A valid record body for `vehicle`, below its odometer."""
    return {
        "vehicle_id": str(vehicle["id"]),
        "performed_at": "2026-02-01",
        "odometer_km": 10,
        "kind": "repair",
        "description": "Brake pads",
        **fields,
    }


VISIBLE = {
    "anon": set(),
    "owner": {"owner"},
    "other": {"other"},
    "manager": set(OWNERS),
    "admin": set(OWNERS),
    "service": set(OWNERS),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_select_follows_vehicle_visibility(db: Db, actors: Actors, actor: str) -> None:
    records = garage(db, actors)
    ids = ",".join(str(record["id"]) for _, record in records.values())
    response = actors.client(actor_of(actors, actor)).select("maintenance_records", {"id": f"in.({ids})"})
    if actor == "anon":
        anon_denied(response)
        return
    assert {row["id"] for row in rows(response)} == {str(records[name][1]["id"]) for name in VISIBLE[actor]}


# -- insert ---------------------------------------------------------------------------------------

INSERTABLE = {
    "owner": {"owner"},
    "other": {"other"},
    "manager": set(OWNERS),
    "admin": set(OWNERS),
}


@pytest.mark.parametrize("actor", list(INSERTABLE))
def test_insert_needs_update_rights_on_the_vehicle(db: Db, actors: Actors, actor: str) -> None:
    records = garage(db, actors)
    user = getattr(actors, actor)
    client = actors.client(user)
    for name, (vehicle, _) in records.items():
        body = new_record(vehicle, description=f"by {actor} on {name}")
        response = client.insert("maintenance_records", body)
        stored = fetch_one(
            db, "select * from public.maintenance_records where description = %s", (body["description"],)
        )
        if name in INSERTABLE[actor]:
            created = rows(response, 201)
            assert created[0]["created_by"] == user.id
            assert stored is not None
            assert str(stored["created_by"]) == user.id
        else:
            assert_error(response, 403, "42501")
            assert stored is None


def test_anon_cannot_insert(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.owner)
    body = new_record(vehicle, created_by=actors.owner.id, description="anon write")
    assert_error(actors.client("anon").insert("maintenance_records", body), 401, "42501")
    assert (
        fetch_one(db, "select 1 from public.maintenance_records where vehicle_id = %s", (vehicle["id"],))
        is None
    )


@pytest.mark.parametrize("actor", ["owner", "manager", "admin"])
def test_insert_requires_created_by_self(db: Db, actors: Actors, actor: str) -> None:
    vehicle = create_vehicle(db, actors.owner)
    someone_else = actors.other if actor != "owner" else actors.manager
    body = new_record(vehicle, created_by=someone_else.id)
    assert_error(actors.client(getattr(actors, actor)).insert("maintenance_records", body), 403, "42501")
    assert (
        fetch_one(db, "select 1 from public.maintenance_records where vehicle_id = %s", (vehicle["id"],))
        is None
    )


def test_service_role_inserts_with_explicit_author(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.owner)
    body = new_record(vehicle, created_by=actors.owner.id)
    created = rows(actors.client("service").insert("maintenance_records", body), 201)
    assert created[0]["created_by"] == actors.owner.id


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_nobody_moves_a_record_to_another_vehicle(db: Db, actors: Actors, actor: str) -> None:
    records = garage(db, actors)
    _, record = records["owner"]
    other_vehicle, _ = records["other"]
    response = actors.client(getattr(actors, actor)).update(
        "maintenance_records", {"vehicle_id": str(other_vehicle["id"])}, {"id": f"eq.{record['id']}"}
    )
    if actor == "owner":
        assert rows(response) == []  # history is not the owner's to rewrite
    else:
        assert assert_error(response, 400, "VV422")["hint"] == "vehicle_id_immutable"
    assert record_row(db, record["id"]) == record


# -- update ---------------------------------------------------------------------------------------

# Maintenance history is append-only except for admins (and the service role, server-side).
UPDATABLE = {
    "anon": set(),
    "owner": set(),
    "other": set(),
    "manager": set(),
    "admin": set(OWNERS),
    "service": set(OWNERS),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_update_follows_vehicle_update_rights(db: Db, actors: Actors, actor: str) -> None:
    records = garage(db, actors)
    client = actors.client(actor_of(actors, actor))
    for name, (_, record) in records.items():
        response = client.update(
            "maintenance_records", {"description": "edited"}, {"id": f"eq.{record['id']}"}
        )
        stored = record_row(db, record["id"])
        assert stored is not None
        if actor == "anon":
            anon_denied(response)
            assert stored == record, name
        elif name in UPDATABLE[actor]:
            assert len(rows(response)) == 1, name
            assert stored["description"] == "edited"
            assert stored["created_by"] == record["created_by"]
        else:
            assert rows(response) == [], name
            assert stored == record, name


def test_update_cannot_rewrite_author_or_creation_time(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.owner)
    record = create_record(db, vehicle, actors.owner)
    client = actors.client(actors.admin)
    response = client.update(
        "maintenance_records", {"created_by": actors.admin.id}, {"id": f"eq.{record['id']}"}
    )
    assert assert_error(response, 400, "VV422")["hint"] == "created_by_immutable"
    response = client.update(
        "maintenance_records", {"created_at": "2000-01-01T00:00:00Z"}, {"id": f"eq.{record['id']}"}
    )
    assert len(rows(response)) == 1  # the creation time is kept, as a vehicle's is
    assert record_row(db, record["id"]) == record


# -- delete ---------------------------------------------------------------------------------------

DELETABLE = {
    "anon": set(),
    "owner": set(),
    "other": set(),
    "manager": set(),
    "admin": set(OWNERS),
    "service": set(OWNERS),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_delete_follows_vehicle_delete_rights(db: Db, actors: Actors, actor: str) -> None:
    records = garage(db, actors)
    client = actors.client(actor_of(actors, actor))
    for name, (_, record) in records.items():
        response = client.delete("maintenance_records", {"id": f"eq.{record['id']}"})
        if actor == "anon":
            anon_denied(response)
            assert record_row(db, record["id"]) == record, name
        elif name in DELETABLE[actor]:
            assert len(rows(response)) == 1, name
            assert record_row(db, record["id"]) is None, name
        else:
            assert rows(response) == [], name
            assert record_row(db, record["id"]) == record, name


def test_today_is_a_valid_performed_at_for_the_owner(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.owner)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    created = rows(
        actors.client(actors.owner).insert("maintenance_records", new_record(vehicle, performed_at=today)),
        201,
    )
    assert created[0]["performed_at"] == today
