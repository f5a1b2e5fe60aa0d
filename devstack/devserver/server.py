"""The dev server: reads each request line, routes it, and runs the chosen handler on the socket."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Final

from devstack.devserver.files import RouteTable
from devstack.devserver.handlers import MAX_REQUEST_LINE, ROUTER_HANDLER, Exchange, Functions, set_exchange
from devstack.devserver.router import Plan, Router
from devstack.vercel_config import VercelConfig, load_vercel_config

MAX_TARGET_BYTES: Final = 16 * 1024
_REQUEST_LINE_TIMEOUT: Final = 30.0
# Closing a socket with unread input makes the kernel send RST, which can destroy the
# response before the client reads it; so the tail of the request is drained first.
_LINGER_TIMEOUT: Final = 1.0
_LINGER_MAX_BYTES: Final = 1 << 20
_LOG_TARGET_CHARS: Final = 200
_REQUEST_LINE_RE: Final = re.compile(
    r"(?P<method>[!#$%&'*+.^_`|~0-9A-Za-z-]+) (?P<target>/\S*) (?P<version>HTTP/\d\.\d)\r?\n"
)


class _LineTooLongError(Exception):
    pass


def _read_request_line(sock: socket.socket) -> bytes:
    """Consume exactly the request line from `sock`, leaving the rest for the handler."""
    chunks: list[bytes] = []
    total = 0
    while True:
        peeked = sock.recv(min(8192, MAX_REQUEST_LINE + 1 - total), socket.MSG_PEEK)
        if not peeked:
            return b"".join(chunks)
        newline = peeked.find(b"\n")
        data = sock.recv(newline + 1 if newline >= 0 else len(peeked))
        chunks.append(data)
        total += len(data)
        if data.endswith(b"\n"):
            return b"".join(chunks)
        if total > MAX_REQUEST_LINE:
            raise _LineTooLongError


def _linger_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(_LINGER_TIMEOUT)
        drained = 0
        while drained < _LINGER_MAX_BYTES:
            data = sock.recv(65536)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass


def _send_plain(sock: socket.socket, status: HTTPStatus, content_type: str, body: bytes) -> None:
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    try:
        sock.sendall(head.encode("latin-1") + body)
    except OSError:
        return


class DevServer(ThreadingHTTPServer):
    """Threaded HTTP server that dispatches each connection to one `api/` function."""

    # Vercel's edge queues bursts; a tiny listen backlog would reset them instead.
    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True
    # Seconds between rescans of api/ and vercel.json when reloading; tests set 0.
    rescan_interval: float = 1.0
    # Vercel's edge in front of every function: the client-address headers are overwritten.
    emulate_vercel: bool = True

    def __init__(self, root: Path, address: tuple[str, int], *, reload: bool = False) -> None:
        """Scan `root` and bind; raises RouteConflictError, ValueError (vercel.json), OSError."""
        self.root = root.resolve()
        self.api_dir = self.root / "api"
        if not self.api_dir.is_dir():
            raise FileNotFoundError(f"no api/ directory in {self.root}")
        self.reload = reload
        self._router = Router(self.root, RouteTable.scan(self.api_dir), load_vercel_config(self.root))
        self._functions = Functions(self.root, reload)
        self._refresh_lock = threading.Lock()
        self._last_refresh = time.monotonic()
        self._config_stamp = self._vercel_json_stamp()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, ROUTER_HANDLER)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup, which can stall for seconds."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. `http://127.0.0.1:3000/api`."""
        host = self.server_name
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server_port}/api"

    @property
    def route_table(self) -> RouteTable:
        """The routes currently served."""
        return self._router.table

    @property
    def config(self) -> VercelConfig:
        """The vercel.json settings currently applied."""
        return self._router.config

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Route one connection from its request line and run the chosen handler on it."""
        if not isinstance(request, socket.socket):
            return
        started = time.monotonic()
        status = self._read_and_dispatch(request, client_address)
        if status is not None:
            method, target, code, label = status
            # The path only: a query string may carry a token or password a client put there.
            target = target.partition("?")[0]
            if len(target) > _LOG_TARGET_CHARS:
                target = target[:_LOG_TARGET_CHARS] + "..."
            elapsed = (time.monotonic() - started) * 1000
            print(f"{method} {target} {code} {label} {elapsed:.1f}ms", file=sys.stderr)
        _linger_close(request)

    def _read_and_dispatch(
        self, sock: socket.socket, client_address: Any
    ) -> tuple[str, str, str, str] | None:
        previous_timeout = sock.gettimeout()
        sock.settimeout(_REQUEST_LINE_TIMEOUT)
        try:
            line = _read_request_line(sock)
        except _LineTooLongError:
            _send_plain(sock, HTTPStatus.REQUEST_URI_TOO_LONG, "text/plain", b"URI Too Long\n")
            return "-", "-", "414", "(request line too long)"
        except OSError:
            return None
        finally:
            sock.settimeout(previous_timeout)
        if not line:
            return None
        m = _REQUEST_LINE_RE.fullmatch(line.decode("latin-1"))
        if m is None:
            _send_plain(sock, HTTPStatus.BAD_REQUEST, "text/plain", b"Bad Request\n")
            return "-", repr(line[:80])[2:-1], "400", "(malformed request line)"
        method, target, version = m.group("method", "target", "version")
        if len(target) > MAX_TARGET_BYTES:
            _send_plain(sock, HTTPStatus.REQUEST_URI_TOO_LONG, "text/plain", b"URI Too Long\n")
            return method, target, "414", "(target too long)"
        self._refresh()
        plan, extra_headers = self._router.route(method, target)
        handler_cls = ROUTER_HANDLER
        label = f"({plan.kind})"
        if plan.kind == "function" and plan.file is not None:
            label = str(plan.file.relative_to(self.root))
            loaded = self._functions.handler(plan.file)
            if loaded is None:
                plan = Plan("failed", plan.target, file=plan.file)
            else:
                handler_cls = loaded
        prefix = f"{method} {plan.target} {version}\r\n".encode("latin-1")
        exchange = Exchange(prefix, extra_headers, plan)
        set_exchange(exchange)
        try:
            handler_cls(sock, client_address, self)
        except Exception:
            print(f"devserver: {label} crashed handling {method} {target}", file=sys.stderr)
            traceback.print_exc()
            if not exchange.started:
                body = json.dumps({"error": "function_invocation_failed"}).encode()
                _send_plain(sock, HTTPStatus.INTERNAL_SERVER_ERROR, "application/json", body)
                exchange.status = 500
        finally:
            set_exchange(None)
        return method, target, str(exchange.status or "-"), label

    def _vercel_json_stamp(self) -> tuple[int, int] | None:
        try:
            st = (self.root / "vercel.json").stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _refresh(self) -> None:
        if not self.reload:
            return
        with self._refresh_lock:
            now = time.monotonic()
            if now - self._last_refresh < self.rescan_interval:
                return
            self._last_refresh = now
            try:
                table = RouteTable.scan(self.api_dir)
                stamp = self._vercel_json_stamp()
                config = self._router.config
                if stamp != self._config_stamp:
                    config = load_vercel_config(self.root)
            except ValueError as exc:
                print(f"devserver: keeping previous routes: {exc}", file=sys.stderr)
                return
            self._config_stamp = stamp
            if [(r.pattern, r.file) for r in table.routes] != [
                (r.pattern, r.file) for r in self._router.table.routes
            ] or config is not self._router.config:
                self._router = Router(self.root, table, config)


def make_server(root: Path, host: str, port: int, *, reload: bool = False) -> DevServer:
    """A bound, not yet serving server for `root`; raises OSError, ValueError on bad config."""
    root = root.resolve()
    if str(root) not in sys.path:
        # Functions import project code (`from lib...`) as they do from Vercel's /var/task.
        sys.path.insert(0, str(root))
    return DevServer(root, (host, port), reload=reload)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Serve `--root` until interrupted; returns the exit status (1 if it cannot start)."""
    parser = argparse.ArgumentParser(prog="python -m devstack.devserver", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--reload", action="store_true", help="re-import edited functions")
    parser.add_argument(
        "--no-vercel-emulation",
        action="store_true",
        help="pass X-Forwarded-For/X-Real-IP through untouched and do not set VERCEL=1, like a plain server",
    )
    args = parser.parse_args(argv)
    if not args.no_vercel_emulation:
        # What Vercel's runtime sets in every function: the API then trusts the forwarded
        # address, which this server sets from the connection like Vercel's edge.
        os.environ.setdefault("VERCEL", "1")
    try:
        server = make_server(args.root, args.host, args.port, reload=args.reload)
    except (OSError, ValueError) as exc:
        print(f"devserver: {exc}", file=sys.stderr)
        return 1
    server.emulate_vercel = not args.no_vercel_emulation
    if threading.current_thread() is threading.main_thread():
        # `stack.py` stops children with SIGTERM; unwind so the socket closes cleanly.
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with server:
        print(f"API dev server on {server.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0
