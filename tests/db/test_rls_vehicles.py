"""Row level security on public.vehicles, per actor, through PostgREST with real tokens.

Actors: anon (publishable key only), the owner (a member), another member, a
manager, an admin and the service role (secret key). Every test arranges its
own rows with the factories and checks the outcome in Postgres directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.stack_settings import StackSettings
from tests.db.conftest import ACTORS, Actors, Db, actor_of, fetch_one
from tests.db.rest import anon_denied, assert_error, rows
from tests.factories import User, create_vehicle, north_american_vin, session_token


def fleet(db: Db, actors: Actors) -> dict[str, dict[str, Any]]:
    """One vehicle each for the owner, the other member and the manager."""
    return {
        "owner": create_vehicle(db, actors.owner),
        "other": create_vehicle(db, actors.other),
        "manager": create_vehicle(db, actors.manager),
    }


def vehicle_row(db: Db, vehicle_id: Any) -> dict[str, Any] | None:
    """The vehicle as stored now."""
    return fetch_one(db, "select * from public.vehicles where id = %s", (vehicle_id,))


def in_filter(vehicles: dict[str, dict[str, Any]]) -> str:
    """A PostgREST `id=in.(…)` filter for the given vehicles."""
    return "in.(" + ",".join(str(v["id"]) for v in vehicles.values()) + ")"


# -- select ---------------------------------------------------------------------------------------

VISIBLE = {
    "anon": set(),
    "owner": {"owner"},
    "other": {"other"},
    "manager": {"owner", "other", "manager"},
    "admin": {"owner", "other", "manager"},
    "service": {"owner", "other", "manager"},
}


@pytest.mark.parametrize("actor", ACTORS)
def test_select_sees_exactly_what_the_role_allows(db: Db, actors: Actors, actor: str) -> None:
    vehicles = fleet(db, actors)
    response = actors.client(actor_of(actors, actor)).select("vehicles", {"id": in_filter(vehicles)})
    if actor == "anon":
        anon_denied(response)
        return
    seen = {str(row["id"]) for row in rows(response)}
    assert seen == {str(vehicles[name]["id"]) for name in VISIBLE[actor]}


def test_member_select_star_without_filter_returns_only_own(db: Db, actors: Actors) -> None:
    fleet(db, actors)
    create_vehicle(db, actors.owner)
    found = rows(actors.client(actors.owner).select("vehicles"))
    assert len(found) == 2
    assert {row["owner_id"] for row in found} == {actors.owner.id}


def test_anon_cannot_even_count(db: Db, actors: Actors) -> None:
    fleet(db, actors)
    anon_denied(actors.client("anon").select("vehicles", headers={"Prefer": "count=exact"}))


# -- insert ---------------------------------------------------------------------------------------


def new_vehicle(**fields: Any) -> dict[str, Any]:
    """A valid vehicle body."""
    return {"vin": north_american_vin(), "make": "Mazda", "model": "3", "model_year": 2021, **fields}


def stored_by_vin(db: Db, vin: str) -> dict[str, Any] | None:
    return fetch_one(db, "select * from public.vehicles where vin = %s", (vin,))


def test_anon_cannot_insert(db: Db, actors: Actors) -> None:
    body = new_vehicle(owner_id=actors.owner.id)
    assert_error(actors.client("anon").insert("vehicles", body), 401, "42501")
    assert stored_by_vin(db, body["vin"]) is None


@pytest.mark.parametrize("with_owner_id", [False, True])
def test_member_inserts_own_vehicle(db: Db, actors: Actors, with_owner_id: bool) -> None:
    body = new_vehicle(**({"owner_id": actors.owner.id} if with_owner_id else {}))
    created = rows(actors.client(actors.owner).insert("vehicles", body), 201)
    assert created[0]["owner_id"] == actors.owner.id
    stored = stored_by_vin(db, body["vin"])
    assert stored is not None
    assert str(stored["owner_id"]) == actors.owner.id


@pytest.mark.parametrize("target", ["other", "manager", "admin"])
def test_member_cannot_insert_for_another_owner(db: Db, actors: Actors, target: str) -> None:
    body = new_vehicle(owner_id=getattr(actors, target).id)
    assert_error(actors.client(actors.owner).insert("vehicles", body), 403, "42501")
    assert stored_by_vin(db, body["vin"]) is None


@pytest.mark.parametrize("actor", ["manager", "admin", "service"])
def test_privileged_actors_create_for_any_owner(db: Db, actors: Actors, actor: str) -> None:
    body = new_vehicle(owner_id=actors.owner.id)
    created = rows(actors.client(actor_of(actors, actor)).insert("vehicles", body), 201)
    assert created[0]["owner_id"] == actors.owner.id
    stored = stored_by_vin(db, body["vin"])
    assert stored is not None
    assert str(stored["owner_id"]) == actors.owner.id


# -- update ---------------------------------------------------------------------------------------

UPDATABLE = {
    "anon": set(),
    "owner": {"owner"},
    "other": {"other"},
    "manager": {"owner", "other", "manager"},
    "admin": {"owner", "other", "manager"},
    "service": {"owner", "other", "manager"},
}


@pytest.mark.parametrize("actor", ACTORS)
def test_update_changes_exactly_what_the_role_allows(db: Db, actors: Actors, actor: str) -> None:
    vehicles = fleet(db, actors)
    client = actors.client(actor_of(actors, actor))
    for name, vehicle in vehicles.items():
        response = client.update("vehicles", {"color": "green"}, {"id": f"eq.{vehicle['id']}"})
        stored = vehicle_row(db, vehicle["id"])
        assert stored is not None
        if actor == "anon":
            anon_denied(response)
            assert stored == vehicle, name
        elif name in UPDATABLE[actor]:
            assert len(rows(response)) == 1, name
            assert stored["color"] == "green"
            assert stored["version"] == vehicle["version"] + 1
        else:
            # RLS hides the row: PostgREST answers 200 with nothing updated, and nothing leaks.
            assert rows(response) == [], name
            assert stored == vehicle, name


@pytest.mark.parametrize("actor", ["owner", "manager"])
def test_only_admin_changes_owner_id(db: Db, actors: Actors, actor: str) -> None:
    vehicle = create_vehicle(db, actors.owner)
    response = actors.client(actor_of(actors, actor)).update(
        "vehicles", {"owner_id": actors.other.id}, {"id": f"eq.{vehicle['id']}"}
    )
    assert_error(response, 403, "42501")
    assert vehicle_row(db, vehicle["id"]) == vehicle


def test_member_cannot_take_over_anothers_vehicle(db: Db, actors: Actors) -> None:
    vehicle = create_vehicle(db, actors.other)
    response = actors.client(actors.owner).update(
        "vehicles", {"owner_id": actors.owner.id}, {"id": f"eq.{vehicle['id']}"}
    )
    assert rows(response) == []
    assert vehicle_row(db, vehicle["id"]) == vehicle


@pytest.mark.parametrize("actor", ["admin", "service"])
def test_admin_and_service_role_change_owner_id(db: Db, actors: Actors, actor: str) -> None:
    vehicle = create_vehicle(db, actors.owner)
    response = actors.client(actor_of(actors, actor)).update(
        "vehicles", {"owner_id": actors.other.id}, {"id": f"eq.{vehicle['id']}"}
    )
    assert rows(response)[0]["owner_id"] == actors.other.id
    stored = vehicle_row(db, vehicle["id"])
    assert stored is not None
    assert str(stored["owner_id"]) == actors.other.id
    # The new owner now sees it, the old one no longer does.
    assert len(rows(actors.client(actors.other).select("vehicles", {"id": f"eq.{vehicle['id']}"}))) == 1
    assert rows(actors.client(actors.owner).select("vehicles", {"id": f"eq.{vehicle['id']}"})) == []


# -- delete ---------------------------------------------------------------------------------------

DELETABLE = {
    "anon": set(),
    "owner": {"owner"},
    "other": {"other"},
    "manager": {"manager"},
    "admin": {"owner", "other", "manager"},
    "service": {"owner", "other", "manager"},
}


@pytest.mark.parametrize("actor", ACTORS)
def test_delete_removes_exactly_what_the_role_allows(db: Db, actors: Actors, actor: str) -> None:
    vehicles = fleet(db, actors)
    client = actors.client(actor_of(actors, actor))
    for name, vehicle in vehicles.items():
        response = client.delete("vehicles", {"id": f"eq.{vehicle['id']}"})
        if actor == "anon":
            anon_denied(response)
            assert vehicle_row(db, vehicle["id"]) == vehicle, name
        elif name in DELETABLE[actor]:
            assert len(rows(response)) == 1, name
            assert vehicle_row(db, vehicle["id"]) is None, name
        else:
            assert rows(response) == [], name
            assert vehicle_row(db, vehicle["id"]) == vehicle, name


def test_unfiltered_delete_by_member_touches_only_own(db: Db, actors: Actors) -> None:
    vehicles = fleet(db, actors)
    # PostgREST refuses a DELETE without filters only when configured to; use a filter that matches all.
    response = actors.client(actors.owner).delete("vehicles", {"id": in_filter(vehicles)})
    assert [row["id"] for row in rows(response)] == [str(vehicles["owner"]["id"])]
    assert vehicle_row(db, vehicles["other"]["id"]) is not None
    assert vehicle_row(db, vehicles["manager"]["id"]) is not None


# -- the role claim -------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", [None, "", "superuser", "Admin", "admin ", "service_role", "authenticated"])
def test_missing_or_unknown_role_claim_means_member(
    db: Db, actors: Actors, stack_settings: StackSettings, claim: str | None
) -> None:
    vehicles = fleet(db, actors)
    token = session_token(db, stack_settings, actors.owner.id, email=actors.owner.email, role=claim)
    client = actors.client(User(actors.owner.id, actors.owner.email, "member", token))
    seen = {row["id"] for row in rows(client.select("vehicles", {"id": in_filter(vehicles)}))}
    assert seen == {str(vehicles["owner"]["id"])}
    assert rows(client.delete("vehicles", {"id": f"eq.{vehicles['other']['id']}"})) == []
    assert rows(client.select("audit_log", {"limit": 1})) == []
    assert vehicle_row(db, vehicles["other"]["id"]) == vehicles["other"]
