"""lib.resources.maintenance without a stack."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lib.contract.inputs import MaintenanceCreate
from lib.contract.queries import PageQuery
from lib.contract.validation import validate_query
from lib.http.problems import NotFound
from lib.resources import maintenance
from tests.resources import fakes, rows
from tests.resources.fakes import FakeDatabase

VEHICLE = "5f0c3a52-8d1e-4b7a-9c61-2e4f7a9b0d13"


def at(path: str, method: str = "GET", **params: str) -> Any:
    return fakes.request(method, path, {"id": VEHICLE, **params})


def test_list_is_newest_first_through_one_rpc_with_a_three_part_cursor() -> None:
    page = [rows.record(VEHICLE) for _ in range(3)]
    database = FakeDatabase(lambda query: page)
    path = f"/api/vehicles/{VEHICLE}/maintenance"
    query = validate_query(PageQuery, {"limit": "2"})
    first = maintenance.list_records(fakes.call(fakes.deps(database), query=query, req=at(path)))
    body = json.loads(first.body)
    assert [item["id"] for item in body["data"]] == [page[0]["id"], page[1]["id"]]
    assert body["data"][0]["performed_at"] == "2026-11-20"
    assert database.queries[0].payload == {"p_vehicle_id": VEHICLE, "p_limit": 3}
    query = validate_query(PageQuery, {"limit": "2", "cursor": body["next_cursor"]})
    maintenance.list_records(fakes.call(fakes.deps(database), query=query, req=at(path)))
    assert database.queries[1].payload["p_after_id"] == page[1]["id"]
    assert database.queries[1].payload["p_after_performed_at"] == "2026-11-20"


def test_create_is_201_at_the_records_own_url() -> None:
    row = rows.record(VEHICLE)
    database = FakeDatabase(lambda query: {"resource": row})
    body = {"performed_at": "2026-11-20", "odometer_km": 12500, "kind": "service"}
    request = fakes.request("POST", f"/api/vehicles/{VEHICLE}/maintenance", {"id": VEHICLE}, json_body=body)
    record = MaintenanceCreate.model_validate(body)
    response = maintenance.create_record(fakes.call(fakes.deps(database), record, req=request))
    assert response.status == 201
    assert response.headers["Location"] == f"/api/vehicles/{VEHICLE}/maintenance/{row['id']}"
    assert "ETag" not in response.headers
    assert json.loads(response.body)["created_at"] == rows.CREATED_UTC
    (query,) = database.queries
    assert query.payload["p_vehicle_id"] == VEHICLE
    assert query.payload["p_record"]["kind"] == "service"


def test_read_one_filters_by_both_ids_and_is_404_when_hidden() -> None:
    row = rows.record(VEHICLE)
    database = FakeDatabase(lambda query: [row])
    record_id = row["id"]
    request = at(f"/api/vehicles/{VEHICLE}/maintenance/{record_id}", record_id=record_id)
    response = maintenance.get_record(fakes.call(fakes.deps(database), req=request))
    assert json.loads(response.body)["id"] == record_id
    assert database.queries[0].filters == [("eq", "id", record_id), ("eq", "vehicle_id", VEHICLE)]
    with pytest.raises(NotFound):
        maintenance.get_record(fakes.call(fakes.deps(FakeDatabase()), req=request))
