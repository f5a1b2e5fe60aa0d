"""A real browser on another origin: cookie login, credentialed calls, and CORS refusals.

Headless Chromium is driven over the DevTools protocol (tests/browser.py). Two test
pages are served by `http.server`:

- `http://127.0.0.1:<port>`: another origin than the API (`http://127.0.0.1:<api
  port>`), but the same *site* (a site ignores the port), so the `SameSite=Lax`
  session cookies set by a credentialed `fetch` are stored and sent back. The API
  allows it (development allows any `http://127.0.0.1:<port>`).
- `http://127.0.0.2:<port>`: loopback too, but neither `localhost` nor `127.0.0.1`,
  so the API does not allow it; the browser must refuse the page every answer.

The scripts run in the pages with `Runtime.evaluate` and return what `fetch` saw.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.browser import chromium, page_server
from tests.factories import north_american_vin
from tests.support import ApiClient, random_ip

pytestmark = pytest.mark.skipif(os.environ.get("SKIP_BROWSER_TESTS") == "1", reason="SKIP_BROWSER_TESTS=1")
PASSWORD = "browser-password-123"


# Each step records the status, the body and a few headers, or the error fetch threw.
SCRIPT_PRELUDE = """
const out = {};
async function call(name, url, init) {
  try {
    const response = await fetch(url, init);
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    const headers = {};
    for (const name of ['x-request-id', 'etag', 'location', 'x-frame-options', 'content-type']) {
      headers[name] = response.headers.get(name);
    }
    out[name] = {status: response.status, type: response.type, body, headers};
  } catch (error) {
    out[name] = {error: error.name, message: String(error.message)};
  }
}
function csrf() {
  const found = document.cookie.split('; ').find((c) => c.startsWith('csrf-token='));
  return found ? found.slice('csrf-token='.length) : '';
}
"""


def script(api: str, body: str, **values: Any) -> str:
    constants = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in values.items())
    prelude = f"const API = {json.dumps(api)};\n{constants}{SCRIPT_PRELUDE}"
    return f"(async () => {{\n{prelude}{body}\nreturn out;\n}})()"


LOGIN_AND_USE = """
await call('login', API + '/auth/login', {
  method: 'POST', credentials: 'include',
  headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({email: EMAIL, password: PASSWORD}),
});
out.document_cookie = document.cookie;
await call('vehicles', API + '/vehicles', {credentials: 'include'});
await call('without_credentials', API + '/vehicles', {credentials: 'omit'});
const vehicle = JSON.stringify({vin: VIN, make: 'Skoda', model: 'Octavia', model_year: 2021});
await call('create_without_csrf', API + '/vehicles', {
  method: 'POST', credentials: 'include', headers: {'Content-Type': 'application/json'}, body: vehicle,
});
await call('create', API + '/vehicles', {
  method: 'POST', credentials: 'include',
  headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf()}, body: vehicle,
});
await call('vehicles_again', API + '/vehicles', {credentials: 'include'});
"""

REFUSED = """
await call('login', API + '/auth/login', {
  method: 'POST', credentials: 'include',
  headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({email: EMAIL, password: PASSWORD}),
});
await call('vehicles', API + '/vehicles', {credentials: 'include'});
await call('health', API + '/health', {});
await call('opaque', API + '/health', {mode: 'no-cors'});
"""

LOGOUT = """
await call('logout', API + '/auth/logout', {
  method: 'POST', credentials: 'include', headers: {'X-CSRF-Token': csrf()},
});
out.document_cookie = document.cookie;
await call('vehicles', API + '/vehicles', {credentials: 'include'});
"""


def sessions_of(db: psycopg.Connection[Any], user_id: str) -> int:
    row = db.execute("select count(*) from auth.sessions where user_id = %s", (user_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_cross_origin_cookie_login_and_cors_in_a_real_browser(
    api: ApiClient, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    # A user with a known password and one vehicle, through the API itself.
    email = f"browser-{uuid.uuid4().hex[:10]}@example.test"
    signed_up = api.post(
        "auth/signup", json={"email": email, "password": PASSWORD}, headers={"X-Forwarded-For": random_ip()}
    )
    assert signed_up.status_code == 201, signed_up.text
    user_id = signed_up.json()["user"]["id"]
    token = signed_up.json()["session"]["access_token"]
    first = api.post(
        "vehicles",
        json={"vin": north_american_vin(), "make": "Honda", "model": "Civic", "model_year": 2018},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert first.status_code == 201, first.text
    api_base = api.base_url
    api_host = urlsplit(api_base).hostname
    assert api_host == "127.0.0.1", "the page origins below assume the API on 127.0.0.1"
    values = {"EMAIL": email, "PASSWORD": PASSWORD, "VIN": north_american_vin()}

    with (
        page_server("127.0.0.1") as allowed,
        page_server("127.0.0.2") as refused,
        chromium(tmp_path) as browser,
    ):
        assert urlsplit(allowed).port != urlsplit(api_base).port
        page = browser.open_page(allowed + "/")

        # -- the allowed origin: log in with cookies, then use them --------------------------
        seen = browser.run(page, script(api_base, LOGIN_AND_USE, **values))
        assert seen["login"].get("status") == 200, seen["login"]
        assert seen["login"]["body"]["user"]["email"] == email
        cookies = browser.cookies()
        access, refresh, csrf = cookies["sb-access-token"], cookies["sb-refresh-token"], cookies["csrf-token"]
        assert access["value"] == seen["login"]["body"]["access_token"]
        assert access["domain"] == "127.0.0.1"
        assert (access["httpOnly"], access["sameSite"], access["path"], access["secure"]) == (
            True,
            "Lax",
            "/",
            False,
        )
        assert (refresh["httpOnly"], refresh["sameSite"], refresh["path"]) == (True, "Strict", "/api/auth")
        assert (csrf["httpOnly"], csrf["sameSite"], csrf["path"]) == (False, "Lax", "/")
        # Cookies ignore the port: the page reads the CSRF cookie, never the HttpOnly tokens.
        assert seen["document_cookie"] == f"csrf-token={csrf['value']}"

        listed = seen["vehicles"]
        assert listed.get("status") == 200, listed
        assert listed["type"] == "cors"
        assert [vehicle["id"] for vehicle in listed["body"]["data"]] == [first.json()["id"]]
        assert listed["headers"]["x-request-id"]  # exposed
        assert listed["headers"]["etag"]  # exposed
        assert listed["headers"]["x-frame-options"] is None  # sent, but not exposed to scripts

        # Without credentials the cookie stays home: a readable 401.
        assert seen["without_credentials"].get("status") == 401, seen["without_credentials"]
        assert seen["without_credentials"]["body"]["code"] == "unauthorized"
        # A cookie-authenticated write needs the CSRF header; with it, it works.
        assert seen["create_without_csrf"].get("status") == 403, seen["create_without_csrf"]
        assert seen["create_without_csrf"]["body"]["code"] == "csrf_failed"
        created = seen["create"]
        assert created.get("status") == 201, created
        assert created["body"]["owner_id"] == user_id
        assert created["headers"]["location"] == f"/api/vehicles/{created['body']['id']}"
        again = seen["vehicles_again"]
        assert {vehicle["id"] for vehicle in again["body"]["data"]} == {
            first.json()["id"],
            created["body"]["id"],
        }
        assert browser.cors_failures(page) == []

        # -- a disallowed origin: the browser refuses it every answer -------------------------
        sessions_before = sessions_of(db, user_id)
        stranger = browser.open_page(refused + "/")
        blocked = browser.run(stranger, script(api_base, REFUSED, **values))
        for step in ("login", "vehicles", "health"):
            assert blocked[step].get("error") == "TypeError", (step, blocked[step])
        # The API is reachable from that page (an opaque no-cors answer); it is unreadable.
        assert blocked["opaque"] == {
            "status": 0,
            "type": "opaque",
            "body": None,
            "headers": dict.fromkeys(["x-request-id", "etag", "location", "x-frame-options", "content-type"]),
        }
        expected = {f"{api_base}/auth/login", f"{api_base}/vehicles", f"{api_base}/health"}
        browser.pump_until(lambda: {url for url, _ in browser.cors_failures(stranger)} >= expected)
        failures = browser.cors_failures(stranger)
        assert {error for _, error in failures} <= {
            "PreflightMissingAllowOriginHeader",
            "MissingAllowOriginHeader",
        }
        # The refused preflight kept the login from ever being sent.
        assert sessions_of(db, user_id) == sessions_before
        # No cookie was set for the refused page's host.
        assert {cookie["domain"] for cookie in browser.cookies().values()} == {"127.0.0.1"}

        # -- back on the allowed origin: log out by cookie (with CSRF) ------------------------
        out = browser.run(page, script(api_base, LOGOUT))
        assert out["logout"].get("status") == 204, out["logout"]
        assert out["document_cookie"] == ""
        assert out["vehicles"].get("status") == 401, out["vehicles"]
        assert not {"sb-access-token", "sb-refresh-token", "csrf-token"} & set(browser.cookies())
