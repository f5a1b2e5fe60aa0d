"""Rate limits over real HTTP: exactness, headers, fail-open/closed, cache headers."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from devstack.stack import StackSettings
from tests.api.conftest import Actors
from tests.factories import create_user, create_vehicle
from tests.support import ApiClient, Gateway, assert_problem, in_one_rate_window, random_ip

POLICY = re.compile(r'^"(login|auth|read|write)";q=\d+;w=\d+$')
STATE = re.compile(r'^"(login|auth|read|write)";r=\d+;t=\d+$')


def test_200_concurrent_logins_for_one_email_admit_at_most_5(
    api: ApiClient, db: psycopg.Connection[Any]
) -> None:
    def burst() -> list[Any]:
        ip = random_ip()
        body = {"email": f"target-{uuid.uuid4().hex[:8]}@example.test", "password": "whatever-password"}
        with ThreadPoolExecutor(32) as pool:
            return list(
                pool.map(
                    lambda _: api.post("auth/login", json=body, headers={"X-Forwarded-For": ip}), range(200)
                )
            )

    responses = in_one_rate_window(db, burst)
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) <= 5
    assert statuses.count(401) + statuses.count(429) == 200
    refused = next(r for r in responses if r.status_code == 429)
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert POLICY.match(refused.headers["RateLimit-Policy"])
    assert STATE.match(refused.headers["RateLimit"])


def test_blocked_ip_and_email_stay_blocked_with_the_right_password(
    api: ApiClient, db: psycopg.Connection[Any]
) -> None:
    email = f"victim-{uuid.uuid4().hex[:8]}@example.test"
    password = "the-right-password"
    api.post(
        "auth/signup", json={"email": email, "password": password}, headers={"X-Forwarded-For": random_ip()}
    )

    def five_failures_then_the_right_password() -> Any:
        ip = random_ip()
        for _ in range(5):
            api.post(
                "auth/login",
                json={"email": email, "password": "wrong-password"},
                headers={"X-Forwarded-For": ip},
            )
        return api.post(
            "auth/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": ip}
        )

    blocked = in_one_rate_window(db, five_failures_then_the_right_password)
    assert_problem(blocked, 429, "rate_limited")
    elsewhere = api.post(
        "auth/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": random_ip()}
    )
    assert elsewhere.status_code == 200


def test_the_login_limit_keys_on_the_normalised_email_whatever_the_password(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    user = create_user(db, stack_settings, password="the-right-password")
    spellings = [user.email.upper(), f"  {user.email} ", user.email.title(), f"\t{user.email}\n", user.email]

    def five_odd_failures_then_the_right_password() -> list[Any]:
        ip = random_ip()
        failures = [
            api.post(
                "auth/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": ip}
            )
            for email, password in zip(
                spellings, ("short", "x", "x" * 100, "é", "wrong-password"), strict=True
            )
        ]
        right = {"email": user.email, "password": "the-right-password"}
        return [*failures, api.post("auth/login", json=right, headers={"X-Forwarded-For": ip})]

    responses = in_one_rate_window(db, five_odd_failures_then_the_right_password)
    assert [r.status_code for r in responses] == [401] * 5 + [429]
    assert_problem(responses[-1], 429, "rate_limited")


def test_allowed_responses_carry_headers(api: ApiClient, actors: Actors) -> None:
    response = api.get("me", headers=actors.member.headers)
    assert response.headers["RateLimit-Policy"] == '"read";q=600;w=60'
    assert STATE.match(response.headers["RateLimit"])
    write = api.post("vehicles", json={}, headers=actors.member.headers)
    assert write.headers["RateLimit-Policy"] == '"write";q=60;w=60'


def test_writes_are_limited_per_user(
    api: ApiClient, actors: Actors, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    def sixty_two_writes() -> list[int]:
        user = create_user(db, stack_settings)
        return [api.post("vehicles", json={}, headers=user.headers).status_code for _ in range(62)]

    statuses = in_one_rate_window(db, sixty_two_writes)
    assert statuses[:60] == [422] * 60
    assert statuses[60:] == [429, 429]
    assert api.post("vehicles", json={}, headers=actors.member.headers).status_code == 422


def test_reads_fail_open_when_the_limiter_is_down(
    api: ApiClient, actors: Actors, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    vehicle = create_vehicle(db, actors.member)
    gateway.fault("/rest/v1", "down", match="rpc/rate_limit_take")
    response = api.get(f"vehicles/{vehicle['id']}", headers=actors.member.headers)
    assert response.status_code == 200
    assert "RateLimit" not in response.headers


def test_auth_fails_closed_when_the_limiter_is_down(api: ApiClient, gateway: Gateway) -> None:
    gateway.fault("/rest/v1", "down", match="rpc/rate_limit_take")
    response = api.post(
        "auth/login",
        json={"email": f"x-{uuid.uuid4().hex[:6]}@example.test", "password": "long-enough-1"},
        headers={"X-Forwarded-For": random_ip()},
    )
    assert_problem(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) >= 1


def test_cache_headers_per_route(api: ApiClient, actors: Actors) -> None:
    public = "public, max-age=3600, s-maxage=86400"
    assert api.get("vin/1HGCM82633A004352").headers["Cache-Control"] == public
    assert api.get("health").headers["Cache-Control"] == "no-store"
    me = api.get("me", headers=actors.member.headers)
    assert (me.headers["Cache-Control"], me.headers["Vary"]) == (
        "private, no-cache",
        "Authorization, Cookie, Origin",
    )
    login = api.post(
        "auth/login",
        json={"email": "a@b.example", "password": "wrong-password"},
        headers={"X-Forwarded-For": random_ip()},
    )
    assert login.headers["Cache-Control"] == "no-store"
    error = api.get("vehicles", params={"limit": "0"}, headers=actors.member.headers)
    assert error.headers["Cache-Control"] == "no-store"
