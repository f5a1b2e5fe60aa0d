"""lib.resources.representation: the output models build the responses, so the documented shape is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lib.contract.outputs import AuditEntry, MaintenanceRecord, Output, UserSummary, Vehicle
from lib.http.problems import BadGateway
from lib.http.response import encode_json
from lib.resources import representation
from tests.resources import rows


def test_a_vehicle_in_the_contracts_field_order_without_other_columns() -> None:
    row = rows.vehicle()
    shaped = representation.one(Vehicle, row)
    assert list(shaped) == list(Vehicle.model_fields)
    assert shaped["created_at"] == rows.CREATED_UTC
    assert shaped["id"] == row["id"]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-25T10:00:00+00:00", "2026-11-25T10:00:00Z"),
        ("2026-11-25T10:00:00.999999+00:00", "2026-11-25T10:00:00Z"),
        ("2026-11-25T12:00:00+02:00", "2026-11-25T10:00:00Z"),
        ("2026-11-25 10:00:00Z", "2026-11-25T10:00:00Z"),
        ("0999-01-02T03:04:05+00:00", "0999-01-02T03:04:05Z"),  # RFC 3339: four digits
    ],
)
def test_timestamps_are_utc_to_the_second(stamp: str, expected: str) -> None:
    assert representation.one(Vehicle, rows.vehicle(updated_at=stamp))["updated_at"] == expected


@pytest.mark.parametrize(
    "broken",
    [{"created_at": "not a time"}, {"status": "flying"}, {"id": "nope"}, {"model_year": None}],
)
def test_a_row_the_model_cannot_read_is_502(broken: dict[str, object]) -> None:
    with pytest.raises(BadGateway):
        representation.one(Vehicle, rows.vehicle(**broken))
    row = rows.vehicle()
    del row["vin"]
    with pytest.raises(BadGateway):
        representation.one(Vehicle, row)


def test_each_list_row_model() -> None:
    record = representation.one(MaintenanceRecord, rows.record("5f0c3a52-8d1e-4b7a-9c61-2e4f7a9b0d13"))
    assert record["performed_at"] == "2026-11-20"
    assert representation.one(UserSummary, rows.user())["created_at"] == rows.CREATED_UTC
    entry = representation.one(AuditEntry, rows.audit(3, actor_id=None))
    assert (entry["table"], entry["actor_id"]) == ("vehicles", None)


def test_a_page_is_compact_utf8_json() -> None:
    body = representation.page(UserSummary, [rows.user(email="zoë@example.com")], None)
    assert b'"next_cursor":null' in body
    assert "zoë".encode() in body
    assert json.loads(body)["data"][0]["email"] == "zoë@example.com"


def test_a_page_is_the_rows_shaped_one_by_one_then_encoded() -> None:
    # page() encodes each row with pydantic; the bytes are those of encode_json, the encoding of
    # every other body (and the ETag is taken from them).
    text = 'zoë \\ " / \x00\x1f\x7f \u2028 \U0001f697 ' + "".join(map(chr, range(0x80, 0x100)))
    cases: list[tuple[type[Output], list[dict[str, Any]]]] = [
        (
            Vehicle,
            [rows.vehicle(make=text), rows.vehicle(color=None, updated_at="2026-11-25T12:00:00+02:00")],
        ),
        (MaintenanceRecord, [rows.record("5f0c3a52-8d1e-4b7a-9c61-2e4f7a9b0d13", description=text)]),
        (UserSummary, [rows.user(email=text), rows.user()]),
        (AuditEntry, [rows.audit(3, changes={"make": [text, None], "n": [1, -(2**40)], "b": [True, False]})]),
    ]
    for model, shaped in cases:
        for cursor in (None, "eyJ.abc", "zoë"):
            expected = encode_json(
                {"data": [representation.one(model, row) for row in shaped], "next_cursor": cursor}
            )
            assert representation.page(model, shaped, cursor) == expected
    assert representation.page(Vehicle, [], None) == b'{"data":[],"next_cursor":null}'
    with pytest.raises(BadGateway):
        representation.page(Vehicle, [rows.vehicle(), rows.vehicle(status="flying")], None)
