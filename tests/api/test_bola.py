"""Object-level authorisation (BOLA): every vehicle route against every kind of caller.

One vehicle, owned by a member and holding one maintenance record, is the target.
Each (route, actor) pair gets the status of docs/api.md §2.3's table:
members reach only their own vehicles (someone else's is a 404, identical to a
vehicle that does not exist), managers read and update all, create records for
any vehicle and delete only their own (403 on someone else's), admins do
everything, and anonymous callers get 401. A refused request changes nothing in
the database: not the vehicle, not its records, not the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import requests

from devstack.stack_settings import StackSettings
from tests.api.conftest import Actors
from tests.factories import User, create_record, create_user, create_vehicle
from tests.support import ApiClient, assert_problem

PATCH_BODY = {"color": "bola-blue"}
# Above the vehicle's odometer (1000): an accepted record raises it, a refused one must not.
RECORD_BODY = {"performed_at": "2026-01-20", "odometer_km": 5000, "kind": "repair", "description": "BOLA"}

ACTORS = ("owner", "other", "manager", "admin", "anon")


@dataclass(frozen=True)
class Case:
    """One route of the matrix: how to call it and what each actor gets."""

    method: str
    path: str  # {id}, {owner}, {vin} and {record} are filled in from the target vehicle and its record
    expected: dict[str, int]
    body: dict[str, Any] | None = None


CASES = {
    "GET /api/vehicles/{id}": Case(
        "GET", "vehicles/{id}", {"owner": 200, "other": 404, "manager": 200, "admin": 200, "anon": 401}
    ),
    "PATCH /api/vehicles/{id}": Case(
        "PATCH",
        "vehicles/{id}",
        {"owner": 200, "other": 404, "manager": 200, "admin": 200, "anon": 401},
        PATCH_BODY,
    ),
    "DELETE /api/vehicles/{id}": Case(
        "DELETE", "vehicles/{id}", {"owner": 204, "other": 404, "manager": 403, "admin": 204, "anon": 401}
    ),
    "GET /api/vehicles/{id}/maintenance": Case(
        "GET",
        "vehicles/{id}/maintenance",
        {"owner": 200, "other": 404, "manager": 200, "admin": 200, "anon": 401},
    ),
    "GET /api/vehicles/{id}/maintenance/{record_id}": Case(
        "GET",
        "vehicles/{id}/maintenance/{record}",
        {"owner": 200, "other": 404, "manager": 200, "admin": 200, "anon": 401},
    ),
    "POST /api/vehicles/{id}/maintenance": Case(
        "POST",
        "vehicles/{id}/maintenance",
        {"owner": 201, "other": 404, "manager": 201, "admin": 201, "anon": 401},
        RECORD_BODY,
    ),
    # Lists never 404: an owner the caller cannot see gives an empty page.
    "GET /api/vehicles?owner_id=": Case(
        "GET",
        "vehicles?owner_id={owner}",
        {"owner": 200, "other": 200, "manager": 200, "admin": 200, "anon": 401},
    ),
    "GET /api/vehicles?q=": Case(
        "GET", "vehicles?q={vin}", {"owner": 200, "other": 200, "manager": 200, "admin": 200, "anon": 401}
    ),
}
LIST_ROUTES = frozenset({"GET /api/vehicles?owner_id=", "GET /api/vehicles?q="})
# Who sees the target in a list.
SEES_TARGET = frozenset({"owner", "manager", "admin"})

MATRIX = [pytest.param(route, actor, id=f"{route}-{actor}") for route in CASES for actor in ACTORS]


@dataclass
class Target:
    """The vehicle under attack, its owner and its one maintenance record."""

    vehicle: dict[str, Any]
    record: dict[str, Any]
    owner: User


def _actor(actors: Actors, name: str) -> User | None:
    return {
        "owner": actors.member,
        "other": actors.other,
        "manager": actors.manager,
        "admin": actors.admin,
        "anon": None,
    }[name]


def _call(
    api: ApiClient, case: Case, target: Target, user: User | None, vehicle_id: str | None = None
) -> Any:
    path = case.path.format(
        id=vehicle_id or target.vehicle["id"],
        owner=target.owner.id,
        vin=target.vehicle["vin"],
        record=target.record["id"],
    )
    headers = user.headers if user is not None else {}
    return api.request(case.method, path, json=case.body, headers=headers)


def snapshot(db: psycopg.Connection[Any], target: Target) -> dict[str, Any]:
    """Everything a request against the target could change."""
    vehicle_id = target.vehicle["id"]
    vehicle = db.execute("select to_jsonb(v) from public.vehicles v where id = %s", (vehicle_id,)).fetchone()
    records = db.execute(
        "select coalesce(jsonb_agg(to_jsonb(r) order by r.id), '[]') from public.maintenance_records r"
        " where vehicle_id = %s",
        (vehicle_id,),
    ).fetchone()
    audit = db.execute(
        "select count(*) from public.audit_log where record_id = %s"
        " or (table_name = 'maintenance_records' and changes -> 'vehicle_id' ->> 'new' = %s)",
        (vehicle_id, vehicle_id),
    ).fetchone()
    assert records is not None
    assert audit is not None
    return {"vehicle": vehicle[0] if vehicle else None, "records": records[0], "audit": audit[0]}


@pytest.fixture
def target(actors: Actors, db: psycopg.Connection[Any]) -> Target:
    vehicle = create_vehicle(db, actors.member)
    record = create_record(db, vehicle, actors.member)
    return Target(vehicle, record, actors.member)


def _without_request_specifics(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("request_id", "instance")}


def _check_effect(
    route: str, actor: str, response: Any, target: Target, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """An admitted request did exactly what the route says, to the target."""
    vehicle_id = target.vehicle["id"]
    if route == "GET /api/vehicles/{id}":
        assert response.json()["id"] == vehicle_id
        assert after == before
    elif route == "PATCH /api/vehicles/{id}":
        assert response.json()["color"] == PATCH_BODY["color"]
        assert after["vehicle"]["color"] == PATCH_BODY["color"]
        assert after["vehicle"]["version"] == before["vehicle"]["version"] + 1
        assert after["vehicle"]["owner_id"] == target.owner.id
        assert after["records"] == before["records"]
    elif route == "DELETE /api/vehicles/{id}":
        assert response.content == b""
        assert after["vehicle"] is None
        assert after["records"] == []
    elif route == "GET /api/vehicles/{id}/maintenance":
        assert [row["id"] for row in response.json()["data"]] == [target.record["id"]]
        assert after == before
    elif route == "GET /api/vehicles/{id}/maintenance/{record_id}":
        assert response.json()["id"] == target.record["id"]
        assert response.json()["vehicle_id"] == vehicle_id
        assert after == before
    elif route == "POST /api/vehicles/{id}/maintenance":
        assert response.json()["vehicle_id"] == vehicle_id
        assert len(after["records"]) == len(before["records"]) + 1
        assert after["vehicle"]["odometer_km"] == RECORD_BODY["odometer_km"]
    else:
        assert route in LIST_ROUTES
        ids = [row["id"] for row in response.json()["data"]]
        assert ids == ([vehicle_id] if actor in SEES_TARGET else [])
        assert response.json()["next_cursor"] is None
        assert after == before


@pytest.mark.parametrize(("route", "actor"), MATRIX)
def test_vehicle_route_matrix(
    api: ApiClient, actors: Actors, target: Target, db: psycopg.Connection[Any], route: str, actor: str
) -> None:
    case = CASES[route]
    expected = case.expected[actor]
    before = snapshot(db, target)
    response = _call(api, case, target, _actor(actors, actor))
    after = snapshot(db, target)

    assert response.status_code == expected, (route, actor, response.status_code, response.text)
    if expected == 401:
        assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif expected == 403:
        assert_problem(response, 403, "forbidden")
    elif expected == 404:
        body = assert_problem(response, 404, "not_found")
        # Invisible and missing are indistinguishable (docs/api.md §1.2).
        missing = _call(api, case, target, _actor(actors, actor), vehicle_id=str(uuid.uuid4()))
        assert _without_request_specifics(assert_problem(missing, 404, "not_found")) == (
            _without_request_specifics(body)
        )
        assert set(response.headers) - {"X-Request-Id"} <= set(missing.headers)
    if expected >= 400:
        assert after == before, f"{route} as {actor} was refused ({expected}) but changed the database"
        if (user := _actor(actors, actor)) is not None:
            count = db.execute(
                "select count(*) from public.audit_log where actor_id = %s", (user.id,)
            ).fetchone()
            assert count == (0,)
        return
    if expected != 204:
        assert response.headers["Cache-Control"] == "private, no-cache"
    _check_effect(route, actor, response, target, before, after)


def test_the_matrix_covers_every_vehicle_operation() -> None:
    """A vehicle route added to the contract must be added here too."""
    from lib.contract.routes import MAINTENANCE, MAINTENANCE_RECORD, VEHICLE, VEHICLES

    covered = {route.split("?")[0] for route in CASES}
    operations = {
        f"{method} {route.path}"
        for route in (VEHICLES, VEHICLE, MAINTENANCE, MAINTENANCE_RECORD)
        for method in route.operations
        if not (route is VEHICLES and method == "POST")  # creates a vehicle: not an object-level route
    }
    assert operations <= covered


# -- managers' own vehicles ------------------------------------------------------------------


def test_managers_delete_only_their_own(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    colleague = create_user(db, stack_settings, "manager")
    theirs = create_vehicle(db, colleague)
    own = create_vehicle(db, actors.manager)
    assert_problem(api.delete(f"vehicles/{theirs['id']}", headers=actors.manager.headers), 403, "forbidden")
    assert_problem(api.get(f"vehicles/{theirs['id']}", headers=actors.member.headers), 404, "not_found")
    assert db.execute("select count(*) from public.vehicles where id = %s", (theirs["id"],)).fetchone() == (
        1,
    )
    assert api.delete(f"vehicles/{own['id']}", headers=actors.manager.headers).status_code == 204
    assert db.execute("select count(*) from public.vehicles where id = %s", (own["id"],)).fetchone() == (0,)


def test_a_member_cannot_reach_a_managers_or_admins_vehicle(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    for owner in (actors.manager, actors.admin):
        vehicle = create_vehicle(db, owner)
        before = db.execute(
            "select to_jsonb(v) from public.vehicles v where id = %s", (vehicle["id"],)
        ).fetchone()
        url = f"vehicles/{vehicle['id']}"
        assert_problem(api.get(url, headers=actors.member.headers), 404, "not_found")
        assert_problem(api.patch(url, json=PATCH_BODY, headers=actors.member.headers), 404, "not_found")
        assert_problem(api.delete(url, headers=actors.member.headers), 404, "not_found")
        assert_problem(
            api.post(f"{url}/maintenance", json=RECORD_BODY, headers=actors.member.headers), 404, "not_found"
        )
        after = db.execute(
            "select to_jsonb(v) from public.vehicles v where id = %s", (vehicle["id"],)
        ).fetchone()
        assert after == before


# -- the same rules straight at PostgREST (RLS) -----------------------------------------------


def _rest(stack_settings: StackSettings, user: User) -> Callable[..., requests.Response]:
    base = f"{stack_settings.supabase_url}/rest/v1/"

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {
            "apikey": stack_settings.publishable_key,
            "Prefer": "return=representation",
            **user.headers,
        }
        return requests.request(method, base + path, headers=headers, timeout=10, **kwargs)

    return call


def test_a_token_used_directly_against_postgrest_gets_no_more(
    actors: Actors, target: Target, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    before = snapshot(db, target)
    vehicle_id = target.vehicle["id"]
    rest = _rest(stack_settings, actors.other)
    assert rest("GET", f"vehicles?id=eq.{vehicle_id}").json() == []
    assert rest("GET", f"maintenance_records?vehicle_id=eq.{vehicle_id}").json() == []
    assert rest("PATCH", f"vehicles?id=eq.{vehicle_id}", json=PATCH_BODY).json() == []
    assert rest("DELETE", f"vehicles?id=eq.{vehicle_id}").json() == []
    assert rest("DELETE", f"maintenance_records?vehicle_id=eq.{vehicle_id}").json() == []
    inserted = rest("POST", "maintenance_records", json={**RECORD_BODY, "vehicle_id": vehicle_id})
    assert inserted.status_code in (401, 403), inserted.text
    # A manager may read and update everything but not delete someone else's vehicle.
    manager = _rest(stack_settings, actors.manager)
    assert manager("DELETE", f"vehicles?id=eq.{vehicle_id}").json() == []
    assert snapshot(db, target) == before
