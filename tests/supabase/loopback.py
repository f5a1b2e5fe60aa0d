"""An HTTP/1.1 server on loopback that records each request and answers as a test says.

For lib.supabase.transport's pool (and the clients over it) the requests are real
bytes on a real socket: the server sees exactly what would reach PostgREST.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import served


@dataclass(frozen=True)
class Seen:
    """One request as the server read it: method, target (path and query), headers, body, client port."""

    method: str
    target: str
    headers: Message
    body: bytes
    port: int  # the client's port: one per TCP connection

    def header_items(self) -> dict[str, str]:
        """The headers by lower-cased name."""
        return {name.lower(): value for name, value in self.headers.items()}


@dataclass(frozen=True)
class Answer:
    """What the server sends back."""

    status: int = 200
    body: bytes = b"[]"
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


@dataclass
class Recording:
    """The requests seen so far, and the server's base URL."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connections(self) -> int:
        """How many TCP connections the requests came on."""
        return len({request.port for request in self.seen})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless an answer says otherwise
    server: _Server

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Seen(self.command, self.path, self.headers, body, self.client_address[1])
        with self.server.recording.lock:
            self.server.recording.seen.append(request)
        answer = self.server.answer(request)
        if answer is None:
            # Close without a byte of answer.
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
            if name.lower() == "connection" and value.lower() == "close":
                self.close_connection = True
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _any  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, answer: Callable[[Seen], Answer | None]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.recording = Recording("")


@contextmanager
def upstream(answer: Callable[[Seen], Answer | None] = lambda request: Answer()) -> Iterator[Recording]:
    """A loopback server answering `answer(request)` (None: close without answering) for the block."""
    server = _Server(answer)
    with served(server) as url:
        server.recording.url = url
        yield server.recording
