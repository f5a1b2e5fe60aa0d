"""The text rule over real HTTP, and the history rules as the API meets them (issue #13, 3-5).

The API and the database hold text fields to one rule (lib.contract.validation): no control characters
(C0, C1), line or paragraph separators, bidirectional controls or zero-width characters anywhere;
surrounding Unicode whitespace is trimmed; blank is refused. tests/db/test_direct_rules.py holds
direct PostgREST writes to the same rule.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.api.conftest import Actors
from tests.factories import create_record, create_vehicle, north_american_vin
from tests.support import ApiClient, assert_problem

FORBIDDEN = {
    "line separator": "Hon\u2028da",
    "paragraph separator": "Honda\u2029",
    "next line (C1 control)": "Hon\x85da",
    "CSI (C1 control)": "Hon\x9bda",
    "right-to-left override": "Hon\u202eda",
    "left-to-right embedding": "\u202aHonda",
    "first strong isolate": "Hon\u2068da",
    "pop directional isolate": "Honda\u2069",
    "zero width space": "Hon\u200bda",
    "zero width joiner": "Hon\u200dda",
    "word joiner": "Hon\u2060da",
    "byte order mark": "\ufeffHonda",
    "line separator at an end (never trimmed away)": "Honda\u2028",
}
BLANK = {"no-break space only": "\u00a0", "ideographic space only": "\u3000", "en quads": "\u2000\u2000"}
CASES = [(label, value, "control_characters") for label, value in FORBIDDEN.items()] + [
    (label, value, "too_short") for label, value in BLANK.items()
]


def new_vehicle(**overrides: Any) -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": "Honda", "model": "Accord", "model_year": 2003, **overrides}


def new_record(**overrides: Any) -> dict[str, Any]:
    return {"performed_at": "2026-01-10", "odometer_km": 900, "kind": "service", **overrides}


def field_errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(entry["field"], entry["code"]) for entry in body["errors"]]


@pytest.mark.parametrize("field", ["make", "model", "color"])
@pytest.mark.parametrize(("label", "value", "code"), CASES, ids=[label for label, _, _ in CASES])
def test_vehicle_text_fields_on_create_and_patch(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], field: str, label: str, value: str, code: str
) -> None:
    created = api.post("vehicles", json=new_vehicle(**{field: value}), headers=actors.member.headers)
    assert field_errors(assert_problem(created, 422, "validation_error")) == [(field, code)]
    vehicle = create_vehicle(db, actors.member)
    patched = api.patch(f"vehicles/{vehicle['id']}", json={field: value}, headers=actors.member.headers)
    assert field_errors(assert_problem(patched, 422, "validation_error")) == [(field, code)]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("   ", "plate_format"),
        ("\u00a0", "plate_format"),
        ("AB\u200b12", "control_characters"),
        ("\u2028AB-12", "control_characters"),
        ("AB-12\u2029", "control_characters"),
        ("\ufeffAB-12", "control_characters"),
    ],
)
def test_plate(api: ApiClient, actors: Actors, value: str, code: str) -> None:
    created = api.post("vehicles", json=new_vehicle(plate=value), headers=actors.member.headers)
    assert field_errors(assert_problem(created, 422, "validation_error")) == [("plate", code)]


@pytest.mark.parametrize("pad", ["\u2028", "\u200b", "\ufeff", "\u202e", "\x85"])
def test_vin_is_never_trimmed_of_forbidden_characters(api: ApiClient, actors: Actors, pad: str) -> None:
    created = api.post(
        "vehicles", json=new_vehicle(vin=pad + north_american_vin() + pad), headers=actors.member.headers
    )
    assert field_errors(assert_problem(created, 422, "validation_error")) == [("vin", "control_characters")]


def test_surrounding_unicode_whitespace_is_trimmed_and_inner_whitespace_kept(
    api: ApiClient, actors: Actors
) -> None:
    body = new_vehicle(make="\u00a0Mercedes\u00a0Benz\u3000", model="\u2003E-Class ", color="\u202fsilver")
    created = api.post("vehicles", json=body, headers=actors.member.headers)
    assert created.status_code == 201, created.text
    vehicle = created.json()
    assert (vehicle["make"], vehicle["model"], vehicle["color"]) == (
        "Mercedes\u00a0Benz",
        "E-Class",
        "silver",
    )


@pytest.mark.parametrize(("label", "value", "code"), CASES, ids=[label for label, _, _ in CASES])
def test_record_description(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], label: str, value: str, code: str
) -> None:
    vehicle = create_vehicle(db, actors.member)
    response = api.post(
        f"vehicles/{vehicle['id']}/maintenance",
        json=new_record(description=value),
        headers=actors.member.headers,
    )
    assert field_errors(assert_problem(response, 422, "validation_error")) == [("description", code)]


@pytest.mark.parametrize(
    ("value", "stored"), [("", None), ("  ", None), ("\u3000Oil and filter ", "Oil and filter")]
)
def test_record_description_is_trimmed_and_never_blank(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], value: str, stored: str | None
) -> None:
    vehicle = create_vehicle(db, actors.member)
    response = api.post(
        f"vehicles/{vehicle['id']}/maintenance",
        json=new_record(description=value),
        headers=actors.member.headers,
    )
    if stored is None:
        assert field_errors(assert_problem(response, 422, "validation_error")) == [
            ("description", "too_short")
        ]
    else:
        assert response.status_code == 201, response.text
        assert response.json()["description"] == stored


@pytest.mark.parametrize("value", ["USD\n", "US\u200bD", "\ufeffUSD"])
def test_record_currency(api: ApiClient, actors: Actors, db: psycopg.Connection[Any], value: str) -> None:
    vehicle = create_vehicle(db, actors.member)
    response = api.post(
        f"vehicles/{vehicle['id']}/maintenance",
        json=new_record(currency=value),
        headers=actors.member.headers,
    )
    assert field_errors(assert_problem(response, 422, "validation_error"))[0][0] == "currency"


def test_deleting_a_vehicle_deletes_records_others_wrote(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    # The owner may not delete a record directly (history is append-only except for admins), but
    # deleting the vehicle takes all its records with it, whoever wrote them.
    vehicle = create_vehicle(db, actors.member)
    for author in (actors.member, actors.manager, actors.admin):
        create_record(db, vehicle, author)
    response = api.delete(f"vehicles/{vehicle['id']}", headers=actors.member.headers)
    assert response.status_code == 204, response.text
    count = db.execute(
        "select count(*) from public.maintenance_records where vehicle_id = %s", (vehicle["id"],)
    )
    assert count.fetchone() == (0,)


def test_the_api_create_path_still_makes_the_ids(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    created = api.post("vehicles", json=new_vehicle(), headers=actors.member.headers)
    assert created.status_code == 201, created.text
    vehicle_id = created.json()["id"]
    record = api.post(f"vehicles/{vehicle_id}/maintenance", json=new_record(), headers=actors.member.headers)
    assert record.status_code == 201, record.text
    assert record.headers["Location"] == f"/api/vehicles/{vehicle_id}/maintenance/{record.json()['id']}"
    chosen = api.post("vehicles", json=new_vehicle(id=vehicle_id), headers=actors.member.headers)
    assert field_errors(assert_problem(chosen, 422, "validation_error")) == [("id", "unknown_field")]
