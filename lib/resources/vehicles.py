"""The vehicle routes: list, create, read, update, delete — as the caller, under RLS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.contract.outputs import Vehicle
from lib.http.conditional import conditional_response, required_versions, version_etag
from lib.http.problems import Forbidden, NotFound, PreconditionFailed
from lib.http.response import Response, empty_response, encode_json
from lib.resources import representation
from lib.resources.collection import Keyset, idempotent_create, keyset_page
from lib.supabase import db_errors
from lib.supabase.caller import Call
from lib.supabase.upstream import expect_rows, upstream_call

if TYPE_CHECKING:
    # Annotations only: the pipeline validates with the model the route names, so a request
    # that takes no input (GET one, GET /api/me) never imports the input models.
    from lib.contract.inputs import VehicleCreate, VehicleUpdate
    from lib.contract.queries import VehicleListQuery

COLLECTION = "/api/vehicles"
_FILTERS = ("status", "make", "model", "model_year", "year_min", "year_max", "owner_id", "q")
_TEXT_SORTS = ("created_at", "make")  # the other sort keys are integers


def location(vehicle_id: str) -> str:
    """The canonical URL of a vehicle."""
    return f"{COLLECTION}/{vehicle_id}"


def _vehicle_response(
    row: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = representation.one(Vehicle, row)
    return Response(
        status=status,
        body=encode_json(body),
        headers={"ETag": version_etag(int(body["version"])), **(headers or {})},
    )


# -- list ------------------------------------------------------------------


def list_vehicles(call: Call[None, VehicleListQuery]) -> Response:
    """GET /api/vehicles: a keyset page of the vehicles the caller may see."""
    query = call.query
    filters = {
        name: value
        for name, value in query.model_dump(mode="json", include=set(_FILTERS)).items()
        if value is not None
    }
    sort_key = query.sort.lstrip("-")
    keyset = Keyset(
        rpc="list_vehicles",
        position=(sort_key, "id"),
        after=("p_after", "p_after_id"),
        types=(str if sort_key in _TEXT_SORTS else int, str),
        model=Vehicle,
    )
    return keyset_page(
        call,
        keyset,
        COLLECTION,
        arguments={"p_sort": query.sort, **{f"p_{name}": value for name, value in filters.items()}},
        bound_to={"sort": query.sort, **filters},
        empty=db_errors.matches_nothing(filters),
    )


# -- create ----------------------------------------------------------------


def create_vehicle(call: Call[VehicleCreate, None]) -> Response:
    """POST /api/vehicles: 201 with Location and ETag; honours Idempotency-Key."""
    vehicle = call.body
    if vehicle.owner_id is not None and not call.caller.can("vehicles.write.any"):
        raise Forbidden("Only managers and admins may create vehicles for someone else")
    payload = vehicle.model_dump(mode="json", exclude_none=True)
    return idempotent_create(call, "create_vehicle", {"p_vehicle": payload}, location, _vehicle_response)


# -- one vehicle -----------------------------------------------------------


def _fetch(call: Call[Any, Any], vehicle_id: str) -> dict[str, Any] | None:
    with upstream_call(db_errors.translate):
        client = call.deps.user_client(call.caller.access_token)
        result = client.from_("vehicles").select("*").eq("id", vehicle_id).execute()
    rows = expect_rows(result.data)
    return rows[0] if rows else None


def get_vehicle(call: Call[None, None]) -> Response:
    """GET /api/vehicles/{id}: 200 with ETag, 304 when unchanged, 404 when invisible."""
    vehicle_id = call.request.uuid_param("id")
    row = _fetch(call, vehicle_id)
    if row is None:
        raise NotFound()
    vehicle = representation.one(Vehicle, row)
    return conditional_response(call.request, encode_json(vehicle), version_etag(int(vehicle["version"])))


def _explain_no_rows(
    call: Call[Any, Any], vehicle_id: str, permission: str
) -> NotFound | PreconditionFailed | Forbidden:
    # The write matched nothing: say why, from the caller's point of view and in
    # the contract's order (lookup, authorisation, then the precondition).
    row = _fetch(call, vehicle_id)
    if row is None:
        return NotFound()
    if row.get("owner_id") != call.caller.user_id and not call.caller.can(permission):
        return Forbidden("You may not change this vehicle")
    return PreconditionFailed("The vehicle has changed since you read it")


def _expected_versions(call: Call[Any, Any], vehicle_id: str, permission: str) -> list[int] | None:
    """The versions If-Match accepts (None: any); when none can exist, 412 only once lookup and
    authorisation pass."""
    try:
        return required_versions(call.request.header("If-Match"))
    except PreconditionFailed:
        raise _explain_no_rows(call, vehicle_id, permission) from None


def update_vehicle(call: Call[VehicleUpdate, None]) -> Response:
    """PATCH /api/vehicles/{id}: a conditional update in one statement; 412 on a stale If-Match."""
    vehicle_id = call.request.uuid_param("id")
    changes = call.body.changes()
    if "owner_id" in changes and call.caller.role != "admin":
        raise Forbidden("Only an admin may change a vehicle's owner")
    expected_versions = _expected_versions(call, vehicle_id, "vehicles.write.any")
    with upstream_call(db_errors.translate):
        client = call.deps.user_client(call.caller.access_token)
        statement = client.from_("vehicles").update(changes).eq("id", vehicle_id)
        if expected_versions is not None:
            statement = statement.in_("version", expected_versions)
        result = statement.execute()
    rows = expect_rows(result.data)
    if not rows:
        raise _explain_no_rows(call, vehicle_id, "vehicles.write.any")
    return _vehicle_response(rows[0])


def delete_vehicle(call: Call[None, None]) -> Response:
    """DELETE /api/vehicles/{id}: 204; its maintenance records go with it."""
    vehicle_id = call.request.uuid_param("id")
    expected_versions = _expected_versions(call, vehicle_id, "vehicles.delete.any")
    with upstream_call(db_errors.translate):
        client = call.deps.user_client(call.caller.access_token)
        statement = client.from_("vehicles").delete().eq("id", vehicle_id)
        if expected_versions is not None:
            statement = statement.in_("version", expected_versions)
        result = statement.execute()
    if not expect_rows(result.data):
        raise _explain_no_rows(call, vehicle_id, "vehicles.delete.any")
    return empty_response(204)
