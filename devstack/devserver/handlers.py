"""The request handlers: a function's own `handler` class, wrapped to run on the routed request line, and
the router's own for 404s, redirects, public/ files and failures; and the loading of function modules.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import json
import mimetypes
import re
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import CodeType
from typing import Any, Final, cast

from devstack.devserver.router import Plan

# Same cap as http.server, so a line the handler would accept is never cut short here.
MAX_REQUEST_LINE: Final = 65536
_MODULE_PREFIX: Final = "_vercel_fn"
_FORWARDED_HEADERS: Final = ("X-Forwarded-For", "X-Real-IP")


@dataclass
class Exchange:
    """Per-connection state shared between the server and the wrapped handler."""

    prefix: bytes
    extra_headers: list[tuple[str, str]]
    plan: Plan
    status: int | None = None
    headers_added: bool = False
    started: bool = False


_local = threading.local()


def set_exchange(exchange: Exchange | None) -> None:
    """Make `exchange` the one the handlers on this thread see (None once the connection is done)."""
    _local.exchange = exchange


def _exchange() -> Exchange:
    exchange: Exchange = _local.exchange
    return exchange


class _PrefixedStream(io.RawIOBase):
    """The rewritten request line, then whatever the client sends after its own."""

    def __init__(self, prefix: bytes, rest: io.BufferedIOBase | io.RawIOBase) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        # readinto1: return what has arrived instead of waiting to fill the buffer,
        # or a handler's readline() would block on a client awaiting the response.
        # A handler with rbufsize = 0 has an unbuffered rfile, whose readinto already
        # returns early.
        if isinstance(self._rest, io.BufferedIOBase):
            return self._rest.readinto1(view)
        return self._rest.readinto(view) or 0

    def close(self) -> None:
        if not self.closed:
            self._rest.close()
        super().close()


def _wrap(handler_cls: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    """Subclass `handler_cls` to read the routed request line and answer one request."""

    def setup(self: BaseHTTPRequestHandler) -> None:
        handler_cls.setup(self)
        self.rfile = io.BufferedReader(_PrefixedStream(_exchange().prefix, self.rfile))

    def handle(self: BaseHTTPRequestHandler) -> None:
        # One request per connection: the next one may belong to another function.
        self.close_connection = True
        self.handle_one_request()

    def parse_request(self: BaseHTTPRequestHandler) -> bool:
        parsed = handler_cls.parse_request(self)
        if parsed and getattr(self.server, "emulate_vercel", False):
            _forward_like_vercel(self)
        return parsed

    def send_response_only(self: BaseHTTPRequestHandler, code: int, message: str | None = None) -> None:
        _exchange().status = code
        handler_cls.send_response_only(self, code, message)

    def flush_headers(self: BaseHTTPRequestHandler) -> None:
        exchange = _exchange()
        buffer = getattr(self, "_headers_buffer", None)
        status = exchange.status or 0
        # Hooked here rather than in end_headers so the config headers land after every
        # header the handler sent, even from its own end_headers override; 1xx interim
        # responses are left alone.
        if status >= 200 and not exchange.headers_added and isinstance(buffer, list) and buffer:
            exchange.headers_added = True
            lines = [f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in exchange.extra_headers]
            buffer[-1:-1] = lines
        exchange.started = True
        handler_cls.flush_headers(self)

    namespace: dict[str, Any] = {
        "setup": setup,
        "handle": handle,
        "parse_request": parse_request,
        "send_response_only": send_response_only,
        "flush_headers": flush_headers,
        "__module__": handler_cls.__module__,
        "__qualname__": handler_cls.__qualname__,
    }
    if handler_cls.log_request is BaseHTTPRequestHandler.log_request:
        # The dev server logs each request itself; a second access line adds only noise.
        namespace["log_request"] = _quiet_log_request
    return cast("type[BaseHTTPRequestHandler]", type(handler_cls.__name__, (handler_cls,), namespace))


def _forward_like_vercel(handler: BaseHTTPRequestHandler) -> None:
    """Set X-Forwarded-For and X-Real-IP to the connection's address, as Vercel's edge does.

    Vercel overwrites X-Forwarded-For with the client's address rather than appending to it
    (https://vercel.com/docs/headers/request-headers: it does not forward external IPs, to
    prevent spoofing), so what a client sends in either header never reaches a function.
    """
    address = str(handler.client_address[0])
    for name in _FORWARDED_HEADERS:
        del handler.headers[name]
        handler.headers[name] = address


def _quiet_log_request(self: BaseHTTPRequestHandler, code: int | str = "-", size: int | str = "-") -> None:
    del self, code, size


class _RouterHandler(BaseHTTPRequestHandler):
    """Answers requests the router settles itself: 404, redirects, public/ files, failures."""

    protocol_version = "HTTP/1.1"
    server_version = "vercel-devserver"

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if not self.raw_requestline or not self.parse_request():
            return
        plan = _exchange().plan
        if plan.kind == "redirect":
            self._send(HTTPStatus.PERMANENT_REDIRECT, b"", "text/plain", [("Location", plan.location)])
        elif plan.kind == "static" and plan.file is not None:
            self._send_file(plan.file)
        elif plan.kind == "failed":
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, "function_failed_to_start")
        elif plan.kind == "external":
            self._send_json(HTTPStatus.BAD_GATEWAY, "external_rewrite_not_supported")
        else:
            self._send_json(HTTPStatus.NOT_FOUND, "not_found")

    def _send_json(self, status: HTTPStatus, error: str) -> None:
        body = json.dumps({"error": error}).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _send_file(self, file: Path) -> None:
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        cache = [("Cache-Control", "public, max-age=0, must-revalidate")]
        self._send(HTTPStatus.OK, file.read_bytes(), content_type, cache)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in extra:
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


ROUTER_HANDLER: Final = _wrap(_RouterHandler)


# --------------------------------------------------------------------------- functions


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    # Always compile from source: __pycache__ validation uses whole-second mtimes and
    # sizes, so a quick same-size edit could otherwise run stale bytecode after reload.
    def get_code(self, fullname: str) -> CodeType:
        source = self.get_data(self.path)
        return self.source_to_code(source, self.path)


@dataclass
class _Loaded:
    stamp: tuple[int, int]
    handler: type[BaseHTTPRequestHandler]


def _module_name(root: Path, file: Path) -> str:
    parts = file.relative_to(root).with_suffix("").parts
    clean = [re.sub(r"\W", "_", p) for p in parts]
    return ".".join([_MODULE_PREFIX, *(f"_{p}" if p[:1].isdigit() else p for p in clean)])


class Functions:
    """Imports each function module once (again after an edit when reloading)."""

    def __init__(self, root: Path, reload: bool) -> None:
        self._root = root
        self._reload = reload
        self._lock = threading.Lock()
        self._loaded: dict[Path, _Loaded] = {}

    def handler(self, file: Path) -> type[BaseHTTPRequestHandler] | None:
        with self._lock:
            loaded = self._loaded.get(file)
            if loaded is not None and not self._reload:
                return loaded.handler
            try:
                st = file.stat()
            except OSError:
                traceback.print_exc()
                return None
            stamp = (st.st_mtime_ns, st.st_size)
            if loaded is not None and loaded.stamp == stamp:
                return loaded.handler
            handler = self._import(file)
            if handler is None:
                # Not cached: like a crashed cold start, the next request tries again.
                self._loaded.pop(file, None)
                return None
            self._loaded[file] = _Loaded(stamp, handler)
            return handler

    def _import(self, file: Path) -> type[BaseHTTPRequestHandler] | None:
        name = _module_name(self._root, file)
        loader = _SourceOnlyLoader(name, str(file))
        spec = importlib.util.spec_from_file_location(name, file, loader=loader)
        if spec is None:
            print(f"devserver: cannot load {file}", file=sys.stderr)
            return None
        module = importlib.util.module_from_spec(spec)
        previous = sys.modules.get(name)
        # Registered before running, as a normal import does: dataclasses, pydantic and
        # typing resolve annotations through sys.modules[cls.__module__].
        sys.modules[name] = module
        try:
            loader.exec_module(module)
        except (Exception, SystemExit):
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
            print(f"devserver: {file} failed to start", file=sys.stderr)
            traceback.print_exc()
            return None
        handler = getattr(module, "handler", None)
        if not (isinstance(handler, type) and issubclass(handler, BaseHTTPRequestHandler)):
            print(
                f"devserver: {file} failed to start: no `handler` subclass of "
                "http.server.BaseHTTPRequestHandler",
                file=sys.stderr,
            )
            return None
        return _wrap(handler)
