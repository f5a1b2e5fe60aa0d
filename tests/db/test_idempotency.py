"""Idempotency keys: create_vehicle / create_maintenance_record and the lookup/store helpers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.db.conftest import Db, fetch_all, fetch_one, transaction_as
from tests.db.rest import Rest, assert_error, rows
from tests.factories import User, create_vehicle, north_american_vin


def vehicle_fields(**fields: Any) -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": "Volvo", "model": "V70", "model_year": 2016, **fields}


def create(client: Rest, vehicle: dict[str, Any], key: str | None = "k1", request_hash: str = "h1") -> Any:
    return client.rpc(
        "create_vehicle", {"p_vehicle": vehicle, "p_idempotency_key": key, "p_request_hash": request_hash}
    )


def vehicles_with_vin(db: Db, vin: str) -> list[dict[str, Any]]:
    return fetch_all(db, "select * from public.vehicles where vin = %s", (vin,))


def stored_key(db: Db, user: User, key: str) -> dict[str, Any] | None:
    return fetch_one(
        db, "select * from private.idempotency_keys where user_id = %s and key = %s", (user.id, key)
    )


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


# -- create_vehicle ---------------------------------------------------------------------------------


def test_first_call_creates_and_the_retry_replays(db: Db, owner: User, client: Rest) -> None:
    vehicle = vehicle_fields()
    first = ok(create(client, vehicle))
    assert (first["replay"], first["status"]) == (False, 201)
    resource = first["resource"]
    assert (resource["vin"], resource["owner_id"], resource["version"]) == (vehicle["vin"], owner.id, 1)
    assert len(vehicles_with_vin(db, vehicle["vin"])) == 1
    key = stored_key(db, owner, "k1")
    assert key is not None
    assert (key["request_hash"], key["status"], key["resource"]) == ("h1", 201, resource)

    second = ok(create(client, vehicle))
    assert (second["replay"], second["status"], second["resource"]) == (True, 201, resource)
    assert len(vehicles_with_vin(db, vehicle["vin"])) == 1
    # The replay is the first response even after the vehicle changed since.
    rows(client.update("vehicles", {"color": "black"}, {"id": f"eq.{resource['id']}"}))
    assert ok(create(client, vehicle))["resource"] == resource


def test_same_key_with_another_request_is_vi422(db: Db, owner: User, client: Rest) -> None:
    vehicle = vehicle_fields()
    ok(create(client, vehicle))
    other = vehicle_fields()
    body = assert_error(create(client, other, request_hash="h2"), 400, "VI422")
    assert body["hint"] == "idempotency_key_reused"
    assert vehicles_with_vin(db, other["vin"]) == []
    assert len(vehicles_with_vin(db, vehicle["vin"])) == 1


def test_keys_are_scoped_to_the_user(
    db: Db, owner: User, client: Rest, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    mine, theirs = vehicle_fields(), vehicle_fields()
    first = ok(create(client, mine))
    other_user = make_user("member")
    second = ok(create(rest(other_user), theirs))
    assert second["replay"] is False
    assert second["resource"]["owner_id"] == other_user.id
    assert second["resource"]["id"] != first["resource"]["id"]
    # And another user's different hash under the same key is no conflict either.
    third = ok(create(rest(make_user("member")), vehicle_fields(), request_hash="other"))
    assert third["replay"] is False


def test_without_a_key_every_call_creates(db: Db, owner: User, client: Rest) -> None:
    first, second = vehicle_fields(), vehicle_fields()
    assert ok(create(client, first, key=None))["replay"] is False
    assert ok(create(client, second, key=None))["replay"] is False
    assert fetch_all(db, "select key from private.idempotency_keys where user_id = %s", (owner.id,)) == []


def test_failed_create_stores_nothing(
    db: Db, owner: User, client: Rest, make_user: Callable[..., User]
) -> None:
    # A member creating for someone else is refused by RLS; the key stays unused.
    vehicle = vehicle_fields(owner_id=make_user("member").id)
    assert_error(create(client, vehicle), 403, "42501")
    assert stored_key(db, owner, "k1") is None
    assert vehicles_with_vin(db, vehicle["vin"]) == []
    retry = ok(create(client, vehicle_fields()))
    assert retry["replay"] is False


def test_manager_creates_for_another_owner_with_a_key(
    db: Db, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    manager, member = make_user("manager"), make_user("member")
    created = ok(create(rest(manager), vehicle_fields(owner_id=member.id)))
    assert created["resource"]["owner_id"] == member.id
    assert stored_key(db, manager, "k1") is not None


def test_a_request_in_progress_is_vi409(
    db: Db,
    owner: User,
    client: Rest,
    connect: Callable[[], Db],
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
) -> None:
    vehicle = vehicle_fields()
    conn = connect()
    with transaction_as(conn, owner):
        assert conn.execute("select private.idempotency_begin('k1', 'h1')").fetchone() == (None,)
        body = assert_error(create(client, vehicle), 400, "VI409")
        assert body["hint"] == "idempotency_in_progress"
        # Another key of the same user, and the same key of another user, are not blocked.
        assert ok(create(client, vehicle_fields(), key="k2"))["replay"] is False
        assert ok(create(rest(make_user("member")), vehicle_fields()))["replay"] is False
    assert vehicles_with_vin(db, vehicle["vin"]) == []
    # Once the first transaction has ended, the retry goes through.
    assert ok(create(client, vehicle))["replay"] is False


def test_expired_keys_are_treated_as_absent(db: Db, owner: User, client: Rest) -> None:
    first = ok(create(client, vehicle_fields()))
    db.execute(
        "update private.idempotency_keys set expires_at = now() - interval '1 second'"
        " where user_id = %s and key = 'k1'",
        (owner.id,),
    )
    # Even another hash is no conflict now: a fresh create, and the key is stored anew.
    second = ok(create(client, vehicle_fields(), request_hash="h2"))
    assert second["replay"] is False
    assert second["resource"]["id"] != first["resource"]["id"]
    key = stored_key(db, owner, "k1")
    assert key is not None
    assert (key["request_hash"], key["resource"]["id"]) == ("h2", second["resource"]["id"])


def test_key_length_is_checked(db: Db, owner: User, client: Rest) -> None:
    vehicle = vehicle_fields()
    assert_error(create(client, vehicle, key="x" * 256), 400, "23514")
    assert vehicles_with_vin(db, vehicle["vin"]) == []
    assert ok(create(client, vehicle, key="x" * 255))["replay"] is False


def test_anon_cannot_use_the_functions(rest: Callable[[User | str], Rest]) -> None:
    anon = rest("anon")
    for function, args in (
        ("create_vehicle", {"p_vehicle": vehicle_fields()}),
        ("create_maintenance_record", {"p_vehicle_id": str(uuid.uuid4()), "p_record": {}}),
        ("idempotency_store", store_args(str(uuid.uuid4()), "k", 422, "{}")),
    ):
        assert_error(anon.rpc(function, args), 401, "42501")


# -- idempotency_store: the API's, with the secret key -------------------------------------------


def store_args(user_id: str, key: str, status: int, body: str, request_hash: str = "h1") -> dict[str, Any]:
    """idempotency_store's arguments."""
    return {
        "p_user_id": user_id,
        "p_key": key,
        "p_request_hash": request_hash,
        "p_status": status,
        "p_body": body,
    }


def test_the_service_role_stores_a_failure_that_a_create_then_replays(
    db: Db, owner: User, client: Rest, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    service = rest("service")
    problem = json.dumps({"status": 422, "code": "validation_error", "request_id": "r-1"})
    stored = service.rpc("idempotency_store", store_args(owner.id, "s1", 422, problem))
    assert stored.status_code == 204, stored.text
    # First response wins.
    service.rpc("idempotency_store", store_args(owner.id, "s1", 409, "{}"))
    key = stored_key(db, owner, "s1")
    assert key is not None
    assert (key["status"], key["body"]) == (422, problem)
    # A create with the stored key replays the stored failure and creates nothing.
    vehicle = vehicle_fields()
    expected = {"replay": True, "status": 422, "resource": None, "body": problem}
    assert ok(create(client, vehicle, key="s1")) == expected
    assert vehicles_with_vin(db, vehicle["vin"]) == []
    # Keys belong to their user.
    assert ok(create(rest(make_user("member")), vehicle, key="s1"))["replay"] is False


@pytest.mark.parametrize("status", [200, 201, 399, 500, 503])
def test_store_only_takes_final_client_errors(
    db: Db, owner: User, rest: Callable[[User | str], Rest], status: int
) -> None:
    response = rest("service").rpc("idempotency_store", store_args(owner.id, "s2", status, "{}"))
    assert_error(response, 400, "22023")
    assert stored_key(db, owner, "s2") is None


def test_store_refuses_bodies_over_16_kib(db: Db, owner: User, rest: Callable[[User | str], Rest]) -> None:
    response = rest("service").rpc("idempotency_store", store_args(owner.id, "s3", 422, "x" * 16385))
    assert_error(response, 400, "22023")
    assert stored_key(db, owner, "s3") is None


def test_users_cannot_write_or_read_the_bookkeeping_directly(db: Db, owner: User, client: Rest) -> None:
    # Before, any user could store 15 MB bodies for 24 hours, four calls at a time.
    before = fetch_one(
        db, "select count(*) as n, coalesce(sum(octet_length(body)), 0) as size from private.idempotency_keys"
    )
    big = "x" * 1_000_000
    assert_error(client.rpc("idempotency_store", store_args(owner.id, "b1", 422, big)), 403, "42501")
    legacy = {"p_key": "b2", "p_request_hash": "h", "p_status": 422, "p_body": big}
    assert client.rpc("idempotency_store", legacy).status_code == 404  # the user-callable form is gone
    assert client.rpc("idempotency_lookup", {"p_key": "k1", "p_request_hash": "h1"}).status_code == 404
    for function in ("idempotency_find", "idempotency_begin", "idempotency_complete"):
        assert client.rpc(function, {}).status_code == 404  # private: not exposed at all
    executable = fetch_all(
        db,
        "select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'public' and p.proname like 'idempotency%%'"
        " and has_function_privilege('authenticated', p.oid, 'execute')",
    )
    assert executable == []
    after = fetch_one(
        db, "select count(*) as n, coalesce(sum(octet_length(body)), 0) as size from private.idempotency_keys"
    )
    assert after == before


# -- create_maintenance_record --------------------------------------------------------------------


def create_record(
    client: Rest, vehicle_id: Any, record: dict[str, Any], key: str | None = "m1", request_hash: str = "h1"
) -> Any:
    return client.rpc(
        "create_maintenance_record",
        {
            "p_vehicle_id": str(vehicle_id),
            "p_record": record,
            "p_idempotency_key": key,
            "p_request_hash": request_hash,
        },
    )


RECORD = {"performed_at": "2026-04-01", "odometer_km": 2500, "kind": "inspection", "description": "TÜV"}


def records_of(db: Db, vehicle_id: Any) -> list[dict[str, Any]]:
    return fetch_all(db, "select * from public.maintenance_records where vehicle_id = %s", (vehicle_id,))


def test_record_first_call_creates_and_the_retry_replays(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner, odometer_km=1000)
    first = ok(create_record(client, vehicle["id"], RECORD))
    assert (first["replay"], first["status"]) == (False, 201)
    resource = first["resource"]
    assert (resource["created_by"], resource["currency"], resource["odometer_km"]) == (owner.id, "USD", 2500)
    second = ok(create_record(client, vehicle["id"], RECORD))
    assert (second["replay"], second["resource"]) == (True, resource)
    assert len(records_of(db, vehicle["id"])) == 1
    after = fetch_one(db, "select odometer_km, version from public.vehicles where id = %s", (vehicle["id"],))
    assert after == {"odometer_km": 2500, "version": 2}


def test_record_same_key_other_request_is_vi422(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner)
    ok(create_record(client, vehicle["id"], RECORD))
    assert_error(
        create_record(client, vehicle["id"], {**RECORD, "kind": "repair"}, request_hash="h2"), 400, "VI422"
    )
    assert len(records_of(db, vehicle["id"])) == 1


def test_record_keys_are_scoped_to_the_user(
    db: Db, owner: User, client: Rest, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    vehicle = create_vehicle(db, owner)
    manager = make_user("manager")
    ok(create_record(client, vehicle["id"], RECORD))
    other = ok(create_record(rest(manager), vehicle["id"], RECORD))
    assert other["replay"] is False
    assert other["resource"]["created_by"] == manager.id
    assert len(records_of(db, vehicle["id"])) == 2


def test_record_for_an_invisible_vehicle_is_vn404(
    db: Db, owner: User, client: Rest, make_user: Callable[..., User]
) -> None:
    theirs = create_vehicle(db, make_user("member"))
    assert_error(create_record(client, theirs["id"], RECORD), 400, "VN404")
    assert_error(create_record(client, uuid.uuid4(), RECORD, key=None), 400, "VN404")
    assert records_of(db, theirs["id"]) == []
    assert stored_key(db, owner, "m1") is None


def test_record_in_progress_is_vi409(db: Db, owner: User, client: Rest, connect: Callable[[], Db]) -> None:
    vehicle = create_vehicle(db, owner)
    conn = connect()
    with transaction_as(conn, owner):
        conn.execute("select private.idempotency_begin('m1', 'h1')")
        assert_error(create_record(client, vehicle["id"], RECORD), 400, "VI409")
    assert records_of(db, vehicle["id"]) == []
    assert ok(create_record(client, vehicle["id"], RECORD))["replay"] is False


def test_record_expired_key_is_absent(db: Db, owner: User, client: Rest) -> None:
    vehicle = create_vehicle(db, owner)
    ok(create_record(client, vehicle["id"], RECORD))
    db.execute(
        "update private.idempotency_keys set expires_at = now() - interval '1 hour' where user_id = %s",
        (owner.id,),
    )
    assert ok(create_record(client, vehicle["id"], RECORD, request_hash="h2"))["replay"] is False
    assert len(records_of(db, vehicle["id"])) == 2
