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
