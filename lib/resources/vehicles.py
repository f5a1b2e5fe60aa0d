"""The vehicle routes: list, create, read, update, delete — as the caller, under RLS."""

from __future__ import annotations

from typing import Any

from lib.contract.schemas import VehicleCreate, VehicleListQuery, VehicleUpdate
from lib.http.conditional import conditional_response, required_versions, version_etag
from lib.http.problems import Forbidden, NotFound, PreconditionFailed
from lib.http.request import Request
from lib.http.response import Response, empty_response, encode_json
from lib.resources import representation
from lib.supabase import db_errors, idempotency
from lib.supabase.caller import Caller, caller_of
from lib.supabase.clients import user_client
from lib.supabase.cursor import decode_position, list_context, next_page
from lib.supabase.upstream import expect_object, expect_rows, upstream_call

COLLECTION = "/api/vehicles"
_FILTERS = ("status", "make", "model", "model_year", "year_min", "year_max", "owner_id", "q")


def location(vehicle_id: str) -> str:
    """The canonical URL of a vehicle."""
    return f"{COLLECTION}/{vehicle_id}"


def _vehicle_response(
    row: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = representation.vehicle(row)
    return Response(
        status=status,
        body=encode_json(body),
        headers={"ETag": version_etag(int(body["version"])), **(headers or {})},
    )


# -- list ------------------------------------------------------------------


def list_vehicles(request: Request) -> Response:
    """GET /api/vehicles: a keyset page of the vehicles the caller may see."""
    caller = caller_of(request)
    query = request.args(VehicleListQuery)
    filters = {
        name: value
        for name, value in query.model_dump(mode="json", include=set(_FILTERS)).items()
        if value is not None
    }
    context = list_context(COLLECTION, caller=caller.user_id, sort=query.sort, **filters)
    arguments: dict[str, Any] = {"p_sort": query.sort, "p_limit": query.limit + 1}
    arguments.update({f"p_{name}": value for name, value in filters.items()})
    if query.cursor is not None:
        sort_type = str if query.sort.lstrip("-") in ("created_at", "make") else int
        after, after_id = decode_position(context, query.cursor, (sort_type, str))
        arguments.update({"p_after": after, "p_after_id": after_id})
    if db_errors.matches_nothing(filters):
        rows: list[dict[str, Any]] = []
    else:
        with upstream_call(db_errors.translate):
            result = user_client(caller.access_token).rpc("list_vehicles", arguments).execute()
        rows = expect_rows(result.data)
    sort_key = query.sort.lstrip("-")
    page, next_cursor = next_page(rows, query.limit, context, lambda last: [last[sort_key], last["id"]])
    body = encode_json({"data": [representation.vehicle(row) for row in page], "next_cursor": next_cursor})
    return conditional_response(request, body)


# -- create ----------------------------------------------------------------


def create_vehicle(request: Request) -> Response:
    """POST /api/vehicles: 201 with Location and ETag; honours Idempotency-Key."""
    caller = caller_of(request)
    vehicle = request.body(VehicleCreate)
    if vehicle.owner_id is not None and not caller.can("vehicles.write.any"):
        raise Forbidden("Only managers and admins may create vehicles for someone else")
    key = idempotency.from_request(request)
    payload = vehicle.model_dump(mode="json", exclude_none=True)
    client = user_client(caller.access_token)
    with idempotency.remember_failures(request, key), upstream_call(db_errors.translate):
        arguments: dict[str, Any] = {"p_vehicle": payload, **idempotency.rpc_arguments(key)}
        result = client.rpc("create_vehicle", arguments).execute()
    outcome = expect_object(result.data)
    replayed = outcome.get("replay") is True
    if replayed and (failure := idempotency.replayed_failure(outcome)) is not None:
        return failure
    row = expect_object(outcome.get("resource"))
    headers = {"Location": location(str(row.get("id")))}
    if replayed:
        headers[idempotency.REPLAYED] = "true"
    return _vehicle_response(row, 201, headers)


# -- one vehicle -----------------------------------------------------------


def _fetch(caller: Caller, vehicle_id: str) -> dict[str, Any] | None:
    with upstream_call(db_errors.translate):
        result = user_client(caller.access_token).from_("vehicles").select("*").eq("id", vehicle_id).execute()
    rows = expect_rows(result.data)
    return rows[0] if rows else None


def get_vehicle(request: Request) -> Response:
    """GET /api/vehicles/{id}: 200 with ETag, 304 when unchanged, 404 when invisible."""
    caller = caller_of(request)
    vehicle_id = request.uuid_param("id")
    row = _fetch(caller, vehicle_id)
    if row is None:
        raise NotFound()
    vehicle = representation.vehicle(row)
    return conditional_response(request, encode_json(vehicle), version_etag(int(vehicle["version"])))


def _explain_no_rows(
    caller: Caller, vehicle_id: str, permission: str
) -> NotFound | PreconditionFailed | Forbidden:
    # The write matched nothing: say why, from the caller's point of view and in
    # the contract's order (lookup, authorisation, then the precondition).
    row = _fetch(caller, vehicle_id)
    if row is None:
        return NotFound()
    if row.get("owner_id") != caller.user_id and not caller.can(permission):
        return Forbidden("You may not change this vehicle")
    return PreconditionFailed("The vehicle has changed since you read it")


def _expected_versions(
    request: Request, caller: Caller, vehicle_id: str, permission: str
) -> list[int] | None:
    """The versions If-Match accepts (None: any); when none can exist, 412 only once lookup and
    authorisation pass."""
    try:
        return required_versions(request.header("If-Match"))
    except PreconditionFailed:
        raise _explain_no_rows(caller, vehicle_id, permission) from None


def update_vehicle(request: Request) -> Response:
    """PATCH /api/vehicles/{id}: a conditional update in one statement; 412 on a stale If-Match."""
    caller = caller_of(request)
    vehicle_id = request.uuid_param("id")
    changes = request.body(VehicleUpdate).changes()
    if "owner_id" in changes and caller.role != "admin":
        raise Forbidden("Only an admin may change a vehicle's owner")
    expected_versions = _expected_versions(request, caller, vehicle_id, "vehicles.write.any")
    with upstream_call(db_errors.translate):
        statement = user_client(caller.access_token).from_("vehicles").update(changes).eq("id", vehicle_id)
        if expected_versions is not None:
            statement = statement.in_("version", expected_versions)
        result = statement.execute()
    rows = expect_rows(result.data)
    if not rows:
        raise _explain_no_rows(caller, vehicle_id, "vehicles.write.any")
    return _vehicle_response(rows[0])


def delete_vehicle(request: Request) -> Response:
    """DELETE /api/vehicles/{id}: 204; its maintenance records go with it."""
    caller = caller_of(request)
    vehicle_id = request.uuid_param("id")
    expected_versions = _expected_versions(request, caller, vehicle_id, "vehicles.delete.any")
    with upstream_call(db_errors.translate):
        statement = user_client(caller.access_token).from_("vehicles").delete().eq("id", vehicle_id)
        if expected_versions is not None:
            statement = statement.in_("version", expected_versions)
        result = statement.execute()
    if not expect_rows(result.data):
        raise _explain_no_rows(caller, vehicle_id, "vehicles.delete.any")
    return empty_response(204)
