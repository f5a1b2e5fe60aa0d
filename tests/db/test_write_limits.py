"""Write limits bind direct /rest/v1 writes with a user's own token (docs/api.md §2.3 and §6.1).

The publishable key is public: a signed-up user can write through PostgREST without the API.
The database's pre-request takes each write from the same per-user counter as the API's
limiter, so the two paths share one budget; reads, anon and the service role are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from devstack.stack_settings import StackSettings
from tests.db.conftest import Db
from tests.db.rest import Rest, assert_error
from tests.factories import User, create_user, create_vehicle, north_american_vin
from tests.support import ApiClient, in_one_rate_window

STATE = re.compile(r'^"write";r=(\d+);t=(\d+)$')


def new_vehicle() -> dict[str, Any]:
    """A valid vehicle body."""
    return {"vin": north_american_vin(), "make": "Mazda", "model": "3", "model_year": 2021}


@pytest.fixture
def write_limit(db: Db) -> Iterator[Callable[[int], None]]:
    """Lower the database's write limit for one test; the stored limit is put back afterwards."""
    saved = db.execute(
        "select max_requests, window_seconds from private.rate_limit_policies where policy = 'write'"
    ).fetchone()
    assert saved is not None

    def lower(max_requests: int) -> None:
        db.execute(
            "update private.rate_limit_policies set max_requests = %s where policy = 'write'", (max_requests,)
        )

    try:
        yield lower
    finally:
        db.execute(
            "update private.rate_limit_policies set max_requests = %s, window_seconds = %s"
            " where policy = 'write'",
            saved,
        )


def remaining(response: requests.Response) -> int:
    """r= of the RateLimit header of the write policy."""
    match = STATE.match(response.headers["RateLimit"])
    assert match is not None, response.headers["RateLimit"]
    return int(match.group(1))


def assert_refused(response: requests.Response, max_requests: int) -> None:
    """PostgREST's 429 from the pre-request, with Retry-After and the RateLimit headers."""
    assert_error(response, 429, "VR429")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["RateLimit-Policy"] == f'"write";q={max_requests};w=60'
    assert remaining(response) == 0


def test_the_default_write_limit_is_the_apis(db: Db) -> None:
    row = db.execute(
        "select max_requests, window_seconds from private.rate_limit_policies where policy = 'write'"
    ).fetchone()
    assert row == (60, 60)


def test_direct_inserts_are_refused_after_60_in_a_window(
    db: Db, make_user: Callable[..., User], rest: Callable[[User | str], Rest]
) -> None:
    def sixty_one_inserts() -> list[requests.Response]:
        client = rest(make_user("member"))
        return [client.insert("vehicles", new_vehicle()) for _ in range(61)]

    responses = in_one_rate_window(db, sixty_one_inserts)
    assert [r.status_code for r in responses[:60]] == [201] * 60
    assert [remaining(r) for r in responses[:60]] == list(range(59, -1, -1))
    assert responses[0].headers["RateLimit-Policy"] == '"write";q=60;w=60'
    assert_refused(responses[60], 60)


def test_updates_deletes_and_volatile_rpcs_are_counted_too(
    db: Db,
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
    write_limit: Callable[[int], None],
) -> None:
    write_limit(3)

    def four_writes() -> list[requests.Response]:
        user = make_user("member")
        client = rest(user)
        vehicle = create_vehicle(db, user)
        return [
            client.update("vehicles", {"color": "red"}, {"id": f"eq.{vehicle['id']}"}),
            client.rpc("create_vehicle", {"p_vehicle": new_vehicle()}),
            client.delete("vehicles", {"id": f"eq.{vehicle['id']}"}),
            client.insert("vehicles", new_vehicle()),
        ]

    responses = in_one_rate_window(db, four_writes)
    assert [r.status_code for r in responses[:3]] == [200, 200, 200], [r.text for r in responses]
    assert [remaining(r) for r in responses[:3]] == [2, 1, 0]
    assert_refused(responses[3], 3)


def test_reads_are_not_counted(
    db: Db,
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
    write_limit: Callable[[int], None],
) -> None:
    write_limit(2)

    def reads_then_writes() -> tuple[list[int], list[int]]:
        user = make_user("member")
        client = rest(user)
        create_vehicle(db, user)
        reads = [
            client.select("vehicles").status_code,
            client.rpc("list_vehicles", {}).status_code,  # POST, but to a stable function: read-only
            client.rpc("list_vehicles", {}, get=True).status_code,
            client.rpc("me", {}).status_code,
        ] * 3
        writes = [client.insert("vehicles", new_vehicle()).status_code for _ in range(3)]
        return reads, writes

    reads, writes = in_one_rate_window(db, reads_then_writes)
    assert reads == [200] * 12
    assert writes == [201, 201, 429]


def test_a_read_carries_no_rate_limit_headers(client: Rest) -> None:
    response = client.select("vehicles")
    assert response.status_code == 200
    assert "RateLimit" not in response.headers


def test_anon_and_the_service_role_are_not_counted(
    owner: User, rest: Callable[[User | str], Rest], write_limit: Callable[[int], None]
) -> None:
    write_limit(1)
    service = rest("service")
    inserted = [service.insert("vehicles", {**new_vehicle(), "owner_id": owner.id}) for _ in range(3)]
    assert [r.status_code for r in inserted] == [201] * 3, inserted[-1].text
    assert "RateLimit" not in inserted[-1].headers
    # anon holds no privilege on the table: refused for that, not for a rate limit.
    assert_error(rest("anon").insert("vehicles", new_vehicle()), 401, "42501")
    assert rest("anon").rpc("healthcheck").status_code == 200


def test_a_direct_write_that_fails_in_the_database_keeps_no_unit(
    db: Db,
    make_user: Callable[..., User],
    rest: Callable[[User | str], Rest],
    write_limit: Callable[[int], None],
) -> None:
    # The unit is taken in the write's own transaction, so a refused statement rolls it back.
    write_limit(1)

    def failure_then_write() -> tuple[int, int]:
        client = rest(make_user("member"))
        bad = client.insert("vehicles", {**new_vehicle(), "model_year": 1900})
        return bad.status_code, client.insert("vehicles", new_vehicle()).status_code

    bad, good = in_one_rate_window(db, failure_then_write)
    assert bad == 400
    assert good == 201


def test_api_and_direct_writes_share_one_budget(
    db: Db, stack_settings: StackSettings, rest: Callable[[User | str], Rest], api: ApiClient
) -> None:
    def thirty_and_thirty() -> tuple[list[int], list[int], int, int]:
        user = create_user(db, stack_settings)
        client = rest(user)
        via_api = [
            api.post("vehicles", json=new_vehicle(), headers=user.headers).status_code for _ in range(30)
        ]
        direct = [client.insert("vehicles", new_vehicle()).status_code for _ in range(30)]
        next_direct = client.insert("vehicles", new_vehicle()).status_code
        next_api = api.post("vehicles", json=new_vehicle(), headers=user.headers)
        assert next_api.status_code != 429 or next_api.json()["code"] == "rate_limited"
        return via_api, direct, next_direct, next_api.status_code

    via_api, direct, next_direct, next_api = in_one_rate_window(db, thirty_and_thirty)
    assert via_api == [201] * 30
    assert direct == [201] * 30
    assert (next_direct, next_api) == (429, 429)


def test_concurrent_api_and_direct_writes_admit_exactly_the_limit(
    db: Db, stack_settings: StackSettings, rest: Callable[[User | str], Rest], api: ApiClient
) -> None:
    def burst() -> tuple[list[int], int]:
        user = create_user(db, stack_settings)
        client = rest(user)

        def one(n: int) -> int:
            if n % 2:
                return client.insert("vehicles", new_vehicle()).status_code
            return api.post("vehicles", json=new_vehicle(), headers=user.headers).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(80)))
        stored = db.execute("select count(*) from public.vehicles where owner_id = %s", (user.id,)).fetchone()
        assert stored is not None
        return statuses, int(stored[0])

    statuses, stored = in_one_rate_window(db, burst)
    assert (statuses.count(201), statuses.count(429), stored) == (60, 20, 60)
