"""The limiter: local batches never exceed the shared grant; the shared counter is exact."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devstack.stack import Stack
from lib.config import RateLimit, resolve_settings
from lib.http.problems import GatewayTimeout, NotFound, RateLimited, ValidationFailed
from lib.http.request import Request
from lib.supabase.clients import _capture_rate_headers
from lib.supabase.ratelimit import (
    Grant,
    Limiter,
    counted_in_database,
    enforce,
    headers,
    limit_for,
    policy_key,
)
from lib.supabase.transport import Response
from lib.supabase.upstream import map_api_error


class FakeCounter:
    """A shared counter with a fixed window, driven by an injected clock."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.calls = 0
        self.used: dict[tuple[str, int], int] = {}

    def take(self, key: str, limit: RateLimit, cost: int) -> Grant:
        self.calls += 1
        window = int(self.clock[0] // limit.window)
        used = self.used.get((key, window), 0)
        granted = max(0, min(cost, limit.limit - used))
        self.used[(key, window)] = used + granted
        reset = max(1, math.ceil((window + 1) * limit.window - self.clock[0]))  # as the SQL does
        return Grant(granted, limit.limit - used - granted, reset)


def test_batches_spend_locally_and_never_exceed_the_limit() -> None:
    clock = [1000.0]
    counter = FakeCounter(clock)
    limiter = Limiter(counter.take, clock=lambda: clock[0])
    limit = RateLimit(100, 60)
    admitted = sum(limiter.check("k", limit, batch=10)[0] for _ in range(150))
    assert admitted == 100
    assert counter.calls <= 12  # ten batches of ten, then refusals


class RecordingCounter(FakeCounter):
    """A FakeCounter that also records the size of every reservation."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__(clock)
        self.costs: list[int] = []

    def take(self, key: str, limit: RateLimit, cost: int) -> Grant:
        self.costs.append(cost)
        return super().take(key, limit, cost)


def test_reservations_start_small_and_double_up_to_the_batch() -> None:
    clock = [0.0]
    counter = RecordingCounter(clock)
    limiter = Limiter(counter.take, clock=lambda: clock[0])
    for _ in range(100):
        assert limiter.check("k", RateLimit(600, 60), batch=30)[0]
    assert counter.costs == [4, 8, 16, 30, 30, 30]  # 4 + 8 + 16 + 30 + 30 >= 100 > 4 + 8 + 16 + 30
    clock[0] = 60.0  # a new window starts small again
    limiter.check("k", RateLimit(600, 60), batch=30)
    assert counter.costs[-1] == 4


def test_instances_that_served_one_read_strand_almost_nothing() -> None:
    # On Vercel each function is its own set of instances: forty of them serving one
    # read each for the same user must leave that user's quota almost whole.
    clock = [0.0]
    counter = FakeCounter(clock)
    limit = RateLimit(600, 60)
    instances = [Limiter(counter.take, clock=lambda: clock[0]) for _ in range(40)]
    assert all(instance.check("k", limit, batch=30)[0] for instance in instances)
    reserved = counter.used[("k", 0)]
    assert reserved == 40 * 4
    one_more = Limiter(counter.take, clock=lambda: clock[0])
    assert sum(one_more.check("k", limit, batch=30)[0] for _ in range(600)) == limit.limit - reserved


def test_window_rollover_with_an_injected_clock() -> None:
    clock = [1000.0]
    counter = FakeCounter(clock)
    limiter = Limiter(counter.take, clock=lambda: clock[0])
    limit = RateLimit(3, 60)
    assert [limiter.check("k", limit)[0] for _ in range(4)] == [True, True, True, False]
    allowed, remaining, reset = limiter.check("k", limit)
    assert (allowed, remaining) == (False, 0)
    assert 1 <= reset <= 60
    clock[0] += reset
    assert limiter.check("k", limit)[0] is True


def test_keys_are_independent() -> None:
    clock = [0.0]
    limiter = Limiter(FakeCounter(clock).take, clock=lambda: clock[0])
    limit = RateLimit(1, 60)
    assert limiter.check("a", limit)[0]
    assert limiter.check("b", limit)[0]
    assert not limiter.check("a", limit)[0]


def test_local_allowance_expires_with_the_window() -> None:
    clock = [59.0]
    counter = FakeCounter(clock)
    limiter = Limiter(counter.take, clock=lambda: clock[0])
    limit = RateLimit(100, 60)
    limiter.check("k", limit, batch=10)
    clock[0] = 61.0  # the reserved units belonged to the previous window
    limiter.check("k", limit, batch=10)
    assert counter.calls == 2


def test_reserved_units_are_never_spent_in_the_next_window() -> None:
    clock = [58.5]
    counter = FakeCounter(clock)
    limiter = Limiter(counter.take, clock=lambda: clock[0])
    limit = RateLimit(100, 60)
    limiter.check("k", limit, batch=10)  # reserves 4 units of window 0; reset rounds 1.5 s up to 2
    clock[0] = 60.2
    limiter.check("k", limit, batch=10)
    assert counter.calls == 2  # window 1 reserved its own units
    assert counter.used[("k", 1)] == 4


def test_header_format() -> None:
    assert headers("read", RateLimit(600, 60), 599, 42) == {
        "RateLimit-Policy": '"read";q=600;w=60',
        "RateLimit": '"read";r=599;t=42',
    }


def _login(ip: str, email: str) -> Request:
    return Request("POST", "/api/auth/login", {}, {}, Message(), "id", ip, json_body={"email": email})


def test_login_counts_per_ip_whatever_the_email_and_per_ip_and_email() -> None:
    clock = [0.0]
    counter = FakeCounter(clock)
    limiter = Limiter(counter.take, clock=lambda: clock[0])
    settings = resolve_settings({}, Path("/nonexistent"))
    admitted = [
        enforce("login", _login("192.0.2.1", f"user{n}@example.test"), settings, limiter) for n in range(30)
    ]
    assert admitted[0] == {
        "RateLimit-Policy": '"login";q=5;w=60, "login_ip";q=30;w=60',
        "RateLimit": '"login";r=4;t=60, "login_ip";r=29;t=60',
    }
    with pytest.raises(RateLimited) as refused:
        enforce("login", _login("192.0.2.1", "someone-else@example.test"), settings, limiter)
    assert refused.value.headers["RateLimit-Policy"] == '"login_ip";q=30;w=60'
    enforce("login", _login("192.0.2.2", "user0@example.test"), settings, limiter)  # another IP


def test_recover_is_keyed_by_email_alone() -> None:
    settings = resolve_settings({}, Path("/nonexistent"))
    assert limit_for("recover", settings) == RateLimit(3, 3600)
    one = _login("192.0.2.1", " Someone@Example.test ")
    other = _login("198.51.100.9", "someone@example.test")
    assert policy_key("recover", one) == policy_key("recover", other)
    assert policy_key("login", one) != policy_key("login", other)


# -- writes the database counts ------------------------------------------------------


def _write() -> Request:
    return Request("POST", "/api/vehicles", {}, {}, Message(), "id", "192.0.2.1", json_body={})


def _database_answers(status: int, values: dict[str, str]) -> None:
    """What lib.supabase.clients sees when PostgREST answers a write with these headers."""
    headers = Message()
    for name, value in values.items():
        headers[name] = value
    _capture_rate_headers(Response(status, "", headers, b"{}", "/rest/v1/rpc/create_vehicle"))


def _setup() -> tuple[FakeCounter, Limiter, Any]:
    clock = [0.0]
    counter = FakeCounter(clock)
    return counter, Limiter(counter.take, clock=lambda: clock[0]), resolve_settings({}, Path("/nonexistent"))


def _through(
    limiter: Limiter,
    sent: dict[str, str],
    answer: tuple[int, dict[str, str]] | None = None,
    fail: Callable[[], Exception] | None = None,
    user_id: str = "8d0b6c1e-6a55-4f59-9a43-0d2b7c1d9f10",
) -> bool:
    """One write through counted_in_database: the database answers `answer`, then `fail()` is raised.

    Returns whether the write ran at all.
    """
    settings = resolve_settings({}, Path("/nonexistent"))
    ran = False
    with counted_in_database("write", _write(), settings, sent, limiter, user_id=user_id):
        ran = True
        if answer is not None:
            _database_answers(*answer)
        if fail is not None:
            raise fail()
    return ran


GRANTED = {"RateLimit-Policy": '"write";q=60;w=60', "RateLimit": '"write";r=41;t=7'}
REFUSED = {"Retry-After": "12", "RateLimit-Policy": '"write";q=60;w=60', "RateLimit": '"write";r=0;t=12'}


def test_a_write_the_database_counted_costs_the_limiter_nothing() -> None:
    counter, limiter, _ = _setup()
    sent: dict[str, str] = {}
    assert _through(limiter, sent, (201, GRANTED))
    assert sent == GRANTED
    # Committed with its unit, then refused by the API (an update that matched no row): not again.
    with pytest.raises(NotFound):
        _through(limiter, {}, (200, GRANTED), NotFound)
    assert counter.calls == 0


def test_a_write_refused_before_the_database_is_counted_and_a_spent_budget_wins() -> None:
    counter, limiter, _ = _setup()
    for n in range(60):
        sent: dict[str, str] = {}
        with pytest.raises(ValidationFailed):
            _through(limiter, sent, fail=lambda: ValidationFailed([]))
        assert sent["RateLimit"].startswith(f'"write";r={59 - n};')
    with pytest.raises(RateLimited):
        _through(limiter, {}, fail=lambda: ValidationFailed([]))
    assert counter.calls == 61
    # An upstream failure is not counted: the database is not waited for a second time.
    with pytest.raises(GatewayTimeout):
        _through(limiter, {}, fail=GatewayTimeout, user_id="another-user")
    assert counter.calls == 61


def test_the_databases_429_keeps_its_headers_and_is_remembered() -> None:
    counter, limiter, _ = _setup()
    sent: dict[str, str] = {}
    with pytest.raises(RateLimited) as refused:
        _through(limiter, sent, (429, REFUSED), lambda: map_api_error("VR429"))
    assert refused.value.headers == REFUSED
    assert sent == {"RateLimit-Policy": '"write";q=60;w=60', "RateLimit": '"write";r=0;t=12'}
    # Until the window ends, the next write is refused here without running (no round trip).
    with pytest.raises(RateLimited) as again:
        _through(limiter, {}, (201, GRANTED))
    assert again.value.headers["Retry-After"] == "12"
    assert counter.calls == 0


# -- the shared counter in Postgres ------------------------------------------------


def take(
    db: psycopg.Connection[Any], key: str, limit: int, window: int, cost: int = 1, now: datetime | None = None
) -> dict[str, Any]:
    row = db.execute(
        "select public.rate_limit_take(%s, %s, %s, %s, %s)", (key, limit, window, cost, now)
    ).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


@pytest.mark.parametrize("concurrency", [12, 50, 200])
def test_shared_counter_is_exact_under_concurrency(stack: Stack, concurrency: int) -> None:
    key = f"test:{uuid.uuid4()}"
    dsn = stack.postgres.dsn()

    def one(_: int) -> int:
        with psycopg.connect(dsn, autocommit=True) as conn:
            return int(take(conn, key, 5, 3600)["granted"])

    with ThreadPoolExecutor(min(concurrency, 32)) as pool:
        granted = sum(pool.map(one, range(concurrency)))
    assert granted == 5


def test_partial_grants_and_rollover(db: psycopg.Connection[Any]) -> None:
    key = f"test:{uuid.uuid4()}"
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert take(db, key, 10, 60, cost=7, now=start) == {"granted": 7, "remaining": 3, "reset": 60}
    assert take(db, key, 10, 60, cost=7, now=start + timedelta(seconds=15)) == {
        "granted": 3,
        "remaining": 0,
        "reset": 45,
    }
    assert take(db, key, 10, 60, now=start + timedelta(seconds=59, milliseconds=500))["granted"] == 0
    assert take(db, key, 10, 60, now=start + timedelta(seconds=60))["granted"] == 1


def test_only_the_service_role_may_call_it(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "select has_function_privilege(r,"
        " 'public.rate_limit_take(text, integer, integer, integer, timestamptz)', 'execute')"
        " from unnest(array['anon', 'authenticated', 'service_role']) as r"
    ).fetchall()
    assert [r[0] for r in rows] == [False, False, True]
