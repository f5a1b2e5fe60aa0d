"""lib.resources.vehicles without a stack: what each handler asks the database and answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lib.contract.inputs import VehicleCreate, VehicleUpdate
from lib.contract.queries import VehicleListQuery
from lib.contract.validation import validate_query
from lib.http.problems import ApiError, BadGateway, BadRequest, Forbidden, NotFound, PreconditionFailed
from lib.http.response import Response
from lib.resources import vehicles
from lib.supabase.caller import Call
from lib.supabase.rest import RestError
from tests.resources import fakes, rows
from tests.resources.fakes import FakeDatabase, Query


def listing(database: FakeDatabase, role: str = "member", **params: str) -> Any:
    query = validate_query(VehicleListQuery, params)
    return vehicles.list_vehicles(fakes.call(fakes.deps(database), query=query, role=role))


def test_a_list_is_one_rpc_as_the_caller_and_a_page_in_the_contracts_shape() -> None:
    page = [rows.vehicle(), rows.vehicle()]
    database = FakeDatabase(lambda query: page)
    response = listing(database, limit="5", make="Honda")
    (query,) = database.queries
    assert (query.target, query.token) == ("rpc:list_vehicles", f"token-of-{fakes.USER_ID}")
    assert query.payload == {"p_limit": 6, "p_sort": "-created_at", "p_make": "Honda"}
    body = json.loads(response.body)
    assert body["next_cursor"] is None
    assert body["data"][0]["created_at"] == rows.CREATED_UTC
    assert body["data"][0]["updated_at"] == "2026-11-26T10:30:00Z"
    assert "search_text" not in body["data"][0]
    assert response.headers["ETag"]


def test_a_full_page_links_the_next_and_the_cursor_is_bound_to_the_list() -> None:
    page = [rows.vehicle(make=f"Make{n}") for n in range(3)]
    database = FakeDatabase(lambda query: page)
    cursor = json.loads(listing(database, limit="2", sort="make").body)["next_cursor"]
    assert cursor is not None
    listing(database, limit="2", sort="make", cursor=cursor)
    assert database.queries[-1].payload["p_after"] == "Make1"
    assert database.queries[-1].payload["p_after_id"] == page[1]["id"]
    with pytest.raises(BadRequest) as other_list:
        listing(database, limit="2", sort="-make", cursor=cursor)
    assert other_list.value.code == "invalid_cursor"


def test_a_filter_no_row_can_match_asks_the_database_nothing() -> None:
    database = FakeDatabase()
    body = json.loads(listing(database, q="a\x00b").body)
    assert body == {"data": [], "next_cursor": None}
    assert database.queries == []


def test_a_malformed_row_is_502() -> None:
    database = FakeDatabase(lambda query: [rows.vehicle(created_at="yesterday")])
    with pytest.raises(BadGateway):
        listing(database)
    database = FakeDatabase(lambda query: [{"id": fakes.new_id()}])
    with pytest.raises(BadGateway):
        listing(database)


def creating(database: FakeDatabase, body: dict[str, Any], role: str = "member", **headers: str) -> Any:
    request = fakes.request("POST", "/api/vehicles", values=headers, json_body=body)
    vehicle = VehicleCreate.model_validate(body)
    return vehicles.create_vehicle(fakes.call(fakes.deps(database), vehicle, role=role, req=request))


NEW = {"vin": "1HGCM82633A004352", "make": "Honda", "model": "Accord", "model_year": 2003}


def test_create_is_201_with_location_and_etag() -> None:
    row = rows.vehicle()
    database = FakeDatabase(lambda query: {"resource": row})
    response = creating(database, NEW)
    assert response.status == 201
    assert response.headers["Location"] == f"/api/vehicles/{row['id']}"
    assert response.headers["ETag"] == '"v3"'
    (query,) = database.queries
    assert query.target == "rpc:create_vehicle"
    assert query.payload["p_vehicle"]["vin"] == NEW["vin"]
    assert "p_idempotency_key" not in query.payload


def test_a_member_may_not_create_for_someone_else() -> None:
    database = FakeDatabase()
    with pytest.raises(Forbidden):
        creating(database, {**NEW, "owner_id": fakes.OTHER_ID})
    assert database.queries == []
    database = FakeDatabase(lambda query: {"resource": rows.vehicle(owner_id=fakes.OTHER_ID)})
    assert creating(database, {**NEW, "owner_id": fakes.OTHER_ID}, role="manager").status == 201


def test_an_idempotent_replay_says_so_and_a_stored_failure_is_replayed_as_sent() -> None:
    row = rows.vehicle()
    database = FakeDatabase(lambda query: {"replay": True, "resource": row})
    replayed = creating(database, NEW, **{"Idempotency-Key": "k-1"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert database.queries[0].payload["p_idempotency_key"] == "k-1"
    stored = {"replay": True, "status": 409, "body": '{"code":"duplicate_vin"}'}
    failure = creating(FakeDatabase(lambda query: stored), NEW, **{"Idempotency-Key": "k-1"})
    assert (failure.status, failure.body) == (409, b'{"code":"duplicate_vin"}')
    with pytest.raises(BadRequest):
        creating(FakeDatabase(), NEW, **{"Idempotency-Key": "\x7f"})


def test_a_final_client_error_is_stored_for_the_key_with_the_secret_key_client() -> None:
    def answer(query: Query) -> Any:
        if query.target == "rpc:create_vehicle":
            raise RestError({"code": "23505", "message": 'violates unique constraint "vehicles_vin_key"'})
        return None

    database = FakeDatabase(answer)
    with pytest.raises(ApiError) as refused:
        creating(database, NEW, **{"Idempotency-Key": "k-2"})
    assert refused.value.status == 409
    stored = database.queries[-1]
    assert (stored.target, stored.admin) == ("rpc:idempotency_store", True)
    assert stored.payload["p_user_id"] == fakes.USER_ID
    assert stored.payload["p_status"] == 409


def one(
    database: FakeDatabase, method: str = "GET", body: Any = None, role: str = "member", **headers: str
) -> Any:
    vehicle_id = "5f0c3a52-8d1e-4b7a-9c61-2e4f7a9b0d13"
    request = fakes.request(method, f"/api/vehicles/{vehicle_id}", {"id": vehicle_id}, headers)
    handler: dict[str, Callable[[Call[Any, Any]], Response]] = {
        "GET": vehicles.get_vehicle,
        "PATCH": vehicles.update_vehicle,
        "DELETE": vehicles.delete_vehicle,
    }
    return handler[method](fakes.call(fakes.deps(database), body, role=role, req=request))


def test_read_one_with_etag_and_304() -> None:
    row = rows.vehicle()
    database = FakeDatabase(lambda query: [row])
    response = one(database)
    assert (response.status, response.headers["ETag"]) == (200, '"v3"')
    assert database.queries[0].filters == [("eq", "id", "5f0c3a52-8d1e-4b7a-9c61-2e4f7a9b0d13")]
    assert one(database, **{"If-None-Match": '"v3"'}).status == 304
    with pytest.raises(NotFound):
        one(FakeDatabase())


def test_a_path_id_that_is_no_uuid_is_404_without_a_query() -> None:
    database = FakeDatabase()
    request = fakes.request("GET", "/api/vehicles/nope", {"id": "nope"})
    with pytest.raises(NotFound):
        vehicles.get_vehicle(fakes.call(fakes.deps(database), req=request))
    assert database.queries == []


def test_update_is_conditional_and_explains_a_miss() -> None:
    row = rows.vehicle(version=4)
    database = FakeDatabase(lambda query: [row])
    changes = VehicleUpdate.model_validate({"color": "red"})
    response = one(database, "PATCH", changes, **{"If-Match": '"v3"'})
    assert response.headers["ETag"] == '"v4"'
    update = database.queries[0]
    assert (update.action, update.payload) == ("update", {"color": "red"})
    assert ("in", "version", [3]) in update.filters
    # Nothing matched: the vehicle exists and is the caller's, so the version was stale.
    answers = iter([[], [rows.vehicle()]])
    with pytest.raises(PreconditionFailed):
        one(FakeDatabase(lambda query: next(answers)), "PATCH", changes, **{"If-Match": '"v3"'})
    answers = iter([[], [rows.vehicle(owner_id=fakes.OTHER_ID)]])
    with pytest.raises(Forbidden):
        one(FakeDatabase(lambda query: next(answers)), "PATCH", changes)
    with pytest.raises(NotFound):
        one(FakeDatabase(), "PATCH", changes)


def test_only_an_admin_changes_the_owner() -> None:
    changes = VehicleUpdate.model_validate({"owner_id": fakes.OTHER_ID})
    with pytest.raises(Forbidden):
        one(FakeDatabase(), "PATCH", changes, role="manager")
    assert one(FakeDatabase(lambda query: [rows.vehicle()]), "PATCH", changes, role="admin").status == 200


def test_delete_is_204_and_404_when_nothing_was_deleted() -> None:
    database = FakeDatabase(lambda query: [rows.vehicle()])
    assert one(database, "DELETE").status == 204
    assert database.queries[0].action == "delete"
    with pytest.raises(NotFound):
        one(FakeDatabase(), "DELETE")
