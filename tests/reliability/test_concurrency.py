"""Races over real HTTP: uniqueness, optimistic concurrency, idempotent retries and rate-limit exactness.

Each test fires its requests from a thread pool behind a barrier, so they reach the API together.
Also proven elsewhere: tests/api/test_idempotency.py (8 concurrent retries make one row),
tests/supabase/test_ratelimit.py (the shared counter admits exactly its limit at 12, 50 and 200 concurrent
callers), tests/api/test_rate_limits.py (200 concurrent logins for one email admit at most 5).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import requests

from devstack.stack_settings import StackSettings
from tests.api.conftest import Actors
from tests.factories import create_user, create_vehicle, north_american_vin
from tests.support import ApiClient, assert_problem, in_one_rate_window, random_ip

WORKERS = 20


def together(
    count: int, call: Callable[[int], requests.Response], workers: int = WORKERS
) -> list[requests.Response]:
    """Run call(0..count-1) from `workers` threads released at once; the responses in order."""
    barrier = threading.Barrier(min(count, workers))

    def run(index: int) -> requests.Response:
        if index < workers:
            barrier.wait(timeout=30)
        return call(index)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(count)))


def statuses(responses: list[requests.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def test_20_creates_with_one_vin_make_one_vehicle(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    """Twenty users race for one VIN: one 201, nineteen 409 duplicate_vin, one row."""
    vin = north_american_vin()
    users = [create_user(db, stack_settings) for _ in range(20)]
    body = {"vin": vin, "make": "Honda", "model": "Accord", "model_year": 2003}
    responses = together(20, lambda i: api.post("vehicles", json=body, headers=users[i].headers))
    assert statuses(responses) == {201: 1, 409: 19}
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "duplicate_vin")
    winner = next(r for r in responses if r.status_code == 201).json()
    rows = db.execute("select id, owner_id from public.vehicles where vin = %s", (vin,)).fetchall()
    assert [(str(i), str(o)) for i, o in rows] == [(winner["id"], winner["owner_id"])]


def test_20_patches_with_one_if_match_have_one_winner(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    """Twenty PATCHes against version 1: one 200, nineteen 412, and the row is exactly the winner's."""
    vehicle = create_vehicle(db, actors.member, color="silver", odometer_km=100)
    url = f"vehicles/{vehicle['id']}"
    etag = api.get(url, headers=actors.member.headers).headers["ETag"]

    def patch(index: int) -> requests.Response:
        body = {"color": f"color-{index}", "odometer_km": 1000 + index}
        return api.patch(url, json=body, headers={**actors.member.headers, "If-Match": etag})

    responses = together(20, patch)
    assert statuses(responses) == {200: 1, 412: 19}
    for response in responses:
        if response.status_code == 412:
            assert_problem(response, 412, "precondition_failed")
    winner = next(r for r in responses if r.status_code == 200)
    final = api.get(url, headers=actors.member.headers)
    assert final.json() == winner.json()
    assert final.headers["ETag"] == winner.headers["ETag"] == '"v2"'
    row = db.execute(
        "select color, odometer_km, version from public.vehicles where id = %s", (vehicle["id"],)
    )
    won = winner.json()
    assert row.fetchone() == (won["color"], won["odometer_km"], 2)
    audit = db.execute(
        "select count(*) from public.audit_log where record_id = %s and action = 'update'", (vehicle["id"],)
    )
    assert audit.fetchone() == (1,)  # one change happened, and one was recorded


def test_20_concurrent_idempotent_retries_make_one_vehicle(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    """Twenty retries with one key: each answer is the first response replayed or 409 in progress."""
    body = {"vin": north_american_vin(), "make": "Honda", "model": "Accord", "model_year": 2003}
    headers = {**actors.member.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    responses = together(20, lambda _: api.post("vehicles", json=body, headers=headers))
    counts = statuses(responses)
    assert set(counts) <= {201, 409}
    assert counts[201] >= 1
    created = {r.content for r in responses if r.status_code == 201}
    assert len(created) == 1  # every 201 is the same response, byte for byte
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "idempotency_in_progress")
    assert db.execute("select count(*) from public.vehicles where vin = %s", (body["vin"],)).fetchone() == (
        1,
    )
    retry = api.post("vehicles", json=body, headers=headers)
    assert (retry.status_code, retry.content) == (201, created.pop())


def test_20_concurrent_idempotent_maintenance_retries_make_one_record(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member, odometer_km=100)
    url = f"vehicles/{vehicle['id']}/maintenance"
    body = {"performed_at": "2026-01-02", "odometer_km": 500, "kind": "service"}
    headers = {**actors.member.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    responses = together(20, lambda _: api.post(url, json=body, headers=headers))
    assert set(statuses(responses)) <= {201, 409}
    assert len({r.content for r in responses if r.status_code == 201}) == 1
    count = "select count(*) from public.maintenance_records where vehicle_id = %s"
    assert db.execute(count, (vehicle["id"],)).fetchone() == (1,)
    version = db.execute("select odometer_km, version from public.vehicles where id = %s", (vehicle["id"],))
    assert version.fetchone() == (500, 2)  # the odometer was raised once


def test_200_concurrent_writes_admit_exactly_the_write_limit(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    """The write policy (60 per minute per user) under 200 concurrent calls over HTTP: exactly 60 pass.

    The body is invalid on purpose, so every admitted call is a 422 and nothing is written; a
    refused one is a 429 with Retry-After and the RateLimit headers.
    """

    def burst() -> list[requests.Response]:
        user = create_user(db, stack_settings)
        return together(200, lambda _: api.post("vehicles", json={}, headers=user.headers), workers=32)

    responses = in_one_rate_window(db, burst)
    assert statuses(responses) == {422: 60, 429: 140}
    refused = next(r for r in responses if r.status_code == 429)
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Policy"] == '"write";q=60;w=60'


def test_200_concurrent_signups_from_one_address_admit_exactly_the_auth_limit(
    api: ApiClient, db: psycopg.Connection[Any]
) -> None:
    """Other /api/auth/* routes: 20 per minute per client IP, exactly, under 200 concurrent calls."""

    def burst() -> list[requests.Response]:
        ip = random_ip()

        def signup(_: int) -> requests.Response:
            # Invalid on purpose (a short password): admitted calls are 422, and nobody is created.
            body = {"email": f"race-{uuid.uuid4().hex[:10]}@example.test", "password": "short"}
            return api.post("auth/signup", json=body, headers={"X-Forwarded-For": ip})

        return together(200, signup, workers=32)

    responses = in_one_rate_window(db, burst)
    assert statuses(responses) == {422: 20, 429: 180}
