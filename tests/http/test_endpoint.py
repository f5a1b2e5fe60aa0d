"""The HTTP foundation over real HTTP: an Endpoint subclass served in-process."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
import requests
from pydantic import BaseModel, ConfigDict, StrictInt

from lib import config
from lib.contract.routing import Operation, Route
from lib.http.endpoint import Endpoint
from lib.http.problems import Conflict
from lib.http.response import Response, json_response
from lib.pipeline import strip_route_params as _strip_route_params
from lib.supabase.caller import Anonymous
from tests.support import assert_problem, served


class EchoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: StrictInt = 0


class EchoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = None


def echo(call: Anonymous[EchoBody | None, EchoQuery | None]) -> Response:
    """Echo what the pipeline parsed."""
    body = call.body.model_dump() if call.body else None
    query = call.query.model_dump() if call.query else None
    request = call.request
    return json_response(
        {"params": dict(request.params), "query": query, "body": body, "ip": request.client_ip}
    )


def explode(call: Anonymous[None, None]) -> Response:
    """An unexpected failure, carrying something that must not leak."""
    raise RuntimeError("secret-detail-from-upstream SELECT * FROM users")


def conflict(call: Anonymous[EchoBody, None]) -> Response:
    """A typed error."""
    raise Conflict("already there")


ECHO = Route(
    "/api/echo/{id}",
    {
        "GET": Operation("tests.http.test_endpoint:echo", "echo", auth="none", query=EchoQuery),
        "POST": Operation("tests.http.test_endpoint:echo", "echo", auth="none", body=EchoBody),
        "DELETE": Operation("tests.http.test_endpoint:explode", "explode", auth="none"),
        "PUT": Operation("tests.http.test_endpoint:conflict", "conflict", auth="none", body=EchoBody),
    },
    vercel_file="api/echo/[id].py",
)
# A second route of the same function (as vercel.json rewrites a path to it).
ECHO_ITEM = Route(
    "/api/echo/{id}/items/{item_id}",
    {"GET": Operation("tests.http.test_endpoint:echo", "echo one item", auth="none")},
    vercel_file="api/echo/[id].py",
)


@pytest.fixture(scope="module")
def environment() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    for name in list(__import__("os").environ):
        if name.startswith(("SUPABASE_", "APP_ENV", "VERCEL", "ALLOWED_ORIGINS")):
            mp.delenv(name)
    mp.setenv("APP_ENV", "development")
    mp.setenv("ALLOWED_ORIGINS", "https://app.example.com")
    config.get_settings.cache_clear()
    try:
        yield
    finally:
        mp.undo()
        config.get_settings.cache_clear()


def serving(handler: type[Endpoint]) -> Iterator[str]:
    """Serve `handler` in-process until the generator is closed; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    with served(server) as url:
        yield url


@pytest.fixture(scope="module")
def base_url(environment: None) -> Iterator[str]:
    class handler(Endpoint):  # noqa: N801 (the Vercel name)
        route = ECHO

    yield from serving(handler)


@pytest.fixture(scope="module")
def two_routes_url(environment: None) -> Iterator[str]:
    class handler(Endpoint):  # noqa: N801 (the Vercel name)
        routes = (ECHO, ECHO_ITEM)

    yield from serving(handler)


def raw(base_url: str, data: bytes) -> bytes:
    """Send raw bytes, return the raw response."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_get_parses_path_and_query(base_url: str) -> None:
    response = requests.get(f"{base_url}/api/echo/abc?q=x", timeout=5)
    assert response.status_code == 200
    assert response.json()["params"] == {"id": "abc"}
    assert response.json()["query"] == {"q": "x"}
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["Vary"] == "Authorization, Cookie, Origin"


def test_vercel_dynamic_segment_in_query_is_not_a_caller_parameter(base_url: str) -> None:
    response = requests.get(f"{base_url}/api/echo/abc?q=x&id=abc", timeout=5)
    assert response.status_code == 200
    assert response.json()["query"] == {"q": "x"}


def test_strip_route_params_drops_only_copies_of_the_segments() -> None:
    assert _strip_route_params("id=abc&q=x&id=zzz", {"id": "abc"}) == "q=x&id=zzz"
    assert _strip_route_params("id=a&item_id=b", {"id": "a", "item_id": "b"}) == ""
    assert _strip_route_params("id=a", {"id": "a", "item_id": "b"}) == ""  # a missing copy is fine
    assert _strip_route_params("item_id=a&id=b", {"id": "a", "item_id": "b"}) == "item_id=a&id=b"
    assert _strip_route_params("id=%ff", {"id": "%ff"}) == "id=%ff"  # undecodable: left to validation
    assert _strip_route_params("q=1", {}) == "q=1"


@pytest.mark.parametrize(
    ("segment", "query"),
    [
        ("a%20b", "id=a%20b"),  # the raw segment, copied verbatim
        ("a%20b", "id=a+b"),
        ("a+b", "id=a+b"),
        ("a+b", "id=a%2Bb"),  # the segment decoded as a path, then encoded again
        ("%C3%A9t%C3%A9", "id=%C3%A9t%C3%A9"),
        ("abc", "%69d=abc"),
        ("abc", "id=abc&q=x&id=abc"),
    ],
)
def test_the_appended_copy_of_a_segment_is_dropped_however_it_is_encoded(
    base_url: str, segment: str, query: str
) -> None:
    response = requests.get(f"{base_url}/api/echo/{segment}?{query}", timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["params"] == {"id": segment}
    assert response.json()["query"] == {"q": "x" if "q=x" in query else None}


@pytest.mark.parametrize(
    "query",
    ["id=foo", "id=abcd", "id=ab", "id=ABC", "id=", "id", "id=abc&id=foo", "id=foo&id=abc", "q=x&id=a%62"],
)
def test_a_path_parameter_name_with_another_value_is_an_unknown_query_parameter(
    base_url: str, query: str
) -> None:
    response = requests.get(f"{base_url}/api/echo/abc?{query}", timeout=5)
    problem = assert_problem(response, 400, "invalid_query")
    assert "id" in problem["detail"]


def test_security_headers_and_request_id_on_every_response(base_url: str) -> None:
    for response in (
        requests.get(f"{base_url}/api/echo/abc", timeout=5),
        requests.request("TRACE", f"{base_url}/api/echo/abc", timeout=5),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers  # development
        assert len(response.headers["X-Request-Id"]) >= 1
        assert "Origin" in response.headers["Vary"]
    # The product name only: no Python version (and no trailing space where one would go).
    answer = raw(base_url, b"GET /api/echo/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"\r\nServer: vehicle-api\r\n" in answer


def test_request_id_echoed_when_well_formed(base_url: str) -> None:
    good = requests.get(f"{base_url}/api/echo/a", headers={"X-Request-Id": "abc.DEF_12-3"}, timeout=5)
    assert good.headers["X-Request-Id"] == "abc.DEF_12-3"
    for bad in ("x" * 129, "has space", "semi;colon", "é"):
        response = requests.get(f"{base_url}/api/echo/a", headers={"X-Request-Id": bad.encode()}, timeout=5)
        assert response.headers["X-Request-Id"] != bad
        assert len(response.headers["X-Request-Id"]) == 32


def test_unknown_method_is_405_problem_with_allow(base_url: str) -> None:
    for method in ("PATCH", "TRACE", "BREW"):
        response = requests.request(method, f"{base_url}/api/echo/a", timeout=5)
        body = assert_problem(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == "GET, HEAD, POST, DELETE, PUT, OPTIONS"
        assert body["instance"] == "/api/echo/a"


def test_head_works_where_get_does(base_url: str) -> None:
    get = requests.get(f"{base_url}/api/echo/a", timeout=5)
    head = requests.head(f"{base_url}/api/echo/a", timeout=5)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_plain_options_lists_methods(base_url: str) -> None:
    response = requests.options(f"{base_url}/api/echo/a", timeout=5)
    assert response.status_code == 204
    assert "POST" in response.headers["Allow"]


def test_unknown_query_parameter_is_400(base_url: str) -> None:
    assert_problem(requests.get(f"{base_url}/api/echo/a?zzz=1", timeout=5), 400, "invalid_query")
    assert_problem(requests.get(f"{base_url}/api/echo/a?q=1&q=2", timeout=5), 400, "invalid_query")
    assert_problem(requests.get(f"{base_url}/api/echo/a?q=%ff", timeout=5), 400, "invalid_query")


def post(
    base_url: str, body: bytes, content_type: str | None = "application/json", **headers: str
) -> requests.Response:
    if content_type is not None:
        headers["Content-Type"] = content_type
    return requests.post(f"{base_url}/api/echo/a", data=body, headers=headers, timeout=5)


def test_valid_body(base_url: str) -> None:
    response = post(base_url, b'{"name": "x", "count": 2}')
    assert response.status_code == 200
    assert response.json()["body"] == {"name": "x", "count": 2}
    charset = post(base_url, b'{"name": "x"}', "application/json; charset=UTF-8")
    assert charset.status_code == 200


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (b"   ", "blank"),
        (b"{", "truncated"),
        (b"[1]", "not an object"),
        (b'"text"', "not an object"),
        (b"\xff\xfe{}", "invalid utf-8"),
        (b'{"name": "\\ud800"}', "lone surrogate"),
        (b'{"name": "a", "name": "b"}', "duplicate key"),
        (b'{"name": NaN}', "NaN"),
        (b'{"name": 1e999}', "infinite"),
        (b'{"a":' * 33 + b"1" + b"}" * 33, "too deep"),
        (b"[" * 5000 + b"]" * 5000, "very deep"),
        (b'{"n": ' + b"9" * 5000 + b"}", "huge integer"),
    ],
)
def test_malformed_json_is_400(base_url: str, body: bytes, why: str) -> None:
    assert_problem(post(base_url, body), 400, "invalid_json")


def nested(levels: int, container: str, inner: bytes) -> bytes:
    """A body of exactly `levels` nested containers (the top-level object is one) around `inner`."""
    if container == "array":
        return b'{"x": ' + b"[" * (levels - 1) + inner + b"]" * (levels - 1) + b"}"
    innermost = b'{"x": ' + inner + b"}" if inner else b"{}"
    return b'{"x": ' * (levels - 1) + innermost + b"}" * (levels - 1)


DEPTH_CASES = [
    pytest.param(container, inner, id=f"{container}-{inner.decode() or 'empty'}")
    for container in ("array", "object")
    for inner in (b"1", b'"s"', b"null", b"")
]


@pytest.mark.parametrize(("container", "inner"), DEPTH_CASES)
def test_nesting_of_32_levels_is_allowed_by_the_parser(base_url: str, container: str, inner: bytes) -> None:
    # A level is a container: what the innermost one holds, a scalar or nothing, adds none.
    body = nested(32, container, inner)
    assert body.count(b"[") + body.count(b"{") == 32
    # Parsed fine; rejected later as an unknown field, not as malformed JSON.
    problem = assert_problem(post(base_url, body), 422, "validation_error")
    assert [entry["code"] for entry in problem["errors"]] == ["required", "unknown_field"]


@pytest.mark.parametrize(("container", "inner"), DEPTH_CASES)
def test_nesting_of_33_levels_is_400(base_url: str, container: str, inner: bytes) -> None:
    body = nested(33, container, inner)
    assert body.count(b"[") + body.count(b"{") == 33
    assert_problem(post(base_url, body), 400, "invalid_json")


def test_wrong_content_type_is_415(base_url: str) -> None:
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        None,
        "application/json; charset=latin-1",
    ):
        assert_problem(post(base_url, b'{"name": "x"}', content_type), 415, "unsupported_media_type")


def test_oversized_body_is_413_before_reading(base_url: str) -> None:
    request = (
        b"POST /api/echo/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\n\r\n{"
    )
    answer = raw(base_url, request)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"payload_too_large" in answer


def test_body_of_exactly_64_kib_is_read(base_url: str) -> None:
    padding = 64 * 1024 - len(b'{"name": ""}')
    response = post(base_url, b'{"name": "' + b"x" * padding + b'"}')
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("framing", "status", "code"),
    [
        (b"", 411, "length_required"),
        (b"Content-Length: -1\r\n", 400, "invalid_request"),
        (b"Content-Length: abc\r\n", 400, "invalid_request"),
        (b"Content-Length: 1\r\nContent-Length: 2\r\n", 400, "invalid_request"),
        (b"Transfer-Encoding: chunked\r\n", 411, "length_required"),
    ],
)
def test_content_length_framing(base_url: str, framing: bytes, status: int, code: str) -> None:
    request = (
        b"POST /api/echo/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing + b"\r\n"
    )
    answer = raw(base_url, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()), head
    assert json.loads(body)["code"] == code
    assert b"application/problem+json" in head


@pytest.fixture(scope="module")
def impatient_url(environment: None) -> Iterator[str]:
    """The echo function with a short socket timeout, so a stalled client costs the test little."""

    class handler(Endpoint):  # noqa: N801 (the Vercel name)
        route = ECHO
        timeout = 0.5

    yield from serving(handler)


def test_a_body_that_stalls_before_its_content_length_is_400(impatient_url: str) -> None:
    # Two of the fifty announced bytes, then nothing (the connection stays open): when the read
    # times out, the answer is the one a half-closed connection gets, never a 500.
    request = (
        b"POST /api/echo/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 50\r\n\r\n{}"
    )
    answer = raw(impatient_url, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "invalid_request"
    assert json.loads(body)["detail"] == "The body is shorter than its Content-Length"


def test_a_body_cut_short_by_a_half_closed_connection_is_400(base_url: str) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/echo/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50\r\n\r\n{}"
        )
        sock.shutdown(socket.SHUT_WR)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(body)["code"] == "invalid_request"


def test_validation_errors_name_each_field(base_url: str) -> None:
    response = post(base_url, b'{"count": "3", "extra": 1}')
    body = assert_problem(response, 422, "validation_error")
    codes = {entry["field"]: entry["code"] for entry in body["errors"]}
    assert codes == {"name": "required", "count": "type", "extra": "unknown_field"}
    assert body["detail"] == "3 fields are invalid"


def test_float_for_integer_is_422(base_url: str) -> None:
    body = assert_problem(post(base_url, b'{"name": "x", "count": 1.5}'), 422, "validation_error")
    assert body["errors"][0]["field"] == "count"


def test_unexpected_exception_is_generic_500(base_url: str, capfd: pytest.CaptureFixture[str]) -> None:
    response = requests.delete(f"{base_url}/api/echo/a", headers={"X-Request-Id": "trace-me-1"}, timeout=5)
    body = assert_problem(response, 500, "internal_error")
    assert "secret-detail" not in response.text
    assert "SELECT" not in response.text
    assert body["request_id"] == "trace-me-1"
    logged = capfd.readouterr().err
    assert "trace-me-1" in logged
    assert "RuntimeError" in logged


def test_typed_error_maps_to_its_problem(base_url: str) -> None:
    response = requests.put(f"{base_url}/api/echo/a", json={"name": "x"}, timeout=5)
    body = assert_problem(response, 409, "conflict")
    assert body["detail"] == "already there"


def test_malformed_request_line_is_problem_json(base_url: str) -> None:
    answer = raw(base_url, b"GET /api/echo/a HTTP/9.9\r\n\r\n")
    assert b"application/problem+json" in answer


def test_a_framing_error_is_logged_as_one_request_line_without_its_query(
    base_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # Answered by send_error before the pipeline runs; the line is written before the
    # connection closes, so it is there once the answer has been read.
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    answer = raw(base_url, b"GET /api/echo/a?password=secret-in-query HTTP/1.1\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431")
    logged = capfd.readouterr().err
    assert "secret-in-query" not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.strip()]
    assert [(entry["event"], entry["path"], entry["status"]) for entry in lines] == [
        ("request", "/api/echo/a", 431)
    ]


def test_too_many_headers_is_431(base_url: str) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    answer = raw(base_url, b"GET /api/echo/a HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431")


def test_client_ip_is_the_socket_peer_off_vercel(base_url: str) -> None:
    # VERCEL is unset here: the forwarding headers are the client's own words, not the platform's.
    spoofed = {"X-Forwarded-For": "203.0.113.9, 10.0.0.1", "X-Real-IP": "198.51.100.2"}
    response = requests.get(f"{base_url}/api/echo/a", headers=spoofed, timeout=5)
    assert response.json()["ip"] == "127.0.0.1"


def test_cors_allowed_origin(base_url: str) -> None:
    origin = "https://app.example.com"
    response = requests.get(f"{base_url}/api/echo/a", headers={"Origin": origin}, timeout=5)
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = requests.options(
        f"{base_url}/api/echo/a",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_cors_localhost_in_development(base_url: str) -> None:
    origin = "http://localhost:5173"
    response = requests.get(f"{base_url}/api/echo/a", headers={"Origin": origin}, timeout=5)
    assert response.headers["Access-Control-Allow-Origin"] == origin


def test_cors_disallowed_origin_gets_no_allow_origin(base_url: str) -> None:
    origin = "https://evil.example.net"
    response = requests.get(f"{base_url}/api/echo/a", headers={"Origin": origin}, timeout=5)
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = requests.options(
        f"{base_url}/api/echo/a",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert preflight.status_code == 403


# --------------------------------------------------------------------------- one function, two routes


def test_the_path_picks_the_route(two_routes_url: str) -> None:
    one = requests.get(f"{two_routes_url}/api/echo/a?q=x", timeout=5)
    assert one.status_code == 200
    assert one.json()["params"] == {"id": "a"}
    assert one.json()["query"] == {"q": "x"}
    item = requests.get(f"{two_routes_url}/api/echo/a/items/b", timeout=5)
    assert item.status_code == 200
    assert item.json()["params"] == {"id": "a", "item_id": "b"}
    assert item.json()["query"] is None
    assert_problem(requests.get(f"{two_routes_url}/api/echo/a/items", timeout=5), 404, "not_found")


def test_the_request_log_names_the_matched_route(
    two_routes_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    requests.get(f"{two_routes_url}/api/echo/a/items/b", headers={"X-Request-Id": "which-route-1"}, timeout=5)
    requests.get(f"{two_routes_url}/api/echo/a", headers={"X-Request-Id": "which-route-2"}, timeout=5)
    # The server writes its log line after the response is sent: read until both lines are there.
    routes: dict[str, str] = {}
    captured = ""
    for _ in range(200):
        captured += capfd.readouterr().err
        logged = [json.loads(line) for line in captured.splitlines() if "which-route-" in line]
        routes = {entry["request_id"]: entry["route"] for entry in logged}
        if len(routes) == 2:
            break
        time.sleep(0.01)
    assert routes == {"which-route-1": "/api/echo/{id}/items/{item_id}", "which-route-2": "/api/echo/{id}"}


def test_each_route_strips_its_own_dynamic_segments_from_the_query(two_routes_url: str) -> None:
    # As Vercel delivers a rewritten request: the segments of both paths may be appended,
    # or only those the rewrite's destination names (here `id`).
    for query in ("id=a&item_id=b", "id=a", "item_id=b", ""):
        item = requests.get(f"{two_routes_url}/api/echo/a/items/b?{query}", timeout=5)
        assert item.status_code == 200, (query, item.text)
        assert item.json()["params"] == {"id": "a", "item_id": "b"}
    assert_problem(requests.get(f"{two_routes_url}/api/echo/a/items/b?q=x", timeout=5), 400, "invalid_query")
    assert_problem(requests.get(f"{two_routes_url}/api/echo/a?item_id=b", timeout=5), 400, "invalid_query")
    # Named like a segment, valued otherwise: a caller's parameter, and an unknown one.
    for query in ("id=a&item_id=c", "id=b&item_id=b", "id=x", "item_id=a"):
        response = requests.get(f"{two_routes_url}/api/echo/a/items/b?{query}", timeout=5)
        assert_problem(response, 400, "invalid_query")


def test_each_route_has_its_own_methods(two_routes_url: str) -> None:
    response = requests.delete(f"{two_routes_url}/api/echo/a/items/b", timeout=5)
    body = assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert body["instance"] == "/api/echo/a/items/b"
    options = requests.options(f"{two_routes_url}/api/echo/a/items/b", timeout=5)
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert requests.options(f"{two_routes_url}/api/echo/a", timeout=5).headers["Allow"] == (
        "GET, HEAD, POST, DELETE, PUT, OPTIONS"
    )
    head = requests.head(f"{two_routes_url}/api/echo/a/items/b", timeout=5)
    assert head.status_code == 200
    assert head.content == b""


def test_a_handler_declares_its_routes_once_and_for_one_file() -> None:
    other_file = Route("/api/other", dict(ECHO.operations), vercel_file="api/other.py")
    with pytest.raises(TypeError, match="both route and routes"):

        class both(Endpoint):  # noqa: N801
            route = ECHO
            routes = (ECHO, ECHO_ITEM)

    with pytest.raises(TypeError, match="exactly one api/ file"):

        class two_files(Endpoint):  # noqa: N801
            routes = (ECHO, other_file)

    with pytest.raises(TypeError, match="exactly one api/ file"):

        class none(Endpoint):  # noqa: N801
            pass
