"""The runtime contract, under both vercel-runtime versions: what every function relies on.

Dynamic segments as query parameters, bodies, HEAD, 405 instead of the
runtime's own 501 page, and an unexpected exception answered as a problem+json
500 by a function that keeps serving. The same Endpoint class serves every
route, so three functions stand for all of them here; test_runtime.py runs
every function under the bundled runtime.
"""

from __future__ import annotations

import json
import uuid

import pytest

from devstack.stack import Stack
from tests.deploy.functions import RUNTIMES, Deployment
from tests.deploy.support import (
    HONDA_VIN,
    Caller,
    World,
    assert_same,
    request_headers,
    with_params,
)
from tests.factories import north_american_vin

VIN_PATH = f"/api/vin/{HONDA_VIN}"


@pytest.fixture(scope="module", params=RUNTIMES)
def call(request: pytest.FixtureRequest, deployment: Deployment, stack: Stack) -> Caller:
    """Requests under one runtime (the CLI's bundled one, then PyPI's), and to the dev server."""
    return Caller(deployment, str(request.param), stack)


def test_dynamic_segment_arrives_as_a_query_parameter(call: Caller) -> None:
    headers = request_headers()
    answer = call.function("api/vin/[vin]").invoke("GET", with_params(VIN_PATH, vin=HONDA_VIN), headers)
    assert answer.status == 200, answer.body
    assert answer.json()["vin"] == HONDA_VIN
    assert_same(answer, call.dev_server("GET", VIN_PATH, headers))


def test_head(call: Caller) -> None:
    headers = request_headers()
    answer = call.function("api/health").invoke("HEAD", "/api/health", headers)
    assert (answer.status, answer.body) == (200, b"")
    assert_same(answer, call.dev_server("HEAD", "/api/health", headers))


def test_json_body_and_created(call: Caller, world: World) -> None:
    body = {"vin": north_american_vin(), "make": "Honda", "model": "Jazz", "model_year": 2015}
    created = call.function("api/vehicles/index").invoke(
        "POST", "/api/vehicles", request_headers(world.member), json_body=body
    )
    assert created.status == 201, created.body
    location = created.header("Location")
    assert location is not None
    read = call.dev_server("GET", location, request_headers(world.member))
    assert read.json() == created.json()


def test_malformed_json_is_a_problem(call: Caller, world: World) -> None:
    headers = request_headers(world.member, **{"content-type": "application/json"})
    answer = call.function("api/vehicles/index").invoke("POST", "/api/vehicles", headers, body=b'{"vin": ')
    assert answer.status == 400
    assert answer.header("Content-Type") == "application/problem+json"
    dev_headers = {**headers, "content-length": "8"}
    dev = call.dev_server("POST", "/api/vehicles", dev_headers, raw_body=b'{"vin": ')
    assert_same(answer, dev)


@pytest.mark.parametrize(("name", "method"), [("api/health", "DELETE"), ("api/vin/[vin]", "BREW")])
def test_undeclared_method_is_a_405_problem(call: Caller, name: str, method: str) -> None:
    path = "/api/health" if name == "api/health" else with_params(VIN_PATH, vin=HONDA_VIN)
    dev_path = "/api/health" if name == "api/health" else VIN_PATH
    headers = request_headers()
    answer = call.function(name).invoke(method, path, headers)
    assert answer.status == 405, (answer.status, answer.body[:200])
    assert answer.header("Content-Type") == "application/problem+json"
    assert answer.json()["code"] == "method_not_allowed"
    assert_same(answer, call.dev_server(method, dev_path, headers))


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("api/health", "lib.resources.health:check_health"),
        ("api/vehicles/[id]/index", "lib.resources.vehicles:get_vehicle"),
    ],
)
def test_unexpected_exception_is_a_500_problem_and_the_instance_survives(
    call: Caller, world: World, name: str, target: str
) -> None:
    vehicle_id = world.vehicle["id"]
    path = (
        "/api/health" if name == "api/health" else with_params(f"/api/vehicles/{vehicle_id}", id=vehicle_id)
    )
    instance = call.function(name)
    headers = request_headers(world.member)
    with instance.failing(target):
        answer = instance.invoke("GET", path, headers)
    assert answer.status == 500, answer.body
    assert answer.header("Content-Type") == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "internal_error"
    assert problem["request_id"] == headers["x-request-id"] == answer.header("X-Request-Id")
    assert b"injected" not in answer.body, "no exception detail reaches the caller"
    assert instance.invoke("GET", path, request_headers(world.member)).status == 200, "the instance lives on"
    assert "failure injected by tests/deploy" in instance.log_text(), "the traceback is logged"


def test_one_structured_log_line_per_request_and_no_secret(
    call: Caller, deployment: Deployment, world: World
) -> None:
    # vercel-runtime subclasses the handler with a log_message that prints http.server's access
    # line (the request line, query included) to stdout: a second line per request.
    secret = "secret-" + uuid.uuid4().hex
    requests = [
        ("/api/health", 200),
        (f"/api/health?password={secret}", 400),
        (f"/api/nope?path=nope&access_token={secret}", 404),  # as the catch-all rewrite delivers it
    ]
    # Unbuffered, so the log holds each line when it is written: what the runtime prints at
    # cold start ("using HTTP Handler") is left out by starting to read after it.
    instance = deployment.start("api/health", call.runtime, env={"PYTHONUNBUFFERED": "1"})
    sent: list[str] = []
    try:
        instance.wait_ready()
        cold_start_output = len(instance.log_text())
        for path, status in requests:
            headers = request_headers(world.member)
            assert instance.invoke("GET", path, headers).status == status, path
            sent.append(headers["x-request-id"])
    finally:
        instance.close()
    text = instance.log_text()[cold_start_output:]
    assert secret not in text
    assert world.member.token not in text
    lines = [line for line in text.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # nothing but structured lines
    logged = [(r["request_id"], r["path"], r["status"]) for r in records if r["event"] == "request"]
    # The runtime may write a line after its response is on the wire, so lines of consecutive
    # requests can interleave: each request's one line matters, not their order.
    assert sorted(logged) == sorted(
        (request_id, path.partition("?")[0], status)
        for request_id, (path, status) in zip(sent, requests, strict=True)
    )
    assert len(records) == len(requests)
