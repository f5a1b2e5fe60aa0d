"""Database rows as PostgREST returns them, for the resource unit tests."""

from __future__ import annotations

from typing import Any

from tests.resources.fakes import USER_ID, new_id

CREATED = "2026-11-25T10:00:00.123456+00:00"
CREATED_UTC = "2026-11-25T10:00:00Z"


def vehicle(**overrides: Any) -> dict[str, Any]:
    """A vehicles row (with a column the API does not return)."""
    row: dict[str, Any] = {
        "id": new_id(),
        "vin": "1HGCM82633A004352",
        "make": "Honda",
        "model": "Accord",
        "model_year": 2003,
        "plate": "ABC 123",
        "color": "blue",
        "odometer_km": 12000,
        "status": "active",
        "owner_id": USER_ID,
        "version": 3,
        "created_at": CREATED,
        "updated_at": "2026-11-26T11:30:00+01:00",
        "search_text": "not part of the contract",
    }
    row.update(overrides)
    return row


def record(vehicle_id: str, **overrides: Any) -> dict[str, Any]:
    """A maintenance_records row."""
    row: dict[str, Any] = {
        "id": new_id(),
        "vehicle_id": vehicle_id,
        "performed_at": "2026-11-20",
        "odometer_km": 12500,
        "kind": "service",
        "description": "5W-30",
        "cost_cents": 8900,
        "currency": "EUR",
        "created_by": USER_ID,
        "created_at": CREATED,
    }
    row.update(overrides)
    return row


def user(**overrides: Any) -> dict[str, Any]:
    """A list_users row."""
    row: dict[str, Any] = {
        "id": new_id(),
        "email": "someone@example.com",
        "role": "member",
        "created_at": CREATED,
    }
    row.update(overrides)
    return row


def audit(entry_id: int, **overrides: Any) -> dict[str, Any]:
    """A list_audit row."""
    row: dict[str, Any] = {
        "id": entry_id,
        "at": CREATED,
        "actor_id": USER_ID,
        "action": "update",
        "table_name": "vehicles",
        "record_id": new_id(),
        "changes": {"odometer_km": [12000, 12500], "price": 12.5},
    }
    row.update(overrides)
    return row
