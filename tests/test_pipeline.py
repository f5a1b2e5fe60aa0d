"""lib.pipeline.handle with no socket and no stack: the contract's order of checks, problems, headers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, StrictInt

from lib.contract.routing import Operation, Route
from lib.http.problems import Conflict
from lib.http.response import Response, json_response
from lib.pipeline import handle, refuse_framing
from lib.supabase.caller import Anonymous, Call
from tests.resources import fakes


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: StrictInt = 0


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = None


SEEN: list[Any] = []


def echo(call: Anonymous[Body | None, Args | None]) -> Response:
    """Echo what the pipeline parsed."""
    SEEN.append(call)
    body = call.body.model_dump() if call.body else None
    query = call.query.model_dump() if call.query else None
    return json_response({"params": dict(call.request.params), "query": query, "body": body})


def whoami(call: Call[Body | None, Args | None]) -> Response:
    """The caller the pipeline authenticated."""
    SEEN.append(call)
    return json_response({"user": call.caller.user_id, "role": call.caller.role})


def explode(call: Anonymous[None, None]) -> Response:
    """An unexpected failure, carrying something that must not leak."""
    raise RuntimeError("secret-detail-from-upstream SELECT * FROM users")


def conflict(call: Anonymous[Body, None]) -> Response:
    """A typed error."""
    raise Conflict("already there")


OPEN = Route(
    "/api/open/{id}",
    {
        "GET": Operation("tests.test_pipeline:echo", "echo", auth="none", rate_limit="read", query=Args),
        "POST": Operation("tests.test_pipeline:echo", "echo", auth="none", body=Body),
        "DELETE": Operation("tests.test_pipeline:explode", "explode", auth="none"),
        "PUT": Operation("tests.test_pipeline:conflict", "conflict", auth="none", body=Body),
    },
    vercel_file="api/open/[id].py",
)
SIGNED_IN = Route(
    "/api/mine",
    {
        "GET": Operation("tests.test_pipeline:whoami", "who", rate_limit="read", query=Args),
        "POST": Operation("tests.test_pipeline:whoami", "who", rate_limit="read", body=Body),
        "PUT": Operation("tests.test_pipeline:whoami", "admins", body=Body, permission="users.manage"),
    },
    vercel_file="api/mine.py",
)
ROUTES = (OPEN, SIGNED_IN)


def answer(
    method: str, target: str, values: dict[str, str] | None = None, body: bytes = b"", **kwargs: Any
) -> Response:
    return handle(fakes.incoming(method, target, values, body), ROUTES, fakes.deps(**kwargs))


def problem(response: Response) -> dict[str, Any]:
    assert response.headers["Content-Type"] == "application/problem+json"
    document: dict[str, Any] = json.loads(response.body)
    assert document["request_id"] == response.headers["X-Request-Id"]
    return document


def json_post(body: object, **headers: str) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    return {"Content-Type": "application/json", "Content-Length": str(len(raw)), **headers}, raw


@pytest.fixture(autouse=True)
def forget() -> None:
    SEEN.clear()


def test_a_handler_gets_the_parsed_request_and_its_validated_input() -> None:
    response = answer("GET", "/api/open/abc?q=x")
    assert response.status == 200
    assert json.loads(response.body) == {"params": {"id": "abc"}, "query": {"q": "x"}, "body": None}
    assert isinstance(SEEN[0].query, Args)
    headers, raw = json_post({"name": "a", "count": 2})
    response = answer("POST", "/api/open/abc", headers, raw)
    assert json.loads(response.body)["body"] == {"name": "a", "count": 2}
    assert isinstance(SEEN[1].body, Body)


def test_every_answer_carries_the_common_headers() -> None:
    response = answer("GET", "/api/open/abc", {"X-Request-Id": "trace-1"})
    assert response.headers["X-Request-Id"] == "trace-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["Vary"] == "Authorization, Cookie, Origin"
    assert "Strict-Transport-Security" not in response.headers  # development
    assert answer("GET", "/api/open/abc", APP_ENV="production").headers["Strict-Transport-Security"]


def test_an_unknown_path_is_404() -> None:
    response = answer("GET", "/api/nowhere")
    assert response.status == 404
    assert problem(response)["code"] == "not_found"


def test_an_undeclared_method_is_405_with_allow() -> None:
    response = answer("PATCH", "/api/open/abc")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD, POST, DELETE, PUT, OPTIONS"
    assert problem(response)["code"] == "method_not_allowed"


def test_preflight() -> None:
    plain = answer("OPTIONS", "/api/open/abc")
    assert (plain.status, plain.headers["Allow"]) == (204, "GET, HEAD, POST, DELETE, PUT, OPTIONS")
    asked = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    allowed = answer("OPTIONS", "/api/open/abc", asked)
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert allowed.body == b""
    refused = answer("OPTIONS", "/api/open/abc", {**asked, "Origin": "https://evil.example"})
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_framing_comes_before_authentication() -> None:
    response = answer("POST", "/api/mine", {"Content-Type": "text/plain", "Content-Length": "2"}, b"{}")
    assert response.status == 415


def test_authentication_comes_before_validation() -> None:
    headers, raw = json_post({"name": 1})
    assert answer("POST", "/api/mine", headers, raw).status == 401
    signed_in = {**headers, "Authorization": f"Bearer {fakes.token()}"}
    assert problem(answer("POST", "/api/mine", signed_in, raw))["code"] == "validation_error"


def test_the_rate_limit_comes_before_validation() -> None:
    counter = fakes.GenerousCounter()
    counter.spent = True
    response = answer("GET", "/api/open/abc?unknown=1", counter=counter)
    assert response.status == 429
    assert response.headers["Retry-After"]


def test_validation_comes_before_authorisation() -> None:
    member = {"Authorization": f"Bearer {fakes.token('member')}"}
    headers, raw = json_post({"name": 1}, **member)
    assert answer("PUT", "/api/mine", headers, raw).status == 422
    headers, raw = json_post({"name": "ok"}, **member)
    assert problem(answer("PUT", "/api/mine", headers, raw))["code"] == "forbidden"
    admin = {"Authorization": f"Bearer {fakes.token('admin')}"}
    headers, raw = json_post({"name": "ok"}, **admin)
    assert answer("PUT", "/api/mine", headers, raw).status == 200


def test_the_caller_is_typed_and_stays_with_its_request() -> None:
    one = answer("GET", "/api/mine", {"Authorization": f"Bearer {fakes.token('admin')}"})
    assert json.loads(one.body) == {"user": fakes.USER_ID, "role": "admin"}
    other = fakes.token("member", user_id=fakes.OTHER_ID)
    two = answer("GET", "/api/mine", {"Authorization": f"Bearer {other}"})
    assert json.loads(two.body) == {"user": fakes.OTHER_ID, "role": "member"}
    assert [call.caller.user_id for call in SEEN] == [fakes.USER_ID, fakes.OTHER_ID]


def test_rate_limit_headers_come_from_the_requests_context() -> None:
    counter = fakes.GenerousCounter()
    ok = answer("GET", "/api/open/abc", counter=counter)
    assert ok.headers["RateLimit-Policy"] == '"read";q=600;w=60'
    assert ok.headers["RateLimit"].startswith('"read";r=')
    # An error raised after the limit was taken carries the headers too.
    refused = answer("GET", "/api/open/abc?unknown=1", counter=counter)
    assert refused.status == 400
    assert refused.headers["RateLimit-Policy"] == '"read";q=600;w=60'
    # A route without a limit has none.
    assert "RateLimit" not in answer("DELETE", "/api/open/abc").headers


def test_a_typed_error_maps_to_its_problem() -> None:
    headers, raw = json_post({"name": "a"})
    response = answer("PUT", "/api/open/abc", headers, raw)
    assert response.status == 409
    document = problem(response)
    assert (document["code"], document["instance"]) == ("conflict", "/api/open/abc")
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unknown_error_is_a_generic_500_with_its_request_id_logged(
    capfd: pytest.CaptureFixture[str],
) -> None:
    response = answer("DELETE", "/api/open/abc", {"X-Request-Id": "boom-1"})
    assert response.status == 500
    assert problem(response)["code"] == "internal_error"
    assert b"secret-detail" not in response.body
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    failure = next(line for line in lines if line["event"] == "unhandled_exception")
    assert failure["request_id"] == "boom-1"
    assert "secret-detail-from-upstream" in failure["traceback"]
    logged = next(line for line in lines if line["event"] == "request")
    assert (logged["status"], logged["route"], logged["request_id"]) == (500, "/api/open/{id}", "boom-1")


def test_one_request_line_names_the_caller_and_never_the_query(capfd: pytest.CaptureFixture[str]) -> None:
    answer("GET", "/api/mine?q=secret-value", {"Authorization": f"Bearer {fakes.token()}"})
    err = capfd.readouterr().err
    assert "secret-value" not in err
    (line,) = [json.loads(line) for line in err.splitlines()]
    assert (line["path"], line["user_id"], line["status"]) == ("/api/mine", fakes.USER_ID, 200)


def test_a_framing_error_is_a_problem_and_one_request_line(capfd: pytest.CaptureFixture[str]) -> None:
    response = refuse_framing(431, None, "/api/open/x?token=abc", "GET", fakes.deps())
    assert response.status == 431
    assert problem(response)["code"] == "header_fields_too_large"
    (line,) = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert (line["path"], line["status"]) == ("/api/open/x", 431)


def test_nothing_of_a_request_reaches_the_next() -> None:
    counter = fakes.GenerousCounter()
    answer("GET", "/api/open/abc", counter=counter)
    after = answer("DELETE", "/api/open/abc", counter=counter)
    assert "RateLimit" not in after.headers
