"""Rate limits over real HTTP: exactness, headers, fail-open/closed, cache headers."""

from __future__ import annotations

import hashlib
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from devstack.stack_settings import StackSettings
from tests.api.conftest import Actors
from tests.factories import User, create_user, create_vehicle, north_american_vin
from tests.support import ApiClient, Gateway, assert_problem, in_one_rate_window, random_ip

# One or more policies, as a list (login counts per IP + email and per IP).
POLICY = re.compile(r'^"(login|login_ip|auth|read|write)";q=\d+;w=\d+(, "login_ip";q=\d+;w=\d+)?$')
STATE = re.compile(r'^"(login|login_ip|auth|read|write)";r=\d+;t=\d+(, "login_ip";r=\d+;t=\d+)?$')


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


def test_rotating_a_spoofed_forwarded_for_earns_no_extra_login_attempts(
    api: ApiClient, db: psycopg.Connection[Any]
) -> None:
    # One client (one connection address) sends a new X-Forwarded-For and X-Real-IP each time,
    # as if each attempt came from elsewhere: only the platform may say where a request is from.
    def eight_attempts() -> list[int]:
        client = ApiClient(api.base_url, source=random_ip())
        body = {"email": f"target-{uuid.uuid4().hex[:8]}@example.test", "password": "wrong-password-1"}
        spoofed = [{"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"198.51.100.{n}"} for n in range(1, 9)]
        return [client.post("auth/login", json=body, headers=headers).status_code for headers in spoofed]

    assert in_one_rate_window(db, eight_attempts) == [401] * 5 + [429] * 3


def test_one_password_over_many_emails_from_one_ip_is_refused_after_30(
    api: ApiClient, db: psycopg.Connection[Any]
) -> None:
    def spray() -> tuple[list[Any], int]:
        client = ApiClient(api.base_url, source=random_ip())
        run = uuid.uuid4().hex[:8]
        responses = [
            client.post(
                "auth/login",
                json={"email": f"sprayed-{run}-{n}@example.test", "password": "Winter2026!"},
                # Rotating a spoofed header changes nothing either.
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            for n in range(32)
        ]
        elsewhere = ApiClient(api.base_url, source=random_ip()).post(
            "auth/login", json={"email": f"sprayed-{run}-x@example.test", "password": "Winter2026!"}
        )
        return responses, elsewhere.status_code

    responses, elsewhere = in_one_rate_window(db, spray)
    assert [r.status_code for r in responses] == [401] * 30 + [429] * 2
    refused = assert_problem(responses[-1], 429, "rate_limited")
    assert refused["status"] == 429
    assert responses[-1].headers["RateLimit-Policy"] == '"login_ip";q=30;w=60'
    assert 1 <= int(responses[-1].headers["Retry-After"]) <= 60
    assert responses[0].headers["RateLimit-Policy"] == '"login";q=5;w=60, "login_ip";q=30;w=60'
    assert elsewhere == 401


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


def _spend_write_budget(db: psycopg.Connection[Any], user: User) -> None:
    """Take the user's whole write window from the shared counter, as 60 earlier writes would."""
    key = "write:user:" + hashlib.sha256(user.id.encode()).hexdigest()[:32]
    db.execute("select public.rate_limit_take(%s, 60, 60, 60)", (key,))


def _vehicle() -> dict[str, Any]:
    return {"vin": north_american_vin(), "make": "Honda", "model": "Civic", "model_year": 2021}


def test_a_write_carries_the_databases_rate_limit_headers(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    def two_writes() -> list[Any]:
        user = create_user(db, stack_settings)
        return [api.post("vehicles", json=_vehicle(), headers=user.headers) for _ in range(2)]

    first, second = in_one_rate_window(db, two_writes)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.headers["RateLimit-Policy"] == '"write";q=60;w=60'
    assert re.fullmatch(r'"write";r=59;t=\d+', first.headers["RateLimit"])
    assert re.fullmatch(r'"write";r=58;t=\d+', second.headers["RateLimit"])


def test_a_spent_write_budget_is_429_before_and_in_the_database(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    def refused_writes() -> list[Any]:
        valid_first, invalid_first = create_user(db, stack_settings), create_user(db, stack_settings)
        vehicle = create_vehicle(db, valid_first)
        _spend_write_budget(db, valid_first)
        _spend_write_budget(db, invalid_first)
        return [
            api.post("vehicles", json=_vehicle(), headers=valid_first.headers),  # the database's 429
            api.patch(f"vehicles/{vehicle['id']}", json={"color": "red"}, headers=valid_first.headers),
            api.post("vehicles", json={}, headers=invalid_first.headers),  # 422 before the database
            api.put(
                f"admin/users/{invalid_first.id}/role", json={"role": "admin"}, headers=invalid_first.headers
            ),
        ]

    responses = in_one_rate_window(db, refused_writes)
    for response in responses:
        assert_problem(response, 429, "rate_limited")
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert response.headers["RateLimit-Policy"] == '"write";q=60;w=60'
        assert re.fullmatch(r'"write";r=0;t=\d+', response.headers["RateLimit"])


def test_a_refused_idempotent_create_is_not_remembered(
    api: ApiClient, db: psycopg.Connection[Any], stack_settings: StackSettings
) -> None:
    # A 429 is not the request's outcome: a retry with the same key after the window must run it.
    def refused_create() -> tuple[Any, User, str]:
        user = create_user(db, stack_settings)
        _spend_write_budget(db, user)
        key = f"k-{uuid.uuid4().hex}"
        return (
            api.post("vehicles", json=_vehicle(), headers={**user.headers, "Idempotency-Key": key}),
            user,
            key,
        )

    refused, user, key = in_one_rate_window(db, refused_create)
    assert_problem(refused, 429, "rate_limited")
    stored = db.execute(
        "select count(*) from private.idempotency_keys where user_id = %s and key = %s", (user.id, key)
    ).fetchone()
    assert stored == (0,)


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
