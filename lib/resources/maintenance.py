"""Maintenance records of a vehicle: list (newest first), create and read one."""

from __future__ import annotations

from typing import Any

from lib.contract.schemas import MaintenanceCreate, PageQuery
from lib.http.conditional import conditional_response
from lib.http.problems import NotFound
from lib.http.request import Request
from lib.http.response import Response, encode_json
from lib.resources import representation
from lib.supabase import db_errors, idempotency
from lib.supabase.caller import caller_of
from lib.supabase.clients import user_client
from lib.supabase.cursor import decode_position, list_context, next_page
from lib.supabase.upstream import expect_object, expect_rows, upstream_call


def location(vehicle_id: str, record_id: str) -> str:
    """The canonical URL of a maintenance record (served by get_record)."""
    return f"/api/vehicles/{vehicle_id}/maintenance/{record_id}"


def list_records(request: Request) -> Response:
    """GET /api/vehicles/{id}/maintenance: 404 unless the caller can see the vehicle."""
    caller = caller_of(request)
    vehicle_id = request.uuid_param("id")
    query = request.args(PageQuery)
    path = f"/api/vehicles/{vehicle_id}/maintenance"
    context = list_context(path, caller=caller.user_id)
    arguments: dict[str, Any] = {"p_vehicle_id": vehicle_id, "p_limit": query.limit + 1}
    if query.cursor is not None:
        performed_at, created_at, record_id = decode_position(context, query.cursor, (str, str, str))
        arguments.update(
            {"p_after_performed_at": performed_at, "p_after_created_at": created_at, "p_after_id": record_id}
        )
    with upstream_call(db_errors.translate):
        result = user_client(caller.access_token).rpc("list_maintenance", arguments).execute()
    rows = expect_rows(result.data)
    page, next_cursor = next_page(
        rows, query.limit, context, lambda last: [last["performed_at"], last["created_at"], last["id"]]
    )
    body = encode_json(
        {"data": [representation.maintenance_record(row) for row in page], "next_cursor": next_cursor}
    )
    return conditional_response(request, body)


def create_record(request: Request) -> Response:
    """POST /api/vehicles/{id}/maintenance: 201; raises the vehicle's odometer when above it."""
    caller = caller_of(request)
    vehicle_id = request.uuid_param("id")
    record = request.body(MaintenanceCreate)
    key = idempotency.from_request(request)
    client = user_client(caller.access_token)
    arguments = {
        "p_vehicle_id": vehicle_id,
        "p_record": record.model_dump(mode="json", exclude_none=True),
        **idempotency.rpc_arguments(key),
    }
    with idempotency.remember_failures(request, key), upstream_call(db_errors.translate):
        result = client.rpc("create_maintenance_record", arguments).execute()
    outcome = expect_object(result.data)
    replayed = outcome.get("replay") is True
    if replayed and (failure := idempotency.replayed_failure(outcome)) is not None:
        return failure
    row = expect_object(outcome.get("resource"))
    headers = {"Location": location(vehicle_id, str(row.get("id")))}
    if replayed:
        headers[idempotency.REPLAYED] = "true"
    return Response(status=201, body=encode_json(representation.maintenance_record(row)), headers=headers)


def get_record(request: Request) -> Response:
    """GET /api/vehicles/{id}/maintenance/{record_id}: 200 with ETag, 304 when unchanged, else 404.

    One query as the caller: row level security shows a record only where its vehicle is
    visible, and the vehicle filter keeps a record from answering under another vehicle's URL,
    so missing, elsewhere and invisible are the same 404.
    """
    caller = caller_of(request)
    vehicle_id = request.uuid_param("id")
    record_id = request.uuid_param("record_id")
    with upstream_call(db_errors.translate):
        result = (
            user_client(caller.access_token)
            .from_("maintenance_records")
            .select("*")
            .eq("id", record_id)
            .eq("vehicle_id", vehicle_id)
            .execute()
        )
    rows = expect_rows(result.data)
    if not rows:
        raise NotFound()
    return conditional_response(request, encode_json(representation.maintenance_record(rows[0])))
