"""lib.supabase.idempotency without a stack: the key, the fingerprint, replays and stored failures."""

from __future__ import annotations

from typing import Any

import pytest

from lib.http.problems import BadRequest, Conflict, RateLimited, ServiceUnavailable
from lib.supabase import idempotency
from tests.resources import fakes
from tests.resources.fakes import FakeDatabase


def keyed(key: str, body: dict[str, Any] | None = None, path: str = "/api/vehicles") -> Any:
    return idempotency.from_request(
        fakes.request("POST", path, values={"Idempotency-Key": key}, json_body=body)
    )


def test_no_header_no_key_and_a_malformed_one_is_400() -> None:
    assert idempotency.from_request(fakes.request("POST")) is None
    for bad in ("", "x" * 256, "tab\there", "é"):
        with pytest.raises(BadRequest):
            keyed(bad)


def test_the_fingerprint_is_the_method_path_and_canonical_body() -> None:
    one = keyed("k", {"a": 1, "b": 2})
    assert one == keyed("k", {"b": 2, "a": 1})
    assert one.request_hash != keyed("k", {"a": 1, "b": 3}).request_hash
    assert one.request_hash != keyed("k", {"a": 1, "b": 2}, path="/api/other").request_hash
    assert idempotency.rpc_arguments(one) == {"p_idempotency_key": "k", "p_request_hash": one.request_hash}
    assert idempotency.rpc_arguments(None) == {}


def test_a_stored_failure_replays_byte_for_byte_and_a_success_is_not_one() -> None:
    replay = idempotency.replayed_failure({"replay": True, "status": 422, "body": '{"x":1}'})
    assert replay is not None
    assert (replay.status, replay.body, replay.headers) == (422, b'{"x":1}', {"Idempotent-Replayed": "true"})
    assert replay.content_type == "application/problem+json"
    assert idempotency.replayed_failure({"replay": True, "resource": {}}) is None


def remember(error: Exception, key: Any) -> FakeDatabase:
    database = FakeDatabase()
    storing = idempotency.remember_failures(fakes.request("POST"), key, fakes.USER_ID, database.admin_client)
    with pytest.raises(type(error)), storing:
        raise error
    return database


def test_only_final_client_errors_are_stored() -> None:
    key = keyed("k", {})
    stored = remember(Conflict("taken"), key).queries
    assert [(q.target, q.admin, q.payload["p_status"]) for q in stored] == [
        ("rpc:idempotency_store", True, 409)
    ]
    assert remember(Conflict("busy", code="idempotency_in_progress"), key).queries == []
    assert remember(RateLimited(5), key).queries == []
    assert remember(ServiceUnavailable("down"), key).queries == []
    assert remember(Conflict("taken"), None).queries == []


def test_a_failure_to_store_is_not_the_callers_problem() -> None:
    def broken(query: Any) -> Any:
        raise RuntimeError("store down")

    database = FakeDatabase(broken)
    with (
        pytest.raises(Conflict),
        idempotency.remember_failures(
            fakes.request("POST"), keyed("k"), fakes.USER_ID, database.admin_client
        ),
    ):
        raise Conflict("taken")
