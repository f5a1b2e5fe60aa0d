"""The local gateway's Supabase rules: API keys in Authorization, and CORS before the key check.

Most tests run the gateway in-process in front of a recording upstream (no stack),
so they see exactly which requests it forwards and with which headers. The last
ones drive the API on the session's stack and ask the gateway whether it had to
refuse anything the API sent.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from devstack.gateway import make_gateway
from devstack.gateway_state import ApiKeys, GatewayState, Upstream
from devstack.stack import Stack
from tests.factories import create_user, create_vehicle, north_american_vin
from tests.support import ApiClient, random_ip

KEYS = ApiKeys(
    publishable_key="sb_publishable_GATEWAYtest0000000000_publish",
    secret_key="sb_secret_GATEWAYtest0000000000_secret",
    anon_jwt="eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.anon-signature",
    service_role_jwt="eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.service-signature",
)
USER_JWT = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ1c2VyIn0.user-signature"
# What supabase-js and supabase-py send, and must be allowed to send from a page.
CLIENT_HEADERS = (
    "apikey",
    "authorization",
    "x-client-info",
    "content-type",
    "prefer",
    "range",
    "accept-profile",
    "content-profile",
    "x-supabase-api-version",
)
ORIGIN = "http://localhost:5173"


@dataclass
class Recorder:
    """What the fake upstream received: one (method, path, headers) per request."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _upstream(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with recorder.lock:
                recorder.requests.append(
                    (self.command, self.path, {name.lower(): value for name, value in self.headers.items()})
                )
            payload = b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Range", "0-0/1")
            # An upstream's own CORS answer, which the gateway's replaces (as Kong's does).
            self.send_header("Access-Control-Allow-Origin", "http://upstream.invalid")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_OPTIONS = _answer  # noqa: N815

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@dataclass
class LocalGateway:
    url: str
    recorder: Recorder
    state: GatewayState

    def forwarded(self) -> list[tuple[str, str, dict[str, str]]]:
        with self.recorder.lock:
            return list(self.recorder.requests)

    def authorization_sent(self) -> str | None:
        """The Authorization header of the one request forwarded so far."""
        (request,) = self.forwarded()
        return request[2].get("authorization")


@pytest.fixture
def local() -> Iterator[LocalGateway]:
    recorder = Recorder()
    upstream = _upstream(recorder)
    port = upstream.server_address[1]
    gateway, state = make_gateway(
        "127.0.0.1",
        0,
        (Upstream("/rest/v1", "127.0.0.1", port), Upstream("/auth/v1", "127.0.0.1", port)),
        KEYS,
    )
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in (upstream, gateway)]
    for thread in threads:
        thread.start()
    try:
        yield LocalGateway(f"http://127.0.0.1:{gateway.server_address[1]}", recorder, state)
    finally:
        for server in (gateway, upstream):
            server.shutdown()
            server.server_close()


def _get(local: LocalGateway, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{local.url}{path}", headers=headers, timeout=5)


# --------------------------------------------------------------------------- API keys in Authorization


@pytest.mark.parametrize(
    ("apikey", "bearer"),
    [
        pytest.param(KEYS.publishable_key, KEYS.secret_key, id="secret-key-next-to-the-publishable-key"),
        pytest.param(KEYS.secret_key, KEYS.publishable_key, id="publishable-key-next-to-the-secret-key"),
        pytest.param(KEYS.anon_jwt, KEYS.secret_key, id="secret-key-next-to-the-anon-jwt"),
        pytest.param(
            KEYS.service_role_jwt, KEYS.publishable_key, id="publishable-key-next-to-the-service-jwt"
        ),
        pytest.param(KEYS.publishable_key, "sb_secret_someone-elses-project", id="unknown-secret-key"),
        pytest.param(KEYS.publishable_key, "sb_publishable_another", id="another-publishable-key"),
    ],
)
@pytest.mark.parametrize("prefix", ["/rest/v1", "/auth/v1"])
def test_an_api_key_in_authorization_must_equal_the_apikey_header(
    local: LocalGateway, apikey: str, bearer: str, prefix: str
) -> None:
    path = f"{prefix}/vehicles" if prefix == "/rest/v1" else f"{prefix}/user"
    response = _get(local, path, {"apikey": apikey, "Authorization": f"Bearer {bearer}"})
    assert response.status_code == 401, response.text
    assert response.json()["message"]
    assert local.forwarded() == []
    # Refused or not, a browser page may read the answer (Kong adds CORS to its 401s).
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert dict(local.state.refusals) == {"api_key_in_authorization": 1}


@pytest.mark.parametrize(
    ("key", "role_jwt"),
    [
        (KEYS.publishable_key, KEYS.anon_jwt),
        (KEYS.secret_key, KEYS.service_role_jwt),
        (KEYS.anon_jwt, KEYS.anon_jwt),
        (KEYS.service_role_jwt, KEYS.service_role_jwt),
    ],
)
@pytest.mark.parametrize("authorization", ["none", "same-key"])
def test_a_key_alone_or_repeated_in_authorization_runs_as_its_role(
    local: LocalGateway, key: str, role_jwt: str, authorization: str
) -> None:
    headers = {"apikey": key} | ({"Authorization": f"Bearer {key}"} if authorization == "same-key" else {})
    response = _get(local, "/rest/v1/vehicles", headers)
    assert response.status_code == 200, response.text
    assert local.authorization_sent() == f"Bearer {role_jwt}"
    assert dict(local.state.refusals) == {}


@pytest.mark.parametrize("key", [KEYS.publishable_key, KEYS.secret_key])
def test_a_user_token_passes_through_with_either_key(local: LocalGateway, key: str) -> None:
    response = _get(local, "/rest/v1/vehicles", {"apikey": key, "Authorization": f"Bearer {USER_JWT}"})
    assert response.status_code == 200, response.text
    assert local.authorization_sent() == f"Bearer {USER_JWT}"


def test_the_apikey_query_parameter_counts_as_the_apikey_header(local: LocalGateway) -> None:
    path = f"/rest/v1/vehicles?apikey={KEYS.secret_key}"
    ok = _get(local, path, {"Authorization": f"Bearer {KEYS.secret_key}"})
    assert ok.status_code == 200, ok.text
    refused = _get(local, path, {"Authorization": f"Bearer {KEYS.publishable_key}"})
    assert refused.status_code == 401


def test_missing_and_unknown_keys_are_refused_and_counted(local: LocalGateway) -> None:
    assert _get(local, "/rest/v1/vehicles", {}).status_code == 401
    assert _get(local, "/rest/v1/vehicles", {"apikey": "sb_publishable_nope"}).status_code == 401
    assert local.forwarded() == []
    assert dict(local.state.refusals) == {"no_api_key": 1, "invalid_api_key": 1}
    assert requests.get(f"{local.url}/__devstack/refusals", timeout=5).json() == dict(local.state.refusals)
    requests.delete(f"{local.url}/__devstack/refusals", timeout=5).raise_for_status()
    assert dict(local.state.refusals) == {}


# --------------------------------------------------------------------------- CORS


@pytest.mark.parametrize(
    "path", ["/rest/v1/vehicles?select=*", "/rest/v1/rpc/list_vehicles", "/auth/v1/token"]
)
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_a_preflight_is_answered_before_the_key_check(local: LocalGateway, path: str, method: str) -> None:
    response = requests.options(
        f"{local.url}{path}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "apikey,authorization,x-client-info,content-type,x-custom",
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    methods = {name.strip() for name in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"} <= methods
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(CLIENT_HEADERS) <= allowed
    assert "x-custom" in allowed  # Kong echoes what the preflight asks for
    # Answered by the gateway: no key needed, nothing forwarded, nothing refused.
    assert local.forwarded() == []
    assert dict(local.state.refusals) == {}


def test_a_preflight_without_requested_headers_still_allows_the_client_headers(local: LocalGateway) -> None:
    response = requests.options(
        f"{local.url}/rest/v1/vehicles",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
        timeout=5,
    )
    assert response.status_code == 200
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(CLIENT_HEADERS) <= allowed


def test_a_plain_options_request_is_not_a_preflight(local: LocalGateway) -> None:
    # Without Access-Control-Request-Method it is an ordinary request: key rules apply.
    assert requests.options(f"{local.url}/rest/v1/vehicles", timeout=5).status_code == 401
    ok = requests.options(
        f"{local.url}/rest/v1/vehicles", headers={"apikey": KEYS.publishable_key}, timeout=5
    )
    assert ok.status_code == 200
    assert len(local.forwarded()) == 1


def test_actual_responses_carry_cors_headers(local: LocalGateway) -> None:
    response = _get(local, "/rest/v1/vehicles", {"Origin": ORIGIN, "apikey": KEYS.publishable_key})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # the upstream's is replaced
    exposed = {name.strip().lower() for name in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert "content-range" in exposed  # supabase-js reads counts from it
    assert response.headers["Content-Range"] == "0-0/1"


def test_unrouted_paths_get_no_cors_headers(local: LocalGateway) -> None:
    response = requests.options(
        f"{local.url}/storage/v1/object", headers={"Access-Control-Request-Method": "GET"}, timeout=5
    )
    assert response.status_code == 404
    assert "Access-Control-Allow-Origin" not in response.headers


# --------------------------------------------------------------------------- the API's own requests


def test_the_stack_gateway_refuses_a_secret_key_next_to_the_publishable_key(stack: Stack) -> None:
    s = stack.settings
    url = f"{s.supabase_url}/rest/v1/rpc/healthcheck"
    refused = requests.get(
        url, headers={"apikey": s.publishable_key, "Authorization": f"Bearer {s.secret_key}"}, timeout=5
    )
    assert refused.status_code == 401
    same = requests.get(
        url, headers={"apikey": s.secret_key, "Authorization": f"Bearer {s.secret_key}"}, timeout=5
    )
    assert same.status_code == 200
    preflight = requests.options(
        f"{s.supabase_url}/auth/v1/token?grant_type=password",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def _refusals(stack: Stack) -> dict[str, int]:
    response = requests.get(f"{stack.settings.supabase_url}/__devstack/refusals", timeout=5)
    response.raise_for_status()
    return dict(response.json())


def test_every_request_the_api_sends_upstream_passes_the_key_rules(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    s = stack.settings
    requests.delete(f"{s.supabase_url}/__devstack/refusals", timeout=5).raise_for_status()
    api = ApiClient(s.api_url, {"X-Forwarded-For": random_ip()})
    password = f"pw-{uuid.uuid4().hex}"
    member = create_user(db, s, password=password)
    admin = create_user(db, s, "admin")
    assert api.get("health").status_code == 200  # the anon client (publishable key)
    # Auth: login, refresh, logout (the Auth client, with the user's token for logout).
    login = api.post("auth/login", json={"email": member.email, "password": password})
    assert login.status_code == 200, login.text
    session = login.json()
    refreshed = api.post("auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    # Data: the user's client, and the rate limiter's secret-key client on every write.
    created = api.post(
        "vehicles",
        json={"vin": north_american_vin(), "make": "Opel", "model": "Astra", "model_year": 2019},
        headers=bearer,
    )
    assert created.status_code == 201, created.text
    assert api.get(f"vehicles/{created.json()['id']}", headers=bearer).status_code == 200
    vehicle = create_vehicle(db, admin)
    assert api.get(f"vehicles/{vehicle['id']}", headers=admin.headers).status_code == 200
    assert api.get("admin/users", headers=admin.headers).status_code == 200
    assert api.get("me", headers=bearer).status_code == 200
    assert api.post("auth/logout", headers=bearer).status_code == 204
    assert _refusals(stack) == {}


# --------------------------------------------------------------------------- a real browser page

SUPABASE_JS_LIKE = """
const out = {};
const common = {
  'apikey': KEY, 'x-client-info': 'supabase-js-web/2.x', 'x-supabase-api-version': '2024-01-01',
};
async function call(name, url, init) {
  try {
    const response = await fetch(url, init);
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    out[name] = {status: response.status, body, range: response.headers.get('content-range')};
  } catch (error) {
    out[name] = {error: error.name, message: String(error.message)};
  }
}
await call('login', URL + '/auth/v1/token?grant_type=password', {
  method: 'POST', headers: {...common, 'content-type': 'application/json;charset=UTF-8'},
  body: JSON.stringify({email: EMAIL, password: PASSWORD}),
});
const token = out.login.body && out.login.body.access_token;
await call('select', URL + '/rest/v1/vehicles?select=id', {
  headers: {
    ...common, 'authorization': 'Bearer ' + token, 'accept-profile': 'public', 'prefer': 'count=exact',
  },
});
await call('user', URL + '/auth/v1/user', {headers: {...common, 'authorization': 'Bearer ' + token}});
await call('refused', URL + '/rest/v1/vehicles?select=id', {
  headers: {...common, 'authorization': 'Bearer ' + SECRET},
});
return out;
"""


def test_a_browser_page_uses_the_gateway_like_supabase_js(
    stack: Stack, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    from tests.browser import chromium, page_server

    s = stack.settings
    password = f"pw-{uuid.uuid4().hex}"
    user = create_user(db, s, password=password)
    create_vehicle(db, user)
    values = {"URL": s.supabase_url, "KEY": s.publishable_key, "SECRET": s.secret_key}
    values |= {"EMAIL": user.email, "PASSWORD": password}
    constants = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in values.items())
    with page_server("127.0.0.1") as origin, chromium(tmp_path) as browser:
        page = browser.open_page(origin + "/")
        seen = browser.run(page, f"(async () => {{\n{constants}{SUPABASE_JS_LIKE}\n}})()")
        assert browser.cors_failures(page) == []
    assert seen["login"]["status"] == 200, seen["login"]
    assert seen["select"]["status"] == 200, seen["select"]
    assert len(seen["select"]["body"]) == 1
    assert seen["select"]["range"] == "0-0/1"  # readable: exposed like PostgREST's own CORS
    assert seen["user"]["status"] == 200, seen["user"]
    assert seen["user"]["body"]["email"] == user.email
    # The gateway's own 401 is readable by the page too, not a CORS failure.
    assert seen["refused"]["status"] == 401, seen["refused"]
