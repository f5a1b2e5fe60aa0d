"""CORS and security headers (docs/api.md §5) on the real routes.

Over real HTTP against the local stack's API, which runs in development: any
http://localhost:<port> or http://127.0.0.1:<port> is allowed there. The rules
that depend on the deployment (the Vercel URLs, production and preview without
localhost, HSTS) are checked on `lib.http.cors` with resolved settings, and on the
real route handlers served in-process with a production or preview environment.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from devstack.stack_settings import StackSettings
from lib import config
from lib.config import resolve_settings
from lib.contract import routes
from lib.contract.routing import Route
from lib.http import cors
from lib.http.endpoint import Endpoint
from tests.factories import User, create_user, create_vehicle, north_american_vin
from tests.support import ApiClient, assert_problem, random_ip

# The contract's lists, spelled out here rather than imported from lib.http.cors.
ALLOW_HEADERS = (
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-CSRF-Token, X-Request-Id"
)
EXPOSE_HEADERS = "ETag, Location, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id, Idempotent-Replayed"
HSTS = "max-age=63072000; includeSubDomains"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)
ALLOWED_IN_DEVELOPMENT = ("http://localhost:5173", "http://127.0.0.1:8080", "http://localhost")
DISALLOWED_IN_DEVELOPMENT = (
    "https://evil.example",
    "http://127.0.0.2:5173",  # loopback, but not one of the two development hosts
    "https://localhost:5173",  # development allows plain http only
    "http://localhost.evil.example",
    "http://evil-localhost:5173",
    "http://localhost:5173.evil.example",
    "http://127.0.0.1.nip.io:5173",
    "http://[::1]:5173",
    "null",
)


def vary(response: requests.Response) -> list[str]:
    return [name.strip().lower() for name in response.headers.get("Vary", "").split(",")]


def assert_no_cors(response: requests.Response) -> None:
    present = [name for name in CORS_HEADERS if name in response.headers]
    assert present == [], f"a disallowed origin got {present}"
    assert "origin" in vary(response)


def assert_actual_cors(response: requests.Response, origin: str) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Expose-Headers"] == EXPOSE_HEADERS
    assert "origin" in vary(response)


def preflight(api: ApiClient, path: str, origin: str, method: str = "POST") -> requests.Response:
    return api.request(
        "OPTIONS",
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, x-csrf-token, idempotency-key",
        },
    )


@pytest.fixture
def api(api: ApiClient) -> ApiClient:
    """The API from a fresh client IP, so anonymous calls here use no shared rate-limit bucket."""
    return ApiClient(api.base_url, {"X-Forwarded-For": random_ip()})


@pytest.fixture
def member(db: psycopg.Connection[Any], stack_settings: StackSettings) -> User:
    return create_user(db, stack_settings)


# --------------------------------------------------------------------------- preflight


@pytest.mark.parametrize("origin", ALLOWED_IN_DEVELOPMENT)
def test_preflight_from_an_allowed_origin(api: ApiClient, origin: str) -> None:
    response = preflight(api, "vehicles", origin)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == ALLOW_HEADERS
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "origin" in vary(response)
    assert "Set-Cookie" not in response.headers
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


SOME_ID = "7b0e5b8e-4a8a-4c4e-9a57-0f3c2d1e9b21"


@pytest.mark.parametrize(
    ("route", "path"),
    [
        pytest.param(route, path, id=route.path)
        for route, path in (
            (routes.VEHICLE, f"vehicles/{SOME_ID}"),
            (routes.MAINTENANCE, f"vehicles/{SOME_ID}/maintenance"),
            (routes.LOGIN, "auth/login"),
            (routes.LOGOUT, "auth/logout"),
            (routes.ME, "me"),
            (routes.ADMIN_USER_ROLE, f"admin/users/{SOME_ID}/role"),
            (routes.VIN, "vin/1HGCM82633A004352"),
        )
    ],
)
def test_preflight_lists_each_routes_methods_and_needs_no_credentials(
    api: ApiClient, route: Route, path: str
) -> None:
    origin = "http://localhost:3001"
    response = preflight(api, path, origin, method=next(iter(route.operations)))
    assert response.status_code == 204, response.text
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Methods"] == ", ".join(route.allowed_methods())
    assert response.headers["Access-Control-Allow-Headers"] == ALLOW_HEADERS
    assert response.headers["Access-Control-Max-Age"] == "600"


@pytest.mark.parametrize("origin", DISALLOWED_IN_DEVELOPMENT)
def test_preflight_from_a_disallowed_origin(api: ApiClient, origin: str) -> None:
    response = preflight(api, "vehicles", origin)
    assert_problem(response, 403, "forbidden")
    assert_no_cors(response)


# --------------------------------------------------------------------------- actual responses


def test_success_to_an_allowed_origin(api: ApiClient, member: User, db: psycopg.Connection[Any]) -> None:
    origin = "http://localhost:5173"
    vehicle = create_vehicle(db, member)
    listed = api.get("vehicles", headers={**member.headers, "Origin": origin})
    assert listed.status_code == 200, listed.text
    assert_actual_cors(listed, origin)
    assert vary(listed) == ["authorization", "cookie", "origin"]
    one = api.get(f"vehicles/{vehicle['id']}", headers={**member.headers, "Origin": origin})
    assert_actual_cors(one, origin)
    created = api.post(
        "vehicles",
        json={"vin": north_american_vin(), "make": "Mazda", "model": "3", "model_year": 2019},
        headers={**member.headers, "Origin": origin},
    )
    assert created.status_code == 201, created.text
    assert_actual_cors(created, origin)
    # What a script must be able to read is exposed (the rate-limit headers too).
    exposed = {name.strip().lower() for name in created.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "location", "x-request-id", "ratelimit", "ratelimit-policy"} <= exposed


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "kwargs"),
    [
        ("GET", "vehicles", 401, "unauthorized", {}),
        ("GET", "me", 401, "unauthorized", {"headers": {"Authorization": "Bearer nonsense"}}),
        ("POST", "health", 405, "method_not_allowed", {}),
        ("GET", "vin/TOO-SHORT", 422, "validation_error", {}),
        ("GET", "openapi.json?x=1", 400, "invalid_query", {}),
        (
            "POST",
            "auth/login",
            415,
            "unsupported_media_type",
            {"data": b"x", "headers": {"Content-Type": "text/plain"}},
        ),
    ],
)
def test_errors_to_an_allowed_origin_are_readable(
    api: ApiClient, method: str, path: str, status: int, code: str, kwargs: dict[str, Any]
) -> None:
    origin = "http://127.0.0.1:5500"
    headers = {"Origin": origin, "X-Forwarded-For": random_ip(), **kwargs.pop("headers", {})}
    response = api.request(method, path, headers=headers, **kwargs)
    assert_problem(response, status, code)
    assert_actual_cors(response, origin)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_not_found_to_an_allowed_origin_is_readable(api: ApiClient, member: User) -> None:
    origin = "http://localhost:4200"
    response = api.get(f"vehicles/{uuid.uuid4()}", headers={**member.headers, "Origin": origin})
    assert_problem(response, 404, "not_found")
    assert_actual_cors(response, origin)


def test_rate_limited_refusal_to_an_allowed_origin_is_readable(api: ApiClient) -> None:
    origin = "http://localhost:5173"
    body = {"email": f"cors-{uuid.uuid4().hex[:10]}@example.test", "password": "not-the-password"}
    statuses: list[int] = []
    while not statuses or statuses[-1] == 401:
        assert len(statuses) <= 50, "the login limit never refused"
        refused = api.post("auth/login", json=body, headers={"Origin": origin})
        statuses.append(refused.status_code)
    assert_problem(refused, 429, "rate_limited")
    assert_actual_cors(refused, origin)
    assert int(refused.headers["Retry-After"]) >= 1
    assert "retry-after" in refused.headers["Access-Control-Expose-Headers"].lower()


@pytest.mark.parametrize("origin", DISALLOWED_IN_DEVELOPMENT)
def test_a_disallowed_origin_gets_no_cors_headers(api: ApiClient, member: User, origin: str) -> None:
    ok = api.get("vehicles", headers={**member.headers, "Origin": origin})
    assert ok.status_code == 200  # the server answers; only the browser refuses it to the page
    assert_no_cors(ok)
    assert_no_cors(api.get("vehicles", headers={"Origin": origin}))
    assert_no_cors(api.get("vin/1HGCM82633A004352", headers={"Origin": origin}))


def test_every_response_varies_on_origin(api: ApiClient, member: User) -> None:
    calls: list[tuple[str, str, dict[str, str]]] = [
        ("GET", "health", {}),
        ("GET", "vin/1HGCM82633A004352", {}),
        ("GET", "openapi.json", {}),
        ("GET", "docs", {}),
        ("GET", "vehicles", member.headers),
        ("GET", "me", member.headers),
        ("GET", "vehicles", {}),
        ("DELETE", "health", {}),
        ("OPTIONS", "vehicles", {}),
        ("OPTIONS", "vehicles", {"Access-Control-Request-Method": "GET"}),
        ("GET", f"vehicles/{uuid.uuid4()}", member.headers),
    ]
    for origin in (None, "http://localhost:5173", "https://evil.example"):
        for method, path, headers in calls:
            sent = {**headers, **({"Origin": origin} if origin else {})}
            response = api.request(method, path, headers=sent)
            assert "origin" in vary(response), (method, path, origin, response.headers.get("Vary"))
            if response.headers.get("Cache-Control") == "private, no-cache":
                assert vary(response) == ["authorization", "cookie", "origin"]


def test_options_without_preflight_headers_answers_allow(api: ApiClient) -> None:
    response = api.request("OPTIONS", "vehicles")
    assert response.status_code == 204
    assert response.headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    assert "Access-Control-Allow-Origin" not in response.headers


# --------------------------------------------------------------------------- security headers


@pytest.mark.parametrize("path", ["health", "vin/1HGCM82633A004352", "openapi.json", "docs", "vehicles"])
def test_security_headers_in_development(api: ApiClient, path: str) -> None:
    response = api.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (path, name)
    assert "Strict-Transport-Security" not in response.headers  # plain http in development
    assert response.headers["X-Request-Id"]


# --------------------------------------------------------------------------- lib.http.cors by environment

VERCEL = {
    "VERCEL_URL": "vehicle-api-abc123-team.vercel.app",
    "VERCEL_BRANCH_URL": "vehicle-api-git-feature-x-team.vercel.app",
    "VERCEL_PROJECT_PRODUCTION_URL": "vehicles.example.com",
}


def deployment(environment: str, **extra: str) -> dict[str, str]:
    """A complete environment of a deployed function (no development defaults apply)."""
    return {
        "APP_ENV": environment,
        "SUPABASE_URL": "https://abcdefghijklmnop.supabase.co",
        "SUPABASE_PUBLISHABLE_KEY": "sb_publishable_test_key_for_cors",
        "SUPABASE_SECRET_KEY": "sb_secret_test_key_for_cors",
        "ALLOWED_ORIGINS": "https://app.example.com, https://Admin.Example.com:8443",
        **VERCEL,
        **extra,
    }


@pytest.mark.parametrize("environment", ["production", "preview"])
def test_deployed_origins(tmp_path: Path, environment: str) -> None:
    settings = resolve_settings(deployment(environment), root=tmp_path)
    allowed = [
        "https://vehicle-api-abc123-team.vercel.app",
        "https://vehicle-api-git-feature-x-team.vercel.app",
        "https://vehicles.example.com",
        "https://VEHICLES.example.com",
        "https://app.example.com",
        "https://admin.example.com:8443",
    ]
    refused = [
        "http://vehicle-api-abc123-team.vercel.app",  # the Vercel URLs are https only
        "https://vehicle-api-abc123-team.vercel.app:8443",
        "https://evil.vercel.app",
        "https://vehicles.example.com.evil.example",
        "https://admin.example.com",  # configured with a port
        "http://localhost:3000",  # development only
        "http://127.0.0.1:3000",
        "http://localhost",
        "null",
        "",
        None,
    ]
    for origin in allowed:
        assert cors.is_allowed(origin, settings), origin
        assert cors.response_headers(origin, settings)["Access-Control-Allow-Origin"] == origin
    for refused_origin in refused:
        assert not cors.is_allowed(refused_origin, settings), refused_origin
        assert cors.response_headers(refused_origin, settings) == {}


def test_development_adds_local_origins_only(tmp_path: Path) -> None:
    settings = resolve_settings(
        {"APP_ENV": "development", "ALLOWED_ORIGINS": "https://app.example.com"}, tmp_path
    )
    for origin in (*ALLOWED_IN_DEVELOPMENT, "http://127.0.0.1:65535", "https://app.example.com"):
        assert cors.is_allowed(origin, settings), origin
    for origin in DISALLOWED_IN_DEVELOPMENT:
        assert not cors.is_allowed(origin, settings), origin


def test_vercel_urls_unset_add_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in deployment("production").items() if k not in VERCEL}
    env["ALLOWED_ORIGINS"] = ""
    settings = resolve_settings(env, tmp_path)
    assert cors.allowed_origins(settings) == frozenset()
    assert not cors.is_allowed("https://", settings)
    assert not cors.is_allowed("https://None", settings)


def test_an_inline_jwks_does_not_break_cors(tmp_path: Path) -> None:
    # Settings holding SUPABASE_JWKS is unhashable; CORS must not need to hash it.
    jwks = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "AA", "y": "AA"}]})
    settings = resolve_settings({**deployment("production"), "SUPABASE_JWKS": jwks}, tmp_path)
    assert cors.is_allowed("https://app.example.com", settings)
    assert not cors.is_allowed("https://evil.example", settings)


def test_preflight_headers_are_the_contracts() -> None:
    headers = cors.preflight_headers("https://app.example.com", ["GET", "HEAD", "OPTIONS"])
    assert headers == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": "600",
    }


# --------------------------------------------------------------------------- deployed, in-process

# Routes that answer without Supabase: preflights, 401 before any upstream call, the documents.
SERVED = {
    "vehicles": routes.VEHICLES,
    "vehicle": routes.VEHICLE,
    "openapi": routes.OPENAPI,
    "docs": routes.DOCS,
}


@contextmanager
def serving(env: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """The real route handlers in this process, with `env` as the whole configuration."""
    mp = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith(("SUPABASE_", "APP_ENV", "VERCEL", "ALLOWED_ORIGINS", "NEXT_PUBLIC_")):
            mp.delenv(name)
    for name, value in env.items():
        mp.setenv(name, value)
    config.get_settings.cache_clear()
    servers: list[ThreadingHTTPServer] = []
    try:
        urls: dict[str, str] = {}
        for name, route in SERVED.items():
            handler = type("handler", (Endpoint,), {"route": route})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            servers.append(server)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            urls[name] = f"http://127.0.0.1:{server.server_address[1]}"
        yield urls
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        mp.undo()
        config.get_settings.cache_clear()


@pytest.fixture(scope="module", params=["production", "preview"])
def deployed(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    jwks = json.dumps({"keys": []})  # a deployment on Supabase's asymmetric keys
    with serving(deployment(request.param, SUPABASE_JWKS=jwks)) as urls:
        yield urls


def test_deployed_preflight_and_hsts(deployed: dict[str, str]) -> None:
    origin = "https://vehicle-api-git-feature-x-team.vercel.app"
    response = requests.options(
        f"{deployed['vehicles']}/api/vehicles",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Headers"] == ALLOW_HEADERS
    assert response.headers["Strict-Transport-Security"] == HSTS
    refused = requests.options(
        f"{deployed['vehicles']}/api/vehicles",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert refused.status_code == 403
    assert_no_cors(refused)
    assert refused.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.parametrize("origin", ["https://vehicles.example.com", "https://app.example.com"])
def test_deployed_errors_and_documents_carry_cors_and_hsts(deployed: dict[str, str], origin: str) -> None:
    unauthorised = requests.get(f"{deployed['vehicles']}/api/vehicles", headers={"Origin": origin}, timeout=5)
    assert_problem(unauthorised, 401, "unauthorized")
    one = requests.delete(
        f"{deployed['vehicle']}/api/vehicles/{uuid.uuid4()}", headers={"Origin": origin}, timeout=5
    )
    assert_problem(one, 401, "unauthorized")
    not_allowed = requests.post(
        f"{deployed['openapi']}/api/openapi.json", headers={"Origin": origin}, timeout=5
    )
    assert_problem(not_allowed, 405, "method_not_allowed")
    document = requests.get(f"{deployed['openapi']}/api/openapi.json", headers={"Origin": origin}, timeout=5)
    docs = requests.get(f"{deployed['docs']}/api/docs", headers={"Origin": origin}, timeout=5)
    assert document.status_code == docs.status_code == 200
    for response in (unauthorised, one, not_allowed, document, docs):
        assert_actual_cors(response, origin)
        assert response.headers["Strict-Transport-Security"] == HSTS
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


def test_deployed_refuses_local_origins(deployed: dict[str, str]) -> None:
    for origin in ("http://localhost:3000", "http://127.0.0.1:3000", "http://vehicles.example.com"):
        response = requests.get(
            f"{deployed['openapi']}/api/openapi.json", headers={"Origin": origin}, timeout=5
        )
        assert response.status_code == 200
        assert_no_cors(response)
        assert response.headers["Strict-Transport-Security"] == HSTS


def test_development_in_process_has_no_hsts() -> None:
    with serving({"APP_ENV": "development"}) as urls:
        response = requests.get(
            f"{urls['openapi']}/api/openapi.json", headers={"Origin": "http://localhost:1"}, timeout=5
        )
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
    assert_actual_cors(response, "http://localhost:1")
