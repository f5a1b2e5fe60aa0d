"""Maintenance records of a vehicle: list (newest first), create and read one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.contract.outputs import MaintenanceRecord
from lib.http.conditional import conditional_response
from lib.http.problems import NotFound
from lib.http.response import Response, encode_json
from lib.resources import representation
from lib.resources.collection import Keyset, idempotent_create, keyset_page
from lib.supabase import db_errors
from lib.supabase.caller import Call
from lib.supabase.upstream import expect_rows, upstream_call

if TYPE_CHECKING:
    # annotations only, as in lib.resources.vehicles
    from lib.contract.inputs import MaintenanceCreate
    from lib.contract.queries import PageQuery

RECORDS = Keyset(
    rpc="list_maintenance",
    position=("performed_at", "created_at", "id"),
    after=("p_after_performed_at", "p_after_created_at", "p_after_id"),
    types=(str, str, str),
    model=MaintenanceRecord,
)


def location(vehicle_id: str, record_id: str) -> str:
    """The canonical URL of a maintenance record (served by get_record)."""
    return f"/api/vehicles/{vehicle_id}/maintenance/{record_id}"


def list_records(call: Call[None, PageQuery]) -> Response:
    """GET /api/vehicles/{id}/maintenance: 404 unless the caller can see the vehicle."""
    vehicle_id = call.request.uuid_param("id")
    path = f"/api/vehicles/{vehicle_id}/maintenance"
    return keyset_page(call, RECORDS, path, arguments={"p_vehicle_id": vehicle_id})


def _record_response(row: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    body = encode_json(representation.one(MaintenanceRecord, row))
    return Response(status=status, body=body, headers=headers)


def create_record(call: Call[MaintenanceCreate, None]) -> Response:
    """POST /api/vehicles/{id}/maintenance: 201; raises the vehicle's odometer when above it."""
    vehicle_id = call.request.uuid_param("id")
    arguments = {
        "p_vehicle_id": vehicle_id,
        "p_record": call.body.model_dump(mode="json", exclude_none=True),
    }

    def record_location(record_id: str) -> str:
        return location(vehicle_id, record_id)

    return idempotent_create(call, "create_maintenance_record", arguments, record_location, _record_response)


def get_record(call: Call[None, None]) -> Response:
    """GET /api/vehicles/{id}/maintenance/{record_id}: 200 with ETag, 304 when unchanged, else 404.

    One query as the caller: row level security shows a record only where its vehicle is
    visible, and the vehicle filter keeps a record from answering under another vehicle's URL,
    so missing, elsewhere and invisible are the same 404.
    """
    vehicle_id = call.request.uuid_param("id")
    record_id = call.request.uuid_param("record_id")
    with upstream_call(db_errors.translate):
        result = (
            call.deps.user_client(call.caller.access_token)
            .from_("maintenance_records")
            .select("*")
            .eq("id", record_id)
            .eq("vehicle_id", vehicle_id)
            .execute()
        )
    rows = expect_rows(result.data)
    if not rows:
        raise NotFound()
    body = encode_json(representation.one(MaintenanceRecord, rows[0]))
    return conditional_response(call.request, body)
