"""The thin PostgREST client (lib/supabase/rest.py): the requests it sends, how it reads the answers.

Every call the API makes is sent by this client over lib.supabase.transport's pool to a
loopback server, and by postgrest-py, which it replaces, to an httpx.MockTransport: the
two requests must be the same (method, path and query string, headers, body), less
postgrest-py's X-Client-Info and the transports' own headers (Host, User-Agent,
Accept-Encoding, Connection). Error answers must raise what lib.supabase.upstream maps as
it mapped postgrest-py's APIError.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from lib.http.problems import ApiError, BadGateway, Conflict, GatewayTimeout, ServiceUnavailable, Unauthorized
from lib.supabase import db_errors
from lib.supabase.rest import RestClient, RestError
from lib.supabase.transport import ConnectFailed, Pool
from lib.supabase.upstream import upstream_call
from tests.supabase.loopback import Answer, Recording, Seen, upstream
from tests.support import fresh_interpreter_json

BASE = "http://db.example/rest/v1"
HEADERS = {"apikey": "sb_publishable_x", "Authorization": "Bearer eyJ.user.jwt"}
VEHICLE = "8d0fd2b3-9ca7-4c9e-a5a2-5b5a1b0f3c11"
ROOT = Path(__file__).resolve().parents[2]
# Each transport's own headers, not the client's: what the comparison leaves out.
TRANSPORT_HEADERS = frozenset({"host", "user-agent", "accept-encoding", "connection", "x-client-info"})


class Served:
    """Our client over a real pool to a loopback server, and what that server saw."""

    def __init__(self, recording: Recording, pool: Pool) -> None:
        self.recording = recording
        self.pool = pool

    @property
    def seen(self) -> list[Seen]:
        """The requests so far."""
        return self.recording.seen

    def client(self) -> RestClient:
        """A RestClient with HEADERS at the server's /rest/v1."""
        return RestClient(f"{self.recording.url}/rest/v1", HEADERS, self.pool)


@contextmanager
def _serving(answer: Answer) -> Iterator[Served]:
    pool = Pool(connect_timeout=2.0, read_timeout=5.0)
    with upstream(lambda request: answer) as recording:
        try:
            yield Served(recording, pool)
        finally:
            pool.close()


@pytest.fixture
def ours() -> Iterator[Served]:
    """Our client to a loopback server that answers `[]`."""
    with _serving(Answer()) as served:
        yield served


def _mock(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answer(request)

    return httpx.Client(transport=httpx.MockTransport(handler))


def _postgrest_py(pool: httpx.Client) -> Any:
    from postgrest import SyncPostgrestClient

    return SyncPostgrestClient(BASE, headers=HEADERS, http_client=pool, retry_enabled=False)


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


def _their_wire(request: httpx.Request) -> tuple[str, str, dict[str, str], bytes]:
    headers = {
        name.lower(): value
        for name, value in request.headers.items()
        if name.lower() not in TRANSPORT_HEADERS
    }
    return request.method, request.url.raw_path.decode("ascii"), headers, request.content


def _our_wire(request: Seen) -> tuple[str, str, dict[str, str], bytes]:
    headers = {name: value for name, value in request.header_items().items() if name not in TRANSPORT_HEADERS}
    return request.method, request.target, headers, request.body


@pytest.mark.parametrize(("name", "build"), CALLS, ids=[name for name, _ in CALLS])
def test_the_same_request_as_postgrest_py(ours: Served, name: str, build: Callable[[Any], Any]) -> None:
    build(ours.client()).execute()
    theirs: list[httpx.Request] = []
    with _mock(lambda request: httpx.Response(200, json=[]), theirs) as pool:
        build(_postgrest_py(pool)).execute()
    (sent,), (expected,) = ours.seen, theirs
    assert _our_wire(sent) == _their_wire(expected)
    # Nothing else on the wire: the transport adds only Host, its User-Agent and Accept-Encoding.
    assert set(sent.header_items()) - set(_our_wire(sent)[2]) == {"host", "user-agent", "accept-encoding"}
    assert sent.headers["Accept-Encoding"] == "identity"  # answers arrive uncompressed


def test_what_a_select_and_an_update_look_like(ours: Served) -> None:
    client = ours.client()
    client.from_("vehicles").select("*").eq("id", "a b").execute()
    client.from_("vehicles").update({"make": "Å"}).eq("id", VEHICLE).in_("version", [1, 2]).execute()
    select, update = ours.seen
    assert select.method == "GET"
    assert select.target == "/rest/v1/vehicles?select=%2A&id=eq.a+b"
    assert select.headers["apikey"] == "sb_publishable_x"
    assert select.headers["authorization"] == "Bearer eyJ.user.jwt"
    assert select.headers["accept-profile"] == select.headers["content-profile"] == "public"
    assert select.headers["accept"] == "*/*"
    assert "prefer" not in select.headers
    assert "content-type" not in select.headers
    assert "content-length" not in select.headers
    assert select.body == b""
    assert update.method == "PATCH"
    assert update.target == f"/rest/v1/vehicles?id=eq.{VEHICLE}&version=in.%281%2C2%29"
    assert update.headers["prefer"] == "return=representation"
    assert update.headers["content-type"] == "application/json"
    assert update.body == '{"make":"Å"}'.encode()
    assert ours.recording.connections() == 1  # kept alive between the two


def test_rpc_posts_its_arguments_or_gets_them_in_the_query(ours: Served) -> None:
    client = ours.client()
    client.rpc("rate_limit_take", {"p_key": "k", "p_cost": 1}).execute()
    client.rpc("healthcheck", {}, get=True).execute()
    post, get = ours.seen
    assert (post.method, post.target) == ("POST", "/rest/v1/rpc/rate_limit_take")
    assert json.loads(post.body) == {"p_key": "k", "p_cost": 1}
    assert (get.method, get.target, get.body) == ("GET", "/rest/v1/rpc/healthcheck", b"")


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
    with _serving(Answer(status, body)) as served:
        assert served.client().rpc("me", {}).execute().data == data


def _raised(answer: Answer) -> RestError:
    with _serving(answer) as served, pytest.raises(RestError) as caught:
        served.client().from_("vehicles").select("*").execute()
    return caught.value


JSON = (("Content-Type", "application/json"),)


def test_an_error_answer_carries_postgrests_fields() -> None:
    body = {"code": "23505", "message": 'violates "vehicles_vin_key"', "details": {"a": 1}, "hint": None}
    error = _raised(Answer(409, json.dumps(body).encode(), JSON))
    assert (error.code, error.message, error.details, error.hint) == (
        "23505",
        'violates "vehicles_vin_key"',
        {"a": 1},
        None,
    )


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (Answer(500, b"<html>oops</html>", ()), "500"),
        (Answer(400, b"{truncated", JSON), "400"),
        (Answer(400, b"[1]", JSON), "400"),
        (Answer(400, b'{"code":42}', JSON), "400"),  # not PostgREST's shape
        (Answer(401, b"", (("Proxy-Status", 'PostgREST; error="PGRST301"'),)), "PGRST301"),
        (
            Answer(404, b"x", (("Proxy-Status", "other; error=E1, PostgREST; error=PGRST205"),)),
            "PGRST205",
        ),
        (
            # Two Proxy-Status fields read as one list, as httpx joined them.
            Answer(
                404,
                b"x",
                (("Proxy-Status", "other; error=E1"), ("Proxy-Status", "PostgREST; error=PGRST205")),
            ),
            "PGRST205",
        ),
        (Answer(302, b"", (("Location", "/elsewhere"),)), "302"),
    ],
)
def test_an_answer_that_is_not_postgrests_error_json_is_named_by_its_status(
    answer: Answer, code: str
) -> None:
    error = _raised(answer)
    assert error.code == code
    assert error.hint is None
    assert error.details == (answer.body.decode() or None)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(
            400, b'{"code":"VV422","message":"m","hint":"vehicles_make_check","details":null,"x":1}', JSON
        ),
        Answer(500, b"<html>oops</html>", ()),
        Answer(400, b'{"code":42}', JSON),
        Answer(401, b"", (("Proxy-Status", 'PostgREST; error="PGRST301"'),)),
    ],
)
def test_the_error_matches_postgrest_pys(answer: Answer) -> None:
    from postgrest import APIError

    with _serving(answer) as served, pytest.raises(RestError) as ours:
        served.client().rpc("f", {}).execute()
    theirs_seen: list[httpx.Request] = []
    response = httpx.Response(answer.status, content=answer.body, headers=list(answer.headers))
    with _mock(lambda request: response, theirs_seen) as pool, pytest.raises(APIError) as theirs:
        _postgrest_py(pool).rpc("f", {}).execute()
    fields = ("code", "message", "hint", "details")
    assert [getattr(ours.value, name) for name in fields] == [getattr(theirs.value, name) for name in fields]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            Answer(409, b'{"code":"23505","message":"unique constraint \\"vehicles_vin_key\\""}', JSON),
            Conflict,
        ),
        (Answer(401, b'{"code":"PGRST301","message":"jwt"}', JSON), Unauthorized),
        (Answer(500, b'{"code":"57014","message":"canceling statement"}', JSON), GatewayTimeout),
        (Answer(500, b"<html>internal detail</html>", ()), BadGateway),
        (Answer(400, b"{truncated", JSON), BadGateway),
        (
            Answer(503, b"<html>internal detail</html>", ()),
            ServiceUnavailable,
        ),  # a gateway's, not PostgREST's
    ],
)
def test_errors_map_to_problems_through_upstream_call(answer: Answer, expected: type[ApiError]) -> None:
    from lib.supabase.clients import _capture_rate_headers, _raise_gateway_failures

    pool = Pool(
        connect_timeout=2.0, read_timeout=5.0, checks=(_raise_gateway_failures, _capture_rate_headers)
    )
    with upstream(lambda request: answer) as recording:
        with pytest.raises(expected) as mapped, upstream_call(db_errors.translate):
            RestClient(f"{recording.url}/rest/v1", HEADERS, pool).from_("vehicles").select("*").execute()
        pool.close()
    assert "internal detail" not in str(mapped.value)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_transport_failures_are_transport_errors() -> None:
    pool = Pool(connect_timeout=2.0, read_timeout=5.0)
    client = RestClient(f"http://127.0.0.1:{_closed_port()}/rest/v1", HEADERS, pool)
    with pytest.raises(ConnectFailed):
        client.rpc("me", {}).execute()
    with pytest.raises(ServiceUnavailable), upstream_call():
        client.rpc("me", {}).execute()


# A vehicle GET served in a fresh interpreter, through the pipeline and the real clients, to a
# loopback PostgREST: what it imports must not include postgrest-py nor the httpx stack, nor
# (none of these requests takes input) the input models.
DATA_REQUEST = """
import io, json, os, sys
from email.message import Message
from lib.contract import routes
from lib.http.request import Incoming
from lib.pipeline import handle
from lib.supabase import clients, jwks

headers = Message()
headers["Authorization"] = "Bearer " + os.environ["TEST_TOKEN"]
target = "/api/vehicles/" + os.environ["TEST_VEHICLE"]
def status(target, headers, route):
    return handle(Incoming("GET", target, headers, "192.0.2.10", io.BytesIO(b"")), [route]).status
statuses = [
    status(target, headers, routes.VEHICLE),
    status("/api/health", Message(), routes.HEALTH),
    status("/api/me", headers, routes.ME),  # /api/me's module also holds the Auth-calling password change
]
# The JWKS fetch (a JWKS URL instead of a shared secret) goes through the same pool.
jwks._http_fetcher("sb_publishable_unit0001")(os.environ["SUPABASE_URL"] + "/auth/v1/.well-known/jwks.json")
heavy = ("postgrest", "httpx", "httpcore", "h11", "supabase_auth")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m == "lib.contract.inputs")
print(json.dumps({"statuses": statuses, "loaded": loaded}))
"""


def _stub_postgrest(request: Seen) -> Answer:
    if request.target.startswith("/rest/v1/rpc/rate_limit_take"):
        return Answer(200, b'{"granted": 1, "remaining": 99, "reset": 60}')
    if request.target.startswith("/rest/v1/rpc/healthcheck"):
        return Answer(200, b"true")
    if request.target.startswith("/rest/v1/rpc/me"):
        return Answer(
            200, b'{"id": "00000000-0000-4000-8000-000000000001", "email": "a@example.com", "role": "member"}'
        )
    if request.target.startswith("/auth/v1/.well-known/jwks.json"):
        return Answer(200, b'{"keys": []}')
    return Answer(200, b"[]")  # the vehicle: not there, 404


def test_a_request_without_input_loads_neither_postgrest_nor_httpx_nor_the_input_models() -> None:
    from tests.resources import fakes

    with upstream(_stub_postgrest) as recording:
        env = {
            **fakes.ENV,
            "SUPABASE_URL": recording.url,
            "TEST_TOKEN": fakes.token(iss=f"{recording.url}/auth/v1"),
            "TEST_VEHICLE": VEHICLE,
            "PATH": "/usr/bin:/bin",
        }
        result = fresh_interpreter_json(DATA_REQUEST, env)
    assert result == {"statuses": [404, 200, 200], "loaded": []}
    targets = [request.target.partition("?")[0] for request in recording.seen]
    assert "/rest/v1/vehicles" in targets
    assert "/rest/v1/rpc/healthcheck" in targets
    assert "/rest/v1/rpc/me" in targets
    assert "/auth/v1/.well-known/jwks.json" in targets
