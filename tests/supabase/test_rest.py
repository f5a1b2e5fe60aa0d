"""The thin PostgREST client (lib/supabase/rest.py): the requests it sends, how it reads the answers.

Every call the API makes is sent to an httpx.MockTransport by this client and by
postgrest-py, which it replaces: the two requests must be the same (method, URL, query
string, headers, body), less postgrest-py's X-Client-Info. Error answers must raise what
lib.supabase.upstream maps as it mapped postgrest-py's APIError.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lib.http.problems import ApiError, BadGateway, Conflict, GatewayTimeout, Unauthorized
from lib.supabase import db_errors
from lib.supabase.rest import RestClient, RestError
from lib.supabase.upstream import upstream_call

BASE = "http://db.example/rest/v1"
HEADERS = {"apikey": "sb_publishable_x", "Authorization": "Bearer eyJ.user.jwt"}
VEHICLE = "8d0fd2b3-9ca7-4c9e-a5a2-5b5a1b0f3c11"
ROOT = Path(__file__).resolve().parents[2]


def _pool(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answer(request)

    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.fixture
def sent() -> Iterator[tuple[list[httpx.Request], httpx.Client]]:
    """The requests made over a mock pool that answers `[]`."""
    seen: list[httpx.Request] = []
    with _pool(lambda request: httpx.Response(200, json=[]), seen) as pool:
        yield seen, pool


# Each call as lib/ makes it: (name, call on a client).
CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("select one", lambda c: c.from_("vehicles").select("*").eq("id", VEHICLE)),
    (
        "select by two columns",
        lambda c: c.from_("maintenance_records").select("*").eq("id", VEHICLE).eq("vehicle_id", VEHICLE),
    ),
    (
        "update",
        lambda c: c.from_("vehicles").update({"color": 'Rød, "x"', "odometer_km": 5}).eq("id", VEHICLE),
    ),
    (
        "conditional update",
        lambda c: c.from_("vehicles").update({"make": "VW"}).eq("id", VEHICLE).in_("version", [3, 4]),
    ),
    ("delete", lambda c: c.from_("vehicles").delete().eq("id", VEHICLE)),
    ("conditional delete", lambda c: c.from_("vehicles").delete().eq("id", VEHICLE).in_("version", [7])),
    ("role update", lambda c: c.from_("user_roles").update({"role": "manager"}).eq("user_id", VEHICLE)),
    ("rpc", lambda c: c.rpc("list_vehicles", {"p_limit": 21, "p_make": "a&b=c", "p_after": None})),
    ("rpc without arguments", lambda c: c.rpc("me", {})),
    ("rpc GET", lambda c: c.rpc("healthcheck", {}, get=True)),
    (
        "rpc GET with arguments",
        lambda c: c.rpc("f", {"a": "x y&z", "b": [1, "a,b"], "c": {"k": 1}, "d": True}, get=True),
    ),
    (
        "filter values that look like operators",
        lambda c: c.from_("vehicles").select("*").eq("make", 'eq.1,(x):"'),
    ),
]


def _wire(request: httpx.Request) -> tuple[str, str, dict[str, str], bytes]:
    headers = {
        name.lower(): value for name, value in request.headers.items() if name.lower() != "x-client-info"
    }
    return request.method, str(request.url), headers, request.content


@pytest.mark.parametrize(("name", "build"), CALLS, ids=[name for name, _ in CALLS])
def test_the_same_request_as_postgrest_py(
    sent: tuple[list[httpx.Request], httpx.Client], name: str, build: Callable[[Any], Any]
) -> None:
    from postgrest import SyncPostgrestClient

    seen, pool = sent
    build(RestClient(BASE, HEADERS, pool)).execute()
    build(SyncPostgrestClient(BASE, headers=HEADERS, http_client=pool, retry_enabled=False)).execute()
    ours, theirs = seen
    assert _wire(ours) == _wire(theirs)
    assert "x-client-info" not in ours.headers


def test_what_a_select_and_an_update_look_like(sent: tuple[list[httpx.Request], httpx.Client]) -> None:
    seen, pool = sent
    client = RestClient(BASE, HEADERS, pool)
    client.from_("vehicles").select("*").eq("id", "a b").execute()
    client.from_("vehicles").update({"make": "Å"}).eq("id", VEHICLE).in_("version", [1, 2]).execute()
    select, update = seen
    assert select.method == "GET"
    assert str(select.url) == f"{BASE}/vehicles?select=%2A&id=eq.a+b"
    assert select.headers["apikey"] == "sb_publishable_x"
    assert select.headers["authorization"] == "Bearer eyJ.user.jwt"
    assert select.headers["accept-profile"] == select.headers["content-profile"] == "public"
    assert "prefer" not in select.headers
    assert "content-type" not in select.headers
    assert select.content == b""
    assert update.method == "PATCH"
    assert str(update.url) == f"{BASE}/vehicles?id=eq.{VEHICLE}&version=in.%281%2C2%29"
    assert update.headers["prefer"] == "return=representation"
    assert update.headers["content-type"] == "application/json"
    assert update.content == '{"make":"Å"}'.encode()


def test_rpc_posts_its_arguments_or_gets_them_in_the_query(
    sent: tuple[list[httpx.Request], httpx.Client],
) -> None:
    seen, pool = sent
    client = RestClient(BASE, HEADERS, pool)
    client.rpc("rate_limit_take", {"p_key": "k", "p_cost": 1}).execute()
    client.rpc("healthcheck", {}, get=True).execute()
    post, get = seen
    assert (post.method, str(post.url)) == ("POST", f"{BASE}/rpc/rate_limit_take")
    assert json.loads(post.content) == {"p_key": "k", "p_cost": 1}
    assert (get.method, str(get.url), get.content) == ("GET", f"{BASE}/rpc/healthcheck", b"")


@pytest.mark.parametrize(
    ("status", "body", "data"),
    [
        (200, b'[{"id": 1}]', [{"id": 1}]),
        (200, b"true", True),
        (201, b'{"replay": false}', {"replay": False}),
        (204, b"", []),
        (200, b"<html>", "<html>"),
    ],
)
def test_a_success_is_its_json_or_its_text(status: int, body: bytes, data: Any) -> None:
    seen: list[httpx.Request] = []
    with _pool(lambda request: httpx.Response(status, content=body), seen) as pool:
        assert RestClient(BASE, HEADERS, pool).rpc("me", {}).execute().data == data


def _raised(response: httpx.Response) -> RestError:
    seen: list[httpx.Request] = []
    with _pool(lambda request: response, seen) as pool, pytest.raises(RestError) as caught:
        RestClient(BASE, HEADERS, pool).from_("vehicles").select("*").execute()
    return caught.value


def test_an_error_answer_carries_postgrests_fields() -> None:
    error = _raised(
        httpx.Response(
            409,
            json={
                "code": "23505",
                "message": 'violates "vehicles_vin_key"',
                "details": {"a": 1},
                "hint": None,
            },
        )
    )
    assert (error.code, error.message, error.details, error.hint) == (
        "23505",
        'violates "vehicles_vin_key"',
        {"a": 1},
        None,
    )


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (httpx.Response(500, content=b"<html>oops</html>"), "500"),
        (httpx.Response(400, content=b"{truncated"), "400"),
        (httpx.Response(400, json=[1]), "400"),
        (httpx.Response(400, json={"code": 42}), "400"),  # not PostgREST's shape
        (
            httpx.Response(401, content=b"", headers={"Proxy-Status": 'PostgREST; error="PGRST301"'}),
            "PGRST301",
        ),
        (
            httpx.Response(
                404, content=b"x", headers={"Proxy-Status": "other; error=E1, PostgREST; error=PGRST205"}
            ),
            "PGRST205",
        ),
        (httpx.Response(302, headers={"Location": "/elsewhere"}), "302"),
    ],
)
def test_an_answer_that_is_not_postgrests_error_json_is_named_by_its_status(
    response: httpx.Response, code: str
) -> None:
    error = _raised(response)
    assert error.code == code
    assert error.hint is None
    assert error.details == (response.text or None)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(
            400,
            json={"code": "VV422", "message": "m", "hint": "vehicles_make_check", "details": None, "x": 1},
        ),
        httpx.Response(500, content=b"<html>oops</html>"),
        httpx.Response(400, json={"code": 42}),
        httpx.Response(401, content=b"", headers={"Proxy-Status": 'PostgREST; error="PGRST301"'}),
    ],
)
def test_the_error_matches_postgrest_pys(answer: httpx.Response) -> None:
    from postgrest import APIError, SyncPostgrestClient

    seen: list[httpx.Request] = []
    with _pool(lambda request: answer, seen) as pool:
        with pytest.raises(RestError) as ours:
            RestClient(BASE, HEADERS, pool).rpc("f", {}).execute()
        theirs_client = SyncPostgrestClient(BASE, headers=HEADERS, http_client=pool, retry_enabled=False)
        with pytest.raises(APIError) as theirs:
            theirs_client.rpc("f", {}).execute()
    fields = ("code", "message", "hint", "details")
    assert [getattr(ours.value, name) for name in fields] == [getattr(theirs.value, name) for name in fields]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(409, json={"code": "23505", "message": 'unique constraint "vehicles_vin_key"'}),
            Conflict,
        ),
        (httpx.Response(401, json={"code": "PGRST301", "message": "jwt"}), Unauthorized),
        (httpx.Response(500, json={"code": "57014", "message": "canceling statement"}), GatewayTimeout),
        (httpx.Response(500, content=b"<html>internal detail</html>"), BadGateway),
        (httpx.Response(400, content=b"{truncated"), BadGateway),
    ],
)
def test_errors_map_to_problems_through_upstream_call(
    response: httpx.Response, expected: type[ApiError]
) -> None:
    seen: list[httpx.Request] = []
    with (
        _pool(lambda request: response, seen) as pool,
        pytest.raises(expected) as mapped,
        upstream_call(db_errors.translate),
    ):
        RestClient(BASE, HEADERS, pool).from_("vehicles").select("*").execute()
    assert "internal detail" not in str(mapped.value)


def test_transport_failures_are_httpx_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as pool:
        with pytest.raises(httpx.ReadTimeout):
            RestClient(BASE, HEADERS, pool).rpc("me", {}).execute()
        with pytest.raises(GatewayTimeout), upstream_call():
            RestClient(BASE, HEADERS, pool).rpc("me", {}).execute()


def test_a_data_route_imports_no_postgrest() -> None:
    # A fresh interpreter: serving a data route's code path (its handlers, the clients,
    # a request's client built and sent) must not load postgrest-py or pydantic through it.
    code = (
        "import sys, httpx\n"
        "import lib.resources.vehicles, lib.resources.collection, lib.resources.health\n"
        "import lib.supabase.upstream, lib.supabase.ratelimit, lib.supabase.idempotency\n"
        "from lib.supabase import clients\n"
        "answer = httpx.MockTransport(lambda r: httpx.Response(200, json=[]))\n"
        "clients.http_pool = lambda: httpx.Client(transport=answer)\n"
        "clients.user_client('eyJ.user.jwt').from_('vehicles').select('*').eq('id', '1').execute()\n"
        "clients.admin_client().rpc('rate_limit_take', {}).execute()\n"
        "clients.anon_client().rpc('healthcheck', {}, get=True).execute()\n"
        "loaded = sorted(m for m in sys.modules if m == 'postgrest' or m.startswith('postgrest.'))\n"
        "assert not loaded, loaded\n"
    )
    env = {
        "APP_ENV": "development",
        "SUPABASE_URL": "http://127.0.0.1:54321",
        "SUPABASE_JWT_SECRET": "jwt-secret-for-the-rest-unit-tests-32-characters",
        "SUPABASE_PUBLISHABLE_KEY": "sb_publishable_unit0001",
        "SUPABASE_SECRET_KEY": "sb_secret_unit0001",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
