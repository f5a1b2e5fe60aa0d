"""The floor function (bench/peers/floor) served by the dev server, against a loopback PostgREST stub."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bench.environment import FLOOR_ROOT
from bench.load import Call, Target
from devstack.devserver import make_server

VEHICLE = "0b6f8f52-7a43-4b6e-9a55-8f3c2b1d0e11"
FLOOR_FILE = FLOOR_ROOT / "api" / "vehicles" / "[id].py"


class Stub(ThreadingHTTPServer):
    """PostgREST's answer for one vehicle, recording what each request sent and on which connection."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.seen: list[tuple[str, str | None, str | None, int]] = []


class StubHandler(BaseHTTPRequestHandler):
    """Keep-alive, like the gateway: the floor may reuse its connection."""

    protocol_version = "HTTP/1.1"
    server: Stub

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """A one-row array, as PostgREST answers `?select=*&id=eq.…`."""
        self.server.seen.append(
            (self.path, self.headers["apikey"], self.headers["Authorization"], self.client_address[1])
        )
        body = json.dumps([{"id": VEHICLE}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def stub() -> Iterator[Stub]:
    """A running stub; stopped afterwards."""
    server = Stub()
    thread = _serve(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _close_floor_connections() -> None:
    # The floor keeps its upstream connections in a module-level list: close them, or the
    # sockets are left to the garbage collector (a ResourceWarning, an error here).
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == str(FLOOR_FILE.resolve()):
            for connection in module._idle:
                connection.close()


def test_the_floor_function_forwards_a_get_and_copies_the_answer_back(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPABASE_URL", f"http://127.0.0.1:{stub.server_address[1]}")
    monkeypatch.setenv("SUPABASE_PUBLISHABLE_KEY", "sb_publishable_test")
    monkeypatch.setattr(sys, "path", list(sys.path))  # make_server prepends the root
    server = make_server(FLOOR_ROOT, "127.0.0.1", 0)
    thread = _serve(server)
    try:
        target = Target(f"http://127.0.0.1:{server.server_port}")
        call = Call("GET", f"/api/vehicles/{VEHICLE}", {"Authorization": "Bearer user-token"})
        answers = [target.send(call) for _ in range(3)]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        _close_floor_connections()
    for answer in answers:
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
        assert answer.json() == [{"id": VEHICLE}]
    assert [seen[:3] for seen in stub.seen] == [
        (f"/rest/v1/vehicles?select=*&id=eq.{VEHICLE}", "sb_publishable_test", "Bearer user-token")
    ] * 3
    # One keep-alive upstream connection for all three requests, each on its own dev server thread.
    assert len({seen[3] for seen in stub.seen}) == 1
