"""Database round trips per request, counted by the local gateway: reads 1, writes 1.

The gateway counts every request it forwards to PostgREST (`/rest/v1`) and Auth
(`/auth/v1`). Tokens are verified locally, so no route here may reach Auth.
The rate limiter's share is isolated by taking its RPC down: a read spending a
warm allowance must not notice at all, and a write never calls it (the
database counts the write in the write's own round trip).
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg

from devstack.stack_settings import StackSettings
from tests.api.conftest import Actors
from tests.factories import User, create_user, create_vehicle, north_american_vin
from tests.support import ApiClient, Gateway, in_one_rate_window

LIMITER = "rpc/rate_limit_take"


def _trips(gateway: Gateway) -> tuple[int, int]:
    counts = gateway.counts()
    return counts.get("/rest/v1", 0), counts.get("/auth/v1", 0)


def _write_key(user: User) -> str:
    """The user's write counter (lib.supabase.ratelimit.policy_key), shared by the API and the database."""
    return "write:user:" + hashlib.sha256(user.id.encode()).hexdigest()[:32]


def _warm_reads(api: ApiClient, user: User) -> None:
    """Take the user's read allowance (one limiter call reserves a batch for the next reads)."""
    assert api.get("me", headers=user.headers).status_code == 200


# A read's allowance lasts until its rate-limit window ends: each measurement runs in one
# window (tests.support.in_one_rate_window), with a fresh user if it has to run again, and ends
# two seconds before the window does: in its last second an instance gives up its reserved
# units, so a read there calls the limiter again (a second round trip).


def test_get_one_vehicle_is_one_round_trip(
    api: ApiClient, gateway: Gateway, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    def measure() -> tuple[int, tuple[int, int]]:
        user = create_user(db, stack_settings)
        vehicle = create_vehicle(db, user)
        _warm_reads(api, user)
        gateway.reset_counts()
        response = api.get(f"vehicles/{vehicle['id']}", headers=user.headers)
        return response.status_code, _trips(gateway)

    assert in_one_rate_window(db, measure, margin=2) == (200, (1, 0))


def test_list_first_and_next_page_are_one_round_trip_each(
    api: ApiClient, gateway: Gateway, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    def measure() -> list[tuple[int, tuple[int, int]]]:
        user = create_user(db, stack_settings)
        for _ in range(3):
            create_vehicle(db, user)
        _warm_reads(api, user)
        gateway.reset_counts()
        first = api.get("vehicles", params={"limit": 2}, headers=user.headers)
        first_trips = _trips(gateway)
        cursor = first.json()["next_cursor"]
        assert cursor
        gateway.reset_counts()
        second = api.get("vehicles", params={"limit": 2, "cursor": cursor}, headers=user.headers)
        return [(first.status_code, first_trips), (second.status_code, _trips(gateway))]

    assert in_one_rate_window(db, measure, margin=2) == [(200, (1, 0)), (200, (1, 0))]


def test_a_cold_read_adds_one_limiter_call_and_warm_reads_refill_rarely(
    api: ApiClient, gateway: Gateway, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    reads = 10

    def measure() -> tuple[set[int], tuple[int, int], tuple[int, int]]:
        user = create_user(db, stack_settings)
        vehicle = create_vehicle(db, user)
        gateway.reset_counts()
        statuses = {api.get(f"vehicles/{vehicle['id']}", headers=user.headers).status_code}
        cold = _trips(gateway)
        gateway.reset_counts()
        for _ in range(reads):
            statuses.add(api.get(f"vehicles/{vehicle['id']}", headers=user.headers).status_code)
        return statuses, cold, _trips(gateway)

    statuses, cold, warm = in_one_rate_window(db, measure, margin=2)
    assert statuses == {200}
    assert cold == (2, 0)  # a first reservation (4 units) + the read
    # 3 reads spend the first reservation, the 4th reserves 8 more: one limiter call in ten reads.
    assert warm == (reads + 1, 0)


def test_a_read_with_a_warm_allowance_makes_no_limiter_call(
    api: ApiClient, gateway: Gateway, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    def measure() -> tuple[int, bool, tuple[int, int]]:
        user = create_user(db, stack_settings)
        vehicle = create_vehicle(db, user)
        _warm_reads(api, user)
        gateway.fault("/rest/v1", "down", match=LIMITER)
        gateway.reset_counts()
        response = api.get(f"vehicles/{vehicle['id']}", headers=user.headers)
        gateway.clear_faults()
        return response.status_code, "RateLimit" in response.headers, _trips(gateway)

    # Counted locally (the header is there), not skipped by failing open.
    assert in_one_rate_window(db, measure, margin=2) == (200, True, (1, 0))


def test_create_is_one_round_trip_the_database_counting_the_write(
    api: ApiClient, actors: Actors, gateway: Gateway
) -> None:
    body = {"vin": north_american_vin(), "make": "Honda", "model": "Civic", "model_year": 2021}
    gateway.reset_counts()
    created = api.post("vehicles", json=body, headers=actors.member.headers)
    assert created.status_code == 201, created.text
    assert _trips(gateway) == (1, 0)
    assert created.headers["RateLimit-Policy"] == '"write";q=60;w=60'  # the database's answer
    # The API's limiter is not asked: with its RPC down the write still goes through, counted
    # by the database (writes fail closed there: no database, no write).
    gateway.fault("/rest/v1", "down", match=LIMITER)
    gateway.reset_counts()
    body["vin"] = north_american_vin()
    again = api.post("vehicles", json=body, headers=actors.member.headers)
    assert again.status_code == 201, again.text
    assert _trips(gateway) == (1, 0)
    # A write refused before the database is counted by the limiter instead, and fails closed.
    gateway.reset_counts()
    invalid = api.post("vehicles", json={}, headers=actors.member.headers)
    assert invalid.status_code == 503
    assert _trips(gateway) == (1, 0)


def test_patch_with_if_match_is_one_round_trip(
    api: ApiClient, actors: Actors, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=1000)
    gateway.reset_counts()
    response = api.patch(
        f"vehicles/{vehicle['id']}",
        json={"odometer_km": 1500},
        headers={**actors.member.headers, "If-Match": '"v1"'},
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"v2"'
    assert _trips(gateway) == (1, 0)


def test_delete_with_if_match_is_one_round_trip(
    api: ApiClient, actors: Actors, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    gateway.reset_counts()
    response = api.delete(f"vehicles/{vehicle['id']}", headers={**actors.member.headers, "If-Match": '"v1"'})
    assert response.status_code == 204, response.text
    assert _trips(gateway) == (1, 0)


def test_a_maintenance_record_and_a_role_change_are_one_round_trip_each(
    api: ApiClient, actors: Actors, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=1000)
    gateway.reset_counts()
    record = api.post(
        f"vehicles/{vehicle['id']}/maintenance",
        json={"performed_at": "2026-01-15", "odometer_km": 1200, "kind": "service"},
        headers=actors.member.headers,
    )
    assert record.status_code == 201, record.text
    assert _trips(gateway) == (1, 0)
    gateway.reset_counts()
    role = api.put(
        f"admin/users/{actors.other.id}/role", json={"role": "manager"}, headers=actors.admin.headers
    )
    assert role.status_code == 200, role.text
    assert _trips(gateway) == (1, 0)


def test_a_write_refused_by_the_database_is_refused_again_without_a_round_trip(
    api: ApiClient, gateway: Gateway, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    def measure() -> tuple[int, int, tuple[int, int]]:
        user = create_user(db, stack_settings)
        db.execute("select public.rate_limit_take(%s, 60, 60, 60)", (_write_key(user),))
        body = {"vin": north_american_vin(), "make": "Honda", "model": "Civic", "model_year": 2021}
        refused = api.post("vehicles", json=body, headers=user.headers)
        gateway.reset_counts()
        again = api.post("vehicles", json=body, headers=user.headers)
        return refused.status_code, again.status_code, _trips(gateway)

    assert in_one_rate_window(db, measure) == (429, 429, (0, 0))
