"""lib.contract.inputs, queries and validation: credentials, nulls, cursor bounds, the text rule."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lib.contract.inputs import (
    Credentials,
    LoginCredentials,
    MaintenanceCreate,
    VehicleCreate,
    VehicleUpdate,
)
from lib.contract.queries import AuditQuery, PageQuery, VehicleListQuery
from lib.contract.validation import FORBIDDEN, TRIMMED, validate_body, validate_query
from lib.http.problems import BadRequest, ValidationFailed
from tests.contract.test_validation import members

VEHICLE: dict[str, Any] = {"vin": "1HGCM82633A004352", "make": "Honda", "model": "Accord", "model_year": 2003}
RECORD: dict[str, Any] = {"performed_at": "2026-01-10", "odometer_km": 900, "kind": "service"}


def errors(model: type[Any], body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as failed:
        validate_body(model, body)
    return [(entry.field, entry.code) for entry in failed.value.errors]


# -- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pair",
    [
        {"email": "member@example.com", "password": "short"},
        {"email": "not-an-email", "password": "correct-horse-battery"},
        {"email": "   ", "password": "x"},
        {"email": "a@b", "password": "x" * 1024},
        {"email": "x" * 320, "password": "\x00"},
    ],
)
def test_login_takes_any_pair_of_strings_that_signup_would_refuse(pair: dict[str, str]) -> None:
    validate_body(LoginCredentials, pair)
    assert errors(Credentials, pair)  # sign-up's policy is sign-up's


def test_login_email_is_normalised_as_the_rate_limit_keys_it() -> None:
    credentials = validate_body(LoginCredentials, {"email": " \tMember@Example.COM\n", "password": " p "})
    assert credentials.email == "member@example.com"
    assert credentials.password == " p "  # a password is never trimmed


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [("email", "required"), ("password", "required")]),
        ({"email": None, "password": "x"}, [("email", "type")]),
        ({"email": "a@b.c", "password": 12345678}, [("password", "type")]),
        ({"email": "", "password": "x"}, [("email", "too_short")]),
        ({"email": "a@b.c", "password": ""}, [("password", "too_short")]),
        ({"email": "x" * 321, "password": "x"}, [("email", "too_long")]),
        ({"email": "a@b.c", "password": "x" * 1025}, [("password", "too_long")]),
        ({"email": "a@b.c", "password": "x", "extra": 1}, [("extra", "unknown_field")]),
    ],
)
def test_login_bodies_that_are_not_two_bounded_strings(
    body: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert errors(LoginCredentials, body) == expected


# -- null on optional fields with defaults -------------------------------------------------------


@pytest.mark.parametrize(("field", "default"), [("odometer_km", 0), ("status", "active")])
def test_vehicle_create_null_means_the_default(field: str, default: object) -> None:
    sent = validate_body(VehicleCreate, {**VEHICLE, field: None})
    left_out = validate_body(VehicleCreate, VEHICLE)
    assert getattr(sent, field) == default
    assert sent.model_dump(mode="json", exclude_none=True) == left_out.model_dump(
        mode="json", exclude_none=True
    )
    assert sent.model_dump(mode="json", exclude_none=True)[field] == default


def test_vehicle_create_nulls_for_fields_without_defaults_stay_null() -> None:
    sent = validate_body(VehicleCreate, {**VEHICLE, "plate": None, "color": None, "owner_id": None})
    assert (sent.plate, sent.color, sent.owner_id) == (None, None, None)


def test_maintenance_create_null_currency_means_usd() -> None:
    sent = validate_body(
        MaintenanceCreate, {**RECORD, "currency": None, "description": None, "cost_cents": None}
    )
    assert sent.currency == "USD"
    assert sent.model_dump(mode="json", exclude_none=True)["currency"] == "USD"
    assert validate_body(MaintenanceCreate, {**RECORD, "currency": "EUR"}).currency == "EUR"


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (VehicleCreate, {**VEHICLE, "odometer_km": -1}, "odometer_km"),
        (VehicleCreate, {**VEHICLE, "odometer_km": "0"}, "odometer_km"),
        (VehicleCreate, {**VEHICLE, "status": "sold"}, "status"),
        (MaintenanceCreate, {**RECORD, "currency": "usd"}, "currency"),
        (VehicleCreate, {**VEHICLE, "make": None}, "make"),  # required: null is no default
        (MaintenanceCreate, {**RECORD, "odometer_km": None}, "odometer_km"),
    ],
)
def test_other_values_of_those_fields_are_still_checked(
    model: type[Any], body: dict[str, Any], field: str
) -> None:
    assert [name for name, _ in errors(model, body)] == [field]


@pytest.mark.parametrize("field", ["odometer_km", "status"])
def test_patch_still_refuses_null_for_columns_that_cannot_be_cleared(field: str) -> None:
    assert errors(VehicleUpdate, {field: None}) == [(field, "null_not_allowed")]


# -- cursors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [PageQuery, VehicleListQuery, AuditQuery])
@pytest.mark.parametrize("cursor", ["", "a" * 2049, "a.b" * 1000])
def test_an_empty_or_overlong_cursor_is_invalid_cursor(model: type[Any], cursor: str) -> None:
    with pytest.raises(BadRequest) as refused:
        validate_query(model, {"cursor": cursor})
    assert refused.value.code == "invalid_cursor"
    assert refused.value.detail == "The cursor is not valid for this list"
    assert refused.value.errors == ()


def test_a_cursor_within_bounds_is_left_to_the_list() -> None:
    # Whether this server issued it for the list is lib.supabase.cursor's to say, when the list decodes it.
    for cursor in ("WyIyMDI2LTAxLTAxIiwiaWQiXQ.c2lnbmF0dXJl", "x", "a" * 2048):
        assert validate_query(PageQuery, {"cursor": cursor}).cursor == cursor


def test_a_bad_cursor_beside_other_bad_parameters_is_invalid_query() -> None:
    with pytest.raises(BadRequest) as refused:
        validate_query(PageQuery, {"cursor": "", "limit": "0"})
    assert refused.value.code == "invalid_query"
    assert [(entry.field, entry.code) for entry in refused.value.errors] == [
        ("limit", "too_small"),
        ("cursor", "invalid_cursor"),
    ]


# -- the text rule (lib.contract.validation), and the documented patterns that state it -------------------

TEXT_CASES = sorted(
    members(FORBIDDEN)
    | members(TRIMMED)
    | {code for code in range(0x110000) if chr(code).isspace()}
    | {ord(char) for char in "aZ0-é日🚗\u180e\u200e\u200f\u061c\u00ad"}
)


def schema_of(model: type[Any], field: str) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema()["properties"][field]
    return schema["anyOf"][0] if "anyOf" in schema else schema


def accepted(model: type[Any], body: dict[str, Any]) -> bool:
    try:
        validate_body(model, body)
    except ValidationFailed:
        return False
    return True


@pytest.mark.parametrize(
    ("model", "base", "field"),
    [
        (VehicleCreate, VEHICLE, "make"),
        (VehicleCreate, VEHICLE, "model"),
        (VehicleCreate, VEHICLE, "color"),
        (VehicleCreate, VEHICLE, "plate"),
        (MaintenanceCreate, RECORD, "description"),
    ],
)
def test_each_text_fields_pattern_is_exactly_its_validator(
    model: type[Any], base: dict[str, Any], field: str
) -> None:
    pattern = re.compile(schema_of(model, field)["pattern"])
    for code in TEXT_CASES:
        char = chr(code)
        for value in (char, f"{char}x", f"x{char}", f"x{char}x", f"{char}x{char}", f"{char}{char}"):
            documented = pattern.fullmatch(value) is not None
            assert documented == accepted(model, {**base, field: value}), (field, hex(code), value)


def test_the_vin_pattern_is_exactly_its_validator_around_a_vin() -> None:
    pattern = re.compile(schema_of(VehicleCreate, "vin")["pattern"])
    for code in TEXT_CASES:
        char = chr(code)
        for value in (f"{char}{VEHICLE['vin']}", f"{VEHICLE['vin']}{char}"):
            documented = pattern.fullmatch(value) is not None
            assert documented == accepted(VehicleCreate, {**VEHICLE, "vin": value}), (hex(code), value)


@pytest.mark.parametrize(
    ("model", "base", "field", "value", "stored"),
    [
        (VehicleCreate, VEHICLE, "make", "\u00a0Mercedes\u00a0Benz\u3000", "Mercedes\u00a0Benz"),
        (VehicleCreate, VEHICLE, "plate", "\u2003ab-12 ", "AB-12"),
        (VehicleCreate, VEHICLE, "vin", "\u205f1hgcm82633a004352\u1680", "1HGCM82633A004352"),
        (MaintenanceCreate, RECORD, "description", "\u202fOil and filter ", "Oil and filter"),
    ],
)
def test_surrounding_unicode_whitespace_is_trimmed(
    model: type[Any], base: dict[str, Any], field: str, value: str, stored: str
) -> None:
    assert getattr(validate_body(model, {**base, field: value}), field) == stored


@pytest.mark.parametrize(
    ("model", "base", "field", "value", "code"),
    [
        (VehicleCreate, VEHICLE, "make", "\u00a0", "too_short"),
        (VehicleCreate, VEHICLE, "make", "Hon\u202eda", "control_characters"),
        (VehicleCreate, VEHICLE, "model", "Accord\u2028", "control_characters"),
        (VehicleCreate, VEHICLE, "color", "\u200bred", "control_characters"),
        (VehicleCreate, VEHICLE, "plate", "   ", "plate_format"),
        (VehicleCreate, VEHICLE, "plate", "\ufeffAB-12", "control_characters"),
        (VehicleCreate, VEHICLE, "vin", "\u2029" + VEHICLE["vin"], "control_characters"),
        (MaintenanceCreate, RECORD, "description", "", "too_short"),
        (MaintenanceCreate, RECORD, "description", "\u3000", "too_short"),
        (MaintenanceCreate, RECORD, "description", "Oil\x85filter", "control_characters"),
        (MaintenanceCreate, RECORD, "currency", "USD\n", "currency_format"),
        (VehicleUpdate, {}, "make", "\u2066Honda", "control_characters"),
    ],
)
def test_the_text_rule_refuses(
    model: type[Any], base: dict[str, Any], field: str, value: str, code: str
) -> None:
    assert errors(model, {**base, field: value}) == [(field, code)]
