"""Upstream faults: every one is a precise 5xx problem (never 500), fast, with no upstream text, and the
API recovers by itself when the upstream does.

Two kinds of fault: real ones (PostgREST and Auth processes stopped, or paused with SIGSTOP, and a
statement timeout in Postgres) and the gateway's injected ones (answers that are down, slow,
truncated, HTML, or dropped after the upstream acted). All run against the isolated stack, whose
upstream read timeout is 2 s.

Also proven elsewhere: tests/api/test_health.py (health degraded when PostgREST is down or answers
garbage), tests/api/test_idempotency.py (a create whose answer is lost, retried with its key, makes one
row), tests/api/test_rate_limits.py (reads fail open, auth fails closed when the limiter is down).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import psycopg
import pytest
import requests

from devstack.stack import Stack
from tests.factories import User, create_vehicle, north_american_vin
from tests.reliability.conftest import MAX_DURATION, READ_TIMEOUT, assert_clean_problem
from tests.support import ApiClient, Gateway, random_ip

Call = Callable[[ApiClient, User, dict[str, Any]], requests.Response]


def vehicle_body(make: str = "Honda") -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": make, "model": "Accord", "model_year": 2003}


# One call per kind of upstream work: a keyset list (RPC), a row read, an insert (RPC), an update,
# a delete, a maintenance list and create; DATA_CALL names each one's PostgREST request, so a
# fault can hit it and not the rate limiter's call before it.
CALLS: dict[str, Call] = {
    "list": lambda api, user, v: api.get("vehicles", headers=user.headers),
    "read": lambda api, user, v: api.get(f"vehicles/{v['id']}", headers=user.headers),
    "create": lambda api, user, v: api.post("vehicles", json=vehicle_body(), headers=user.headers),
    "update": lambda api, user, v: api.patch(
        f"vehicles/{v['id']}", json={"color": "red"}, headers=user.headers
    ),
    "delete": lambda api, user, v: api.delete(f"vehicles/{v['id']}", headers=user.headers),
    "records": lambda api, user, v: api.get(f"vehicles/{v['id']}/maintenance", headers=user.headers),
    "record": lambda api, user, v: api.post(
        f"vehicles/{v['id']}/maintenance",
        json={"performed_at": "2026-01-02", "odometer_km": 10, "kind": "service"},
        headers=user.headers,
    ),
}


DATA_CALL = {
    "list": "rpc/list_vehicles",
    "read": "/vehicles?",
    "create": "rpc/create_vehicle",
    "update": "/vehicles?",
    "delete": "/vehicles?",
    "records": "rpc/list_maintenance",
    "record": "rpc/create_maintenance_record",
}


def wait_until_healthy(api: ApiClient, timeout: float = 30.0) -> float:
    """Seconds until /api/health is 200 again. Raises AssertionError on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if api.get("health", timeout=5).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"the API did not recover within {timeout:.0f} s")


def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


# -- PostgREST down -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CALLS))
def test_postgrest_unreachable_is_503_with_retry_after(
    iapi: ApiClient, igateway: Gateway, idb: psycopg.Connection[Any], member: User, kind: str
) -> None:
    vehicle = create_vehicle(idb, member)
    igateway.fault("/rest/v1", "down")
    response, elapsed = timed(lambda: CALLS[kind](iapi, member, vehicle))
    assert_clean_problem(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed < READ_TIMEOUT
    igateway.clear_faults()
    assert CALLS[kind](iapi, member, vehicle).status_code in (200, 201, 204)


def test_postgrest_stopped_then_restarted(
    isolated_stack: Stack, iapi: ApiClient, idb: psycopg.Connection[Any], member: User
) -> None:
    """The PostgREST process really stopped: 503 at once, and recovery without restarting the API."""
    vehicle = create_vehicle(idb, member)
    assert isolated_stack.postgrest is not None
    isolated_stack.postgrest.stop()
    try:
        for kind in ("read", "list", "create", "update"):
            response, elapsed = timed(partial(CALLS[kind], iapi, member, vehicle))
            assert_clean_problem(response, 503, "service_unavailable")
            assert int(response.headers["Retry-After"]) >= 1
            assert elapsed < READ_TIMEOUT, kind
        health = iapi.get("health")
        assert (health.status_code, health.json()["status"]) == (503, "degraded")
    finally:
        isolated_stack.start_postgrest()
    wait_until_healthy(iapi)
    assert iapi.get(f"vehicles/{vehicle['id']}", headers=member.headers).status_code == 200


# -- PostgREST slow ----------------------------------------------------------------------------


@contextmanager
def paused(pid: int) -> Iterator[None]:
    """SIGSTOP a process for the duration of the block (SIGCONT after, whatever happens)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_postgrest_paused_is_504_well_inside_the_max_duration(
    isolated_stack: Stack, iapi: ApiClient, idb: psycopg.Connection[Any], member: User
) -> None:
    """A PostgREST that accepts connections but never answers: 504 after one read timeout, not two."""
    vehicle = create_vehicle(idb, member)
    assert isolated_stack.postgrest is not None
    assert isolated_stack.postgrest.process is not None
    other = create_vehicle(idb, member)
    with paused(isolated_stack.postgrest.process.pid):
        for kind in ("read", "create"):  # a fail-open read policy and a fail-closed write policy
            response, elapsed = timed(partial(CALLS[kind], iapi, member, vehicle))
            assert_clean_problem(response, 504, "gateway_timeout")
            assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 1.5, (kind, elapsed)
            assert elapsed < MAX_DURATION
    wait_until_healthy(iapi)
    assert iapi.get(f"vehicles/{other['id']}", headers=member.headers).status_code == 200


@pytest.mark.parametrize("kind", ["list", "read", "create", "update", "record"])
def test_postgrest_slow_answer_is_504(
    iapi: ApiClient, igateway: Gateway, idb: psycopg.Connection[Any], member: User, kind: str
) -> None:
    vehicle = create_vehicle(idb, member)
    igateway.fault("/rest/v1", "delay", seconds=READ_TIMEOUT + 1.5, remaining=1, match=DATA_CALL[kind])
    response, elapsed = timed(lambda: CALLS[kind](iapi, member, vehicle))
    assert_clean_problem(response, 504, "gateway_timeout")
    assert elapsed < READ_TIMEOUT + 1.0


def test_a_slow_rate_limiter_is_504_at_once(iapi: ApiClient, igateway: Gateway, member: User) -> None:
    """The limiter's own call timing out: 504, not 503, and no second wait (reads would fail open).

    A write the database counts never calls the limiter; one refused before the database (here
    an empty body, 422) does, to spend its unit.
    """
    for method, path in (("POST", "vehicles"), ("GET", "vehicles")):
        igateway.fault(
            "/rest/v1", "delay", seconds=READ_TIMEOUT + 1.5, remaining=1, match="rpc/rate_limit_take"
        )
        body: dict[str, Any] | None = {} if method == "POST" else None
        response, elapsed = timed(partial(iapi.request, method, path, json=body, headers=member.headers))
        assert_clean_problem(response, 504, "gateway_timeout")
        assert elapsed < READ_TIMEOUT + 1.0, (method, elapsed)


def test_statement_timeout_is_504(
    isolated_stack: Stack, iapi: ApiClient, idb: psycopg.Connection[Any]
) -> None:
    """Postgres cancels the statement (57014): 504, and the row is not there."""
    from tests.factories import create_user

    member = create_user(idb, isolated_stack.settings, "member")
    make = f"Slow-{uuid.uuid4().hex[:8]}"
    original = idb.execute(
        "select setting from pg_db_role_setting s join pg_roles r on r.oid = s.setrole,"
        " unnest(s.setconfig) as setting where r.rolname = 'authenticated' and s.setdatabase = 0"
        " and setting like 'statement_timeout=%'"
    ).fetchone()
    idb.execute(
        "create function public.reliability_slow_insert() returns trigger language plpgsql as $$"
        f" begin if new.make = '{make}' then perform pg_sleep(1.5); end if; return new; end $$"
    )
    idb.execute(
        "create trigger reliability_slow_insert before insert on public.vehicles"
        " for each row execute function public.reliability_slow_insert()"
    )
    idb.execute("alter role authenticated set statement_timeout = '500ms'")
    idb.execute("notify pgrst, 'reload config'")
    try:
        time.sleep(0.5)  # PostgREST reads the role's settings again
        body = vehicle_body(make)
        response, elapsed = timed(lambda: iapi.post("vehicles", json=body, headers=member.headers))
        assert_clean_problem(response, 504, "gateway_timeout")
        assert elapsed < READ_TIMEOUT  # Postgres gave up first, not the API's read timeout
        assert idb.execute(
            "select count(*) from public.vehicles where vin = %s", (body["vin"],)
        ).fetchone() == (0,)
        fast = iapi.post("vehicles", json=vehicle_body(), headers=member.headers)
        assert fast.status_code == 201  # only the slow statement was cancelled
    finally:
        restored = original[0].partition("=")[2] if original else "8s"
        idb.execute(f"alter role authenticated set statement_timeout = '{restored}'")
        idb.execute("notify pgrst, 'reload config'")
        idb.execute("drop trigger reliability_slow_insert on public.vehicles")
        idb.execute("drop function public.reliability_slow_insert()")


# -- PostgREST answering nonsense ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["truncate", "html"])
@pytest.mark.parametrize("kind", ["list", "read", "create", "update", "delete", "records", "record"])
def test_postgrest_nonsense_is_502(
    iapi: ApiClient, igateway: Gateway, idb: psycopg.Connection[Any], member: User, mode: str, kind: str
) -> None:
    vehicle = create_vehicle(idb, member)
    # Only the data call: the rate limiter's own call is covered by tests/api/test_rate_limits.py.
    igateway.fault("/rest/v1", mode, match=DATA_CALL[kind])
    assert_clean_problem(CALLS[kind](iapi, member, vehicle), 502, "bad_gateway")


# -- Auth down ---------------------------------------------------------------------------------


def _credentials() -> dict[str, str]:
    return {"email": f"faults-{uuid.uuid4().hex[:10]}@example.test", "password": "long-enough-password"}


@pytest.mark.parametrize("route", ["auth/login", "auth/signup", "auth/refresh"])
def test_auth_unreachable_is_503(iapi: ApiClient, igateway: Gateway, route: str) -> None:
    igateway.fault("/auth/v1", "down")
    body = {"refresh_token": "x" * 20} if route == "auth/refresh" else _credentials()
    response, elapsed = timed(lambda: iapi.post(route, json=body, headers={"X-Forwarded-For": random_ip()}))
    assert_clean_problem(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed < READ_TIMEOUT


def test_auth_stopped_then_restarted(isolated_stack: Stack, iapi: ApiClient) -> None:
    credentials = _credentials()
    ip = {"X-Forwarded-For": random_ip()}
    assert iapi.post("auth/signup", json=credentials, headers=ip).status_code == 201
    process = isolated_stack.children.pop("auth")
    process.terminate()
    process.wait(10)
    try:
        response = iapi.post("auth/login", json=credentials, headers={"X-Forwarded-For": random_ip()})
        assert_clean_problem(response, 503, "service_unavailable")
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        isolated_stack._spawn_auth()
    login = iapi.post("auth/login", json=credentials, headers={"X-Forwarded-For": random_ip()})
    assert login.status_code == 200, login.text


@pytest.mark.parametrize("mode", ["html", "truncate"])
def test_auth_nonsense_is_502(iapi: ApiClient, igateway: Gateway, mode: str) -> None:
    igateway.fault("/auth/v1", mode)
    response = iapi.post("auth/login", json=_credentials(), headers={"X-Forwarded-For": random_ip()})
    assert_clean_problem(response, 502, "bad_gateway")


def test_auth_slow_is_504(iapi: ApiClient, igateway: Gateway) -> None:
    igateway.fault("/auth/v1", "delay", seconds=READ_TIMEOUT + 1.5, remaining=1)
    response, elapsed = timed(
        lambda: iapi.post("auth/login", json=_credentials(), headers={"X-Forwarded-For": random_ip()})
    )
    assert_clean_problem(response, 504, "gateway_timeout")
    assert elapsed < READ_TIMEOUT + 1.0


# -- answers lost after the upstream acted -----------------------------------------------------


def test_dropped_answer_after_a_maintenance_record_committed_then_retry_makes_one_row(
    iapi: ApiClient, igateway: Gateway, idb: psycopg.Connection[Any], member: User
) -> None:
    """The vehicle case is tests/api/test_idempotency.py; this is the same for maintenance records."""
    vehicle = create_vehicle(idb, member, odometer_km=100)
    url = f"vehicles/{vehicle['id']}/maintenance"
    body = {"performed_at": "2026-01-02", "odometer_km": 150, "kind": "repair"}
    headers = {**member.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    igateway.fault("/rest/v1", "drop", remaining=1, match="rpc/create_maintenance_record")
    lost = iapi.post(url, json=body, headers=headers)
    assert_clean_problem(lost, 502, "bad_gateway")
    count = "select count(*) from public.maintenance_records where vehicle_id = %s"
    assert idb.execute(count, (vehicle["id"],)).fetchone() == (1,)  # committed before the drop
    retry = iapi.post(url, json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert idb.execute(count, (vehicle["id"],)).fetchone() == (1,)
    odometer = idb.execute("select odometer_km, version from public.vehicles where id = %s", (vehicle["id"],))
    assert odometer.fetchone() == (150, 2)  # raised once, not twice


def test_dropped_answer_without_a_key_is_502_and_the_retry_is_a_new_request(
    iapi: ApiClient, igateway: Gateway, idb: psycopg.Connection[Any], member: User
) -> None:
    """Without Idempotency-Key a retry cannot be recognised: the duplicate VIN says the first one landed."""
    body = vehicle_body()
    igateway.fault("/rest/v1", "drop", remaining=1, match="rpc/create_vehicle")
    assert_clean_problem(iapi.post("vehicles", json=body, headers=member.headers), 502, "bad_gateway")
    assert_clean_problem(iapi.post("vehicles", json=body, headers=member.headers), 409, "duplicate_vin")
    assert idb.execute("select count(*) from public.vehicles where vin = %s", (body["vin"],)).fetchone() == (
        1,
    )
