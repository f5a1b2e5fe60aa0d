"""Database rows (as PostgREST returns them) in the API's JSON shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lib.http.problems import BadGateway


def iso_utc(value: Any) -> str:
    """A timestamp as RFC 3339 UTC with second precision, e.g. 2026-11-25T10:00:00Z."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadGateway("The database service answered with an invalid response") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vehicle(row: dict[str, Any]) -> dict[str, Any]:
    """The contract's Vehicle."""
    try:
        return {
            "id": row["id"],
            "vin": row["vin"],
            "make": row["make"],
            "model": row["model"],
            "model_year": row["model_year"],
            "plate": row["plate"],
            "color": row["color"],
            "odometer_km": row["odometer_km"],
            "status": row["status"],
            "owner_id": row["owner_id"],
            "version": row["version"],
            "created_at": iso_utc(row["created_at"]),
            "updated_at": iso_utc(row["updated_at"]),
        }
    except KeyError:
        raise BadGateway("The database service answered with an invalid response") from None


def maintenance_record(row: dict[str, Any]) -> dict[str, Any]:
    """The contract's maintenance record."""
    try:
        return {
            "id": row["id"],
            "vehicle_id": row["vehicle_id"],
            "performed_at": row["performed_at"],
            "odometer_km": row["odometer_km"],
            "kind": row["kind"],
            "description": row["description"],
            "cost_cents": row["cost_cents"],
            "currency": row["currency"],
            "created_by": row["created_by"],
            "created_at": iso_utc(row["created_at"]),
        }
    except KeyError:
        raise BadGateway("The database service answered with an invalid response") from None


def user_summary(row: dict[str, Any]) -> dict[str, Any]:
    """One row of GET /api/admin/users."""
    try:
        return {
            "id": row["id"],
            "email": row["email"],
            "role": row["role"],
            "created_at": iso_utc(row["created_at"]),
        }
    except KeyError:
        raise BadGateway("The database service answered with an invalid response") from None


def audit_entry(row: dict[str, Any]) -> dict[str, Any]:
    """One audit log entry."""
    try:
        return {
            "id": row["id"],
            "at": iso_utc(row["at"]),
            "actor_id": row["actor_id"],
            "action": row["action"],
            "table": row["table_name"],
            "record_id": row["record_id"],
            "changes": row["changes"],
        }
    except KeyError:
        raise BadGateway("The database service answered with an invalid response") from None
