"""Idempotency-Key on POST /api/vehicles and POST …/maintenance."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from tests.api.conftest import Actors
from tests.factories import create_vehicle, north_american_vin
from tests.support import ApiClient, Gateway, assert_problem


def vehicle_body() -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": "Honda", "model": "Accord", "model_year": 2003}


def count(db: psycopg.Connection[Any], vin: str) -> int:
    row = db.execute("select count(*) from public.vehicles where vin = %s", (vin,)).fetchone()
    assert row is not None
    return int(row[0])


def test_replay_returns_the_first_response_and_creates_nothing(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    body = vehicle_body()
    headers = {**actors.member.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = api.post("vehicles", json=body, headers=headers)
    second = api.post("vehicles", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert count(db, body["vin"]) == 1


def test_same_key_other_body_is_422(api: ApiClient, actors: Actors) -> None:
    headers = {**actors.member.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    assert api.post("vehicles", json=vehicle_body(), headers=headers).status_code == 201
    assert_problem(api.post("vehicles", json=vehicle_body(), headers=headers), 422, "idempotency_key_reused")


def test_keys_are_scoped_to_the_caller(api: ApiClient, actors: Actors) -> None:
    key = f"shared-{uuid.uuid4()}"
    assert (
        api.post(
            "vehicles", json=vehicle_body(), headers={**actors.member.headers, "Idempotency-Key": key}
        ).status_code
        == 201
    )
    other = api.post(
        "vehicles", json=vehicle_body(), headers={**actors.other.headers, "Idempotency-Key": key}
    )
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers


def test_failures_are_replayed_byte_for_byte(api: ApiClient, actors: Actors) -> None:
    body = vehicle_body()
    assert api.post("vehicles", json=body, headers=actors.other.headers).status_code == 201
    headers = {**actors.member.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = api.post("vehicles", json=body, headers=headers)
    second = api.post("vehicles", json=body, headers=headers)
    assert_problem(first, 409, "duplicate_vin")
    assert second.status_code == 409
    assert second.content == first.content  # including the first request_id
    assert second.headers["Idempotent-Replayed"] == "true"


def test_malformed_keys(api: ApiClient, actors: Actors) -> None:
    for key in ("", "x" * 256, "tab\there", "é"):
        response = api.post(
            "vehicles",
            json=vehicle_body(),
            headers={**actors.member.headers, "Idempotency-Key": key.encode()},
        )
        assert_problem(response, 400, "invalid_request")


def test_concurrent_retries_create_one_row(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    body = vehicle_body()
    headers = {**actors.member.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: api.post("vehicles", json=body, headers=headers), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "idempotency_in_progress"
    assert count(db, body["vin"]) == 1


def test_dropped_response_then_retry_creates_exactly_one_row(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], gateway: Gateway
) -> None:
    body = vehicle_body()
    headers = {**actors.member.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    gateway.fault("/rest/v1", "drop", remaining=1, match="rpc/create_vehicle")
    lost = api.post("vehicles", json=body, headers=headers)
    assert lost.status_code == 502
    assert count(db, body["vin"]) == 1  # the insert committed before the connection dropped
    retry = api.post("vehicles", json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert count(db, body["vin"]) == 1


def test_maintenance_replay(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=10)
    url = f"vehicles/{vehicle['id']}/maintenance"
    headers = {**actors.member.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    body = {"performed_at": "2026-01-10", "odometer_km": 50, "kind": "repair"}
    first = api.post(url, json=body, headers=headers)
    second = api.post(url, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    rows = db.execute(
        "select count(*) from public.maintenance_records where vehicle_id = %s", (vehicle["id"],)
    ).fetchone()
    assert rows == (1,)
