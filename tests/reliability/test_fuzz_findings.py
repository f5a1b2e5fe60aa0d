"""What `make fuzz` found, pinned in `make test`: each was a wrong answer before its fix.

The fixes and their reasons are listed in docs/reliability.md ("What fuzzing found").
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Actors
from tests.factories import create_vehicle, north_american_vin
from tests.support import ApiClient, assert_problem, random_ip


def vehicle(**overrides: Any) -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": "Honda", "model": "Accord", "model_year": 2003, **overrides}


@pytest.mark.parametrize("if_match", ['W/"v1"', '"foreign"', ""])
def test_an_if_match_that_can_never_match_is_404_for_a_missing_or_invisible_vehicle(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], if_match: str
) -> None:
    others = create_vehicle(db, actors.other)
    headers = {**actors.member.headers, "If-Match": if_match}
    for target in (str(uuid.uuid4()), others["id"]):
        assert_problem(
            api.patch(f"vehicles/{target}", json={"color": "red"}, headers=headers), 404, "not_found"
        )
        assert_problem(api.delete(f"vehicles/{target}", headers=headers), 404, "not_found")
    mine = create_vehicle(db, actors.member)
    assert_problem(api.delete(f"vehicles/{mine['id']}", headers=headers), 412, "precondition_failed")


@pytest.mark.parametrize("parameter", ["q", "make", "model"])
def test_a_nul_in_a_text_filter_matches_nothing(api: ApiClient, actors: Actors, parameter: str) -> None:
    response = api.get("vehicles", params={parameter: "Hon\x00da"}, headers=actors.member.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": [], "next_cursor": None}
    audit = api.get("admin/audit", params={"record_id": "x\x00"}, headers=actors.admin.headers)
    assert (audit.status_code, audit.json()["data"]) == (200, [])


def test_cost_cents_beyond_the_column_is_422_not_502(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}/maintenance"
    body = {"performed_at": "2026-01-02", "odometer_km": 1, "kind": "service", "cost_cents": 2**31}
    problem = assert_problem(api.post(url, json=body, headers=actors.member.headers), 422, "validation_error")
    assert problem["errors"][0]["field"] == "cost_cents"
    assert (
        api.post(url, json={**body, "cost_cents": 2**31 - 1}, headers=actors.member.headers).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("make", "\tHonda"),
        ("model", "Accord\n"),
        ("color", "\x7fred"),
        ("plate", "straße"),
        ("vin", "\t1HGCM82633A004352"),
    ],
)
def test_control_characters_and_look_alike_letters_are_refused(
    api: ApiClient, actors: Actors, field: str, value: str
) -> None:
    problem = assert_problem(
        api.post("vehicles", json=vehicle(**{field: value}), headers=actors.member.headers),
        422,
        "validation_error",
    )
    assert problem["errors"][0]["field"] == field


def test_trimming_still_trims_whitespace(api: ApiClient, actors: Actors) -> None:
    body = vehicle(make="\u3000Honda ", plate=" abc-12 ", vin=" " + north_american_vin().lower())
    created = api.post("vehicles", json=body, headers=actors.member.headers)
    assert created.status_code == 201, created.text
    assert (created.json()["make"], created.json()["plate"]) == ("Honda", "ABC-12")


def test_an_integral_number_is_an_integer(api: ApiClient, actors: Actors) -> None:
    created = api.post(
        "vehicles", json=vehicle(model_year=2003.0, odometer_km=1e3), headers=actors.member.headers
    )
    assert created.status_code == 201, created.text
    assert (created.json()["model_year"], created.json()["odometer_km"]) == (2003, 1000)
    half = api.post("vehicles", json=vehicle(model_year=2003.5), headers=actors.member.headers)
    assert_problem(half, 422, "validation_error")


def test_credentials_follow_the_auth_services_rules(api: ApiClient) -> None:
    ip = {"X-Forwarded-For": random_ip()}
    email = f"ü-{uuid.uuid4().hex[:6]}@example.test"  # valid to a mail server, refused by Supabase Auth
    problem = assert_problem(
        api.post("auth/signup", json={"email": email, "password": "long-enough-1"}, headers=ip),
        422,
        "validation_error",
    )
    assert problem["errors"][0] == {
        "field": "email",
        "code": "email_format",
        "message": "Must be an email address",
    }
    password = "é" * 40  # 40 characters, 80 bytes: over bcrypt's 72
    email = f"bytes-{uuid.uuid4().hex[:6]}@example.test"
    problem = assert_problem(
        api.post("auth/signup", json={"email": email, "password": password}, headers=ip),
        422,
        "validation_error",
    )
    assert problem["errors"][0]["field"] == "password"


def test_integer_query_parameters_take_ascii_digits_only(api: ApiClient, actors: Actors) -> None:
    for value in ("\u0663", "\uff11"):  # ARABIC-INDIC DIGIT THREE, FULLWIDTH DIGIT ONE
        response = api.get("vehicles", params={"limit": value}, headers=actors.member.headers)
        assert_problem(response, 400, "invalid_query")


def test_a_patch_body_is_required(api: ApiClient, actors: Actors, db: psycopg.Connection[Any]) -> None:
    from lib.contract.openapi import build_document

    assert build_document()["paths"]["/api/vehicles/{id}"]["patch"]["requestBody"]["required"] is True
    url = f"vehicles/{create_vehicle(db, actors.member)['id']}"
    response = api.patch(url, headers=actors.member.headers)  # no body at all
    assert response.status_code in (400, 411, 415, 422), response.text
