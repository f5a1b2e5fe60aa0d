"""Headless Chromium for the browser tests: where it is, how it is started and driven.

Chromium is driven over the DevTools protocol by a small RFC 6455 client on `socket` (no
extra packages); `page_server` serves pages for it on a loopback address of choice.
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
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import served

# The same lookup `make test` runs before anything else, so both agree on which browser
# is used and on what to tell someone who has none.
FIND_CHROMIUM = Path(__file__).resolve().parent.parent / "devstack" / "bin" / "find-chromium"
# This machine's network is closed: without the background-networking flags
# Chromium keeps trying to reach Google's services.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
TIMEOUT = 20.0
CHROMIUM_FLAGS = (
    *HEADLESS_FLAGS,
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str:
    """The Chromium binary; skip when SKIP_BROWSER_TESTS=1, else fail saying how to install it."""
    if os.environ.get("SKIP_BROWSER_TESTS") == "1":
        pytest.skip("SKIP_BROWSER_TESTS=1")
    found = subprocess.run([FIND_CHROMIUM], capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        pytest.fail(found.stderr.strip() or "devstack/bin/find-chromium found no Chromium", pytrace=False)
    return found.stdout.strip()


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


class PlainPage(BaseHTTPRequestHandler):
    """Any path: a plain page, for scripts evaluated in it."""

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
def page_server(host: str, handler: type[BaseHTTPRequestHandler] = PlainPage) -> Iterator[str]:
    """Serve `handler` on `host` (a free port) in a thread; yields the origin, e.g. http://127.0.0.1:5678."""
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    with served(server, host) as origin:
        yield origin
