"""The floor function: the least any Python function can do for GET /api/vehicles/{id}.

A Vercel-style `handler(BaseHTTPRequestHandler)` that forwards the caller's Authorization
header and the publishable key to `GET /rest/v1/vehicles?select=*&id=eq.{id}` and copies back
the status, Content-Type and body (PostgREST's one-row array, as is). No JWT verification,
no validation, no logging, no rate limit: the benchmark serves it through the same dev server
as the API, so the difference between the two is the API's own work, and the difference
between this and direct PostgREST is one Python HTTP hop.

The upstream connections are kept alive in one process-wide idle list, as the API keeps its
own (lib/supabase/clients.py): the dev server runs each request on a new thread, so a
per-thread connection would be a new connection per request.
"""

from __future__ import annotations

import http.client
import os
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

_UPSTREAM = urlsplit(os.environ.get("SUPABASE_URL", "http://127.0.0.1:54321"))
_HOST = _UPSTREAM.hostname or "127.0.0.1"
_PORT = _UPSTREAM.port or 80
_KEY = os.environ.get("SUPABASE_PUBLISHABLE_KEY", "")
_idle: list[http.client.HTTPConnection] = []
_lock = threading.Lock()


def _take() -> tuple[http.client.HTTPConnection, bool]:
    """An idle keep-alive connection (and True), or a new one (and False)."""
    with _lock:
        if _idle:
            return _idle.pop(), True
    return http.client.HTTPConnection(_HOST, _PORT, timeout=10), False


def _fetch(path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """GET `path` upstream; one retry on a fresh connection if a reused one was closed under us."""
    while True:
        connection, reused = _take()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (http.client.RemoteDisconnected, ConnectionError):
            connection.close()
            if reused:
                continue
            raise
        if response.will_close:
            connection.close()
        else:
            with _lock:
                _idle.append(connection)
        return response.status, response.getheader("Content-Type", "application/json"), body


class handler(BaseHTTPRequestHandler):  # noqa: N801 (Vercel's required name)
    """GET /api/vehicles/{id}: PostgREST's answer for that id, as the caller's token sees it."""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the floor logs nothing."""

    def do_GET(self) -> None:
        """Forward to PostgREST and copy its status, Content-Type and body back."""
        vehicle = parse_qs(urlsplit(self.path).query).get("id", [""])[0]
        status, content_type, body = _fetch(
            f"/rest/v1/vehicles?select=*&id=eq.{quote(vehicle, safe='')}",
            {"apikey": _KEY, "Authorization": self.headers.get("Authorization", "")},
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
