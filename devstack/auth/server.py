"""The HTTP server: requests in, JSON out, one line logged per request; `main` runs it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from devstack.auth.config import AuthConfig, config_from_env
from devstack.auth.errors import ApiError
from devstack.auth.protocol import Request, Response
from devstack.auth.service import AuthService
from devstack.processes import serve_until_terminated

_log = logging.getLogger("devstack.auth")

MAX_BODY_BYTES = 1 << 20


class _BodyTooLarge(Exception):
    pass


class _AuthHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: AuthService) -> None:
        self.service = service
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            # One DB connection per worker thread, closed when the thread ends.
            self.service.release_thread_connection()

    def server_close(self) -> None:
        super().server_close()
        self.service.close_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Avoid Nagle/delayed-ACK stalls on kept-alive connections.
    disable_nagle_algorithm = True
    server_version = "devstack-auth"
    sys_version = ""
    # Idle keep-alive connections end, releasing their thread and DB connection.
    timeout = 120

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Replaced by the one line per request in _handle, which omits the query string.
        return

    def log_message(self, format: str, *args: Any) -> None:
        _log.warning("http: " + format, *args)

    def _client_ip(self) -> str | None:
        forwarded = (self.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
        for candidate in (forwarded, self.client_address[0]):
            try:
                return str(ip_address(candidate))
            except ValueError:
                continue
        return None

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise _BodyTooLarge from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _handle(self) -> None:
        service = cast(_AuthHTTPServer, self.server).service
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=b"",
            client_ip=self._client_ip(),
        )
        try:
            request.body = self._read_body()
        except (_BodyTooLarge, ValueError):
            self.close_connection = True
            response = service.render_error(
                ApiError(413, "validation_failed", "Request body too large or malformed"), request
            )
        else:
            response = service.dispatch(request)
        # Logged before the response goes out, so the line exists once the client has its answer.
        _log.info("%s %s %d", self.command, parts.path, response.status)
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if response.status == 204:
            self.end_headers()
            return
        if response.body is None:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def make_server(host: str, port: int, config: AuthConfig) -> ThreadingHTTPServer:
    """A bound, not yet serving server (port 0: any free one). Raises ValueError, OSError."""
    return _AuthHTTPServer((host, port), AuthService(config))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM, configured from the environment; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.auth", description="Local Auth-compatible (GoTrue) service."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s auth %(levelname)s %(message)s")
    try:
        config = config_from_env(os.environ)
        server = make_server(args.host, args.port, config)
    except (ValueError, OSError) as error:  # TOMLDecodeError is a ValueError
        print(f"devstack.auth: {error}", file=sys.stderr)
        return 2

    host, port = server.server_address[:2]
    print(f"auth service listening on http://{host!s}:{port}", flush=True)
    return serve_until_terminated(server)
