"""A real browser on another origin: cookie login, credentialed calls, and CORS refusals.

Headless Chromium is driven over the DevTools protocol (a small RFC 6455 client on
`socket`, no extra packages). Two test pages are served by `http.server`:

- `http://127.0.0.1:<port>`: another origin than the API (`http://127.0.0.1:<api
  port>`), but the same *site* (a site ignores the port), so the `SameSite=Lax`
  session cookies set by a credentialed `fetch` are stored and sent back. The API
  allows it (development allows any `http://127.0.0.1:<port>`).
- `http://127.0.0.2:<port>`: loopback too, but neither `localhost` nor `127.0.0.1`,
  so the API does not allow it; the browser must refuse the page every answer.

The scripts run in the pages with `Runtime.evaluate` and return what `fetch` saw.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import select
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.browser import HEADLESS_FLAGS, find_chromium
from tests.factories import north_american_vin
from tests.support import ApiClient, random_ip

pytestmark = pytest.mark.skipif(os.environ.get("SKIP_BROWSER_TESTS") == "1", reason="SKIP_BROWSER_TESTS=1")
PASSWORD = "browser-password-123"
TIMEOUT = 20.0
CHROMIUM_FLAGS = (
    *HEADLESS_FLAGS,
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


# --------------------------------------------------------------------------- a minimal DevTools client


class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: masked text frames out, frames in."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(url)
        assert parts.scheme == "ws", url
        assert parts.hostname, url
        assert parts.port, url
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        request = (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the DevTools endpoint closed during the handshake")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].split(" ")[1] == "101", lines[0]
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        assert headers.get("sec-websocket-accept") == accept

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the DevTools connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = secrets.token_bytes(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def receive(self) -> str:
        """The next text message (fragments joined); answers pings."""
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if second & 0x80 else b""
            payload = self._read(length)
            if mask:
                payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("the DevTools connection was closed")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if first & 0x80:
                    return message.decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, b"")
        self.sock.close()


class DevTools:
    """Commands and events of the browser target; page sessions are flattened into it."""

    def __init__(self, url: str) -> None:
        self.ws = WebSocket(url)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(self.ws.receive())
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for event in self.events:
                if event["method"] == method and event.get("sessionId") == session:
                    self.events.remove(event)
                    return event
            event = json.loads(self.ws.receive())
            if "method" in event:
                self.events.append(event)
        raise TimeoutError(f"no {method} within {TIMEOUT}s")

    def pump_until(self, done: Callable[[], bool]) -> None:
        """Collect events until `done()` (the browser may report a failure after fetch rejected)."""
        deadline = time.monotonic() + TIMEOUT
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the expected DevTools events did not arrive within {TIMEOUT}s")
            if not self.ws.buffer and not select.select([self.ws.sock], [], [], remaining)[0]:
                continue
            message = json.loads(self.ws.receive())
            if "method" in message:
                self.events.append(message)

    def open_page(self, url: str) -> str:
        """A new tab showing `url` (loaded); returns its session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=session)
        self.call("Network.enable", session=session)
        navigated = self.call("Page.navigate", {"url": url}, session=session)
        assert "errorText" not in navigated, navigated
        self.wait_for("Page.loadEventFired", session)
        return str(session)

    def run(self, session: str, script: str) -> Any:
        """Evaluate an async script in the page; its resolved value, as JSON."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": script, "awaitPromise": True, "returnByValue": True, "timeout": TIMEOUT * 1000},
            session=session,
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def cookies(self) -> dict[str, dict[str, Any]]:
        return {cookie["name"]: cookie for cookie in self.call("Storage.getCookies")["cookies"]}

    def cors_failures(self, session: str) -> list[tuple[str, str]]:
        """(URL, corsError) of every request the browser failed for CORS in this page."""
        urls = {
            event["params"]["requestId"]: event["params"]["request"]["url"]
            for event in self.events
            if event["method"] == "Network.requestWillBeSent" and event.get("sessionId") == session
        }
        return [
            (urls.get(event["params"]["requestId"], "?"), event["params"]["corsErrorStatus"]["corsError"])
            for event in self.events
            if event["method"] == "Network.loadingFailed"
            and event.get("sessionId") == session
            and "corsErrorStatus" in event["params"]
        ]

    def close(self) -> None:
        self.ws.close()


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[DevTools]:
    """Headless Chromium with a fresh profile, and a DevTools connection to it."""
    binary = find_chromium()
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None:
                stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
                pytest.fail(f"Chromium exited ({process.returncode}): {stderr[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"Chromium wrote no {port_file} within {TIMEOUT}s")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        devtools = DevTools(f"ws://127.0.0.1:{port}{path}")
        try:
            yield devtools
        finally:
            devtools.close()
    finally:
        # The process group is the browser this test started (and its helpers).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


# --------------------------------------------------------------------------- the client pages


class PageHandler(BaseHTTPRequestHandler):
    """Any path: a plain page; the scripts under test are evaluated in it."""

    def do_GET(self) -> None:
        body = b"<!doctype html><meta charset=utf-8><title>client</title><p>A client on another origin.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextlib.contextmanager
def page_server(host: str) -> Iterator[str]:
    server = ThreadingHTTPServer((host, 0), PageHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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
