"""Maintenance records over real HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Actors
from tests.factories import create_record, create_vehicle
from tests.support import ApiClient, assert_problem


def record(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"performed_at": "2026-01-10", "odometer_km": 900, "kind": "service"}
    body.update(overrides)
    return body


def test_create_record_raises_the_odometer(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=1000)
    response = api.post(
        f"vehicles/{vehicle['id']}/maintenance",
        json=record(odometer_km=1500, description="Oil and filter", cost_cents=8900),
        headers=actors.member.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert list(created) == [
        "id", "vehicle_id", "performed_at", "odometer_km", "kind", "description",
        "cost_cents", "currency", "created_by", "created_at",
    ]  # fmt: skip
    assert created["currency"] == "USD"
    assert created["created_by"] == actors.member.id
    assert response.headers["Location"].startswith(f"/api/vehicles/{vehicle['id']}/maintenance/")
    after = api.get(f"vehicles/{vehicle['id']}", headers=actors.member.headers).json()
    assert after["odometer_km"] == 1500
    assert after["version"] == 2


def test_record_at_or_below_leaves_vehicle_unchanged(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=1000)
    for odometer in (1000, 10):
        url = f"vehicles/{vehicle['id']}/maintenance"
        assert (
            api.post(url, json=record(odometer_km=odometer), headers=actors.member.headers).status_code == 201
        )
    after = api.get(f"vehicles/{vehicle['id']}", headers=actors.member.headers).json()
    assert (after["odometer_km"], after["version"]) == (1000, 1)


def test_today_is_accepted_and_tomorrow_is_not(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}/maintenance"
    today = datetime.now(UTC).date()
    assert (
        api.post(url, json=record(performed_at=today.isoformat()), headers=actors.member.headers).status_code
        == 201
    )
    tomorrow = (today + timedelta(days=1)).isoformat()
    body = assert_problem(
        api.post(url, json=record(performed_at=tomorrow), headers=actors.member.headers),
        422,
        "validation_error",
    )
    assert body["errors"][0]["code"] == "performed_at_future"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("performed_at", "2026/01/10", "date_format"),
        ("performed_at", "2026-02-30", "date_format"),
        ("performed_at", 20260110, "date_format"),
        ("kind", "wash", "not_allowed"),
        ("description", "d" * 2001, "too_long"),
        ("description", "line\nbreak", "control_characters"),
        ("cost_cents", -1, "too_small"),
        ("cost_cents", 1.5, "type"),
        ("currency", "usd", "currency_format"),
        ("currency", "EURO", "currency_format"),
        ("odometer_km", None, "type"),
    ],
)
def test_record_field_rules(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], field: str, value: object, code: str
) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}/maintenance"
    body = assert_problem(
        api.post(url, json=record(**{field: value}), headers=actors.member.headers), 422, "validation_error"
    )
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]


def test_null_currency_stores_the_default(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}/maintenance"
    body = record(currency=None, description=None, cost_cents=None)
    response = api.post(url, json=body, headers=actors.member.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["currency"], created["description"], created["cost_cents"]) == ("USD", None, None)
    stored = db.execute(
        "select currency from public.maintenance_records where id = %s", (created["id"],)
    ).fetchone()
    assert stored == ("USD",)


def test_list_is_newest_first_and_pages(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    days = [5, 1, 3, 2, 4]
    for day in days:
        create_record(db, vehicle, actors.member, performed_at=date(2026, 1, day).isoformat())
    url = f"vehicles/{vehicle['id']}/maintenance"
    first = api.get(url, params={"limit": 2}, headers=actors.member.headers).json()
    rest = api.get(
        url, params={"limit": 10, "cursor": first["next_cursor"]}, headers=actors.member.headers
    ).json()
    dates = [r["performed_at"] for r in first["data"] + rest["data"]]
    assert dates == [f"2026-01-0{d}" for d in (5, 4, 3, 2, 1)]
    assert rest["next_cursor"] is None


def test_visibility_follows_the_vehicle(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    create_record(db, vehicle, actors.member)
    url = f"vehicles/{vehicle['id']}/maintenance"
    assert_problem(api.get(url, headers=actors.other.headers), 404, "not_found")
    assert_problem(api.post(url, json=record(), headers=actors.other.headers), 404, "not_found")
    assert len(api.get(url, headers=actors.manager.headers).json()["data"]) == 1
    assert api.post(url, json=record(), headers=actors.manager.headers).status_code == 201
    assert_problem(
        api.get(f"vehicles/{uuid.uuid4()}/maintenance", headers=actors.admin.headers), 404, "not_found"
    )
    assert_problem(api.get("vehicles/nope/maintenance", headers=actors.admin.headers), 404, "not_found")


# -- one record: GET /api/vehicles/{id}/maintenance/{record_id} ------------------------------


def record_url(vehicle_id: str, record_id: str) -> str:
    return f"vehicles/{vehicle_id}/maintenance/{record_id}"


def test_get_one_record_with_etag_and_304(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    row = create_record(db, vehicle, actors.member)
    url = record_url(vehicle["id"], row["id"])
    response = api.get(url, headers=actors.member.headers)
    assert response.status_code == 200, response.text
    listed = api.get(f"vehicles/{vehicle['id']}/maintenance", headers=actors.member.headers).json()
    assert response.json() == listed["data"][0]
    assert response.json()["id"] == row["id"]
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["Vary"] == "Authorization, Cookie, Origin"
    assert {"RateLimit", "RateLimit-Policy"} <= set(response.headers)
    etag = response.headers["ETag"]
    again = api.get(url, headers={**actors.member.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert api.get(url, headers={**actors.member.headers, "If-None-Match": f"W/{etag}"}).status_code == 304
    changed = api.get(url, headers={**actors.member.headers, "If-None-Match": '"other"'})
    assert changed.status_code == 200
    # Whoever sees the vehicle sees its records.
    for reader in (actors.manager, actors.admin):
        assert api.get(url, headers=reader.headers).json() == response.json()


def test_head_of_one_record(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    url = record_url(vehicle["id"], create_record(db, vehicle, actors.member)["id"])
    get = api.get(url, headers=actors.member.headers)
    head = api.request("HEAD", url, headers=actors.member.headers)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_the_location_of_a_created_record_resolves(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=1000)
    created = api.post(
        f"vehicles/{vehicle['id']}/maintenance",
        json=record(odometer_km=1200, description="Brakes", cost_cents=12000, currency="EUR"),
        headers=actors.member.headers,
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location == f"/api/vehicles/{vehicle['id']}/maintenance/{created.json()['id']}"
    followed = api.get(location.removeprefix("/api/"), headers=actors.member.headers)
    assert followed.status_code == 200, followed.text
    assert followed.content == created.content


def test_one_record_is_404_unless_it_is_visible_under_its_own_vehicle(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    row = create_record(db, vehicle, actors.member)
    elsewhere = create_vehicle(db, actors.member)
    own_record_of_elsewhere = create_record(db, elsewhere, actors.member)
    url = record_url(vehicle["id"], row["id"])
    hidden = assert_problem(api.get(url, headers=actors.other.headers), 404, "not_found")
    refusals = [
        # A record of another of the owner's vehicles, under this vehicle's URL.
        api.get(record_url(vehicle["id"], own_record_of_elsewhere["id"]), headers=actors.member.headers),
        api.get(record_url(elsewhere["id"], row["id"]), headers=actors.admin.headers),
        api.get(record_url(vehicle["id"], str(uuid.uuid4())), headers=actors.member.headers),
        api.get(record_url(str(uuid.uuid4()), row["id"]), headers=actors.admin.headers),
    ]
    for response in refusals:
        body = assert_problem(response, 404, "not_found")
        # Missing, elsewhere and invisible are one and the same answer.
        assert {k: v for k, v in body.items() if k not in ("request_id", "instance")} == {
            k: v for k, v in hidden.items() if k not in ("request_id", "instance")
        }
    # Authorisation comes before preconditions: never a 304 for an invisible record.
    probe = api.get(url, headers={**actors.other.headers, "If-None-Match": "*"})
    assert_problem(probe, 404, "not_found")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "..%2F..%2Fetc", "%00"])
def test_non_uuid_record_id_is_404(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], bad_id: str
) -> None:
    vehicle = create_vehicle(db, actors.member)
    assert_problem(
        api.get(record_url(vehicle["id"], bad_id), headers=actors.member.headers), 404, "not_found"
    )
    row = create_record(db, vehicle, actors.member)
    assert_problem(api.get(record_url(bad_id, row["id"]), headers=actors.member.headers), 404, "not_found")


def test_one_record_needs_a_caller(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    vehicle = create_vehicle(db, actors.member)
    response = api.get(record_url(vehicle["id"], create_record(db, vehicle, actors.member)["id"]))
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_one_record_takes_only_get_and_no_query(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    row = create_record(db, vehicle, actors.member)
    url = record_url(vehicle["id"], row["id"])
    for method in ("DELETE", "PATCH", "POST", "PUT"):
        response = api.request(method, url, json={}, headers=actors.member.headers)
        assert_problem(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    options = api.request("OPTIONS", url)
    assert options.status_code == 204
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS"
    # The list's methods stay the list's.
    assert api.request("OPTIONS", f"vehicles/{vehicle['id']}/maintenance").headers["Allow"] == (
        "GET, HEAD, POST, OPTIONS"
    )
    # What Vercel appends for the dynamic segments is not a caller's parameter; anything else is.
    dynamic = api.get(
        url, params={"id": vehicle["id"], "record_id": row["id"]}, headers=actors.member.headers
    )
    assert dynamic.status_code == 200, dynamic.text
    # The built route repeats only the vehicle's id (the rewrite names no record_id).
    assert api.get(url, params={"id": vehicle["id"]}, headers=actors.member.headers).status_code == 200
    assert_problem(api.get(url, params={"limit": "1"}, headers=actors.member.headers), 400, "invalid_query")
    for params in (
        {"id": "foo"},
        {"record_id": "foo"},
        {"id": row["id"]},  # each name repeats its own segment
        {"id": vehicle["id"], "record_id": vehicle["id"]},
    ):
        assert_problem(api.get(url, params=params, headers=actors.member.headers), 400, "invalid_query")
    assert_problem(
        api.get(f"vehicles/{vehicle['id']}/maintenance", params={"id": "foo"}, headers=actors.member.headers),
        400,
        "invalid_query",
    )
    assert_problem(
        api.get(
            f"vehicles/{vehicle['id']}/maintenance",
            params={"record_id": row["id"]},
            headers=actors.member.headers,
        ),
        400,
        "invalid_query",
    )
