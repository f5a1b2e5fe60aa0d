"""Local dev server that routes requests to the `api/` functions the way Vercel does.

Each request is routed from its request line alone, then handed to the function's own
`handler` class on the real client socket, so the handler parses headers and body itself
exactly as it does in Vercel's Python runtime.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import mimetypes
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
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, Final, Literal, cast
from urllib.parse import quote, unquote

MAX_TARGET_BYTES: Final = 16 * 1024
# Same cap as http.server, so a line the handler would accept is never cut short here.
_MAX_REQUEST_LINE: Final = 65536
_REQUEST_LINE_TIMEOUT: Final = 30.0
# Closing a socket with unread input makes the kernel send RST, which can destroy the
# response before the client reads it; so the tail of the request is drained first.
_LINGER_TIMEOUT: Final = 1.0
_LINGER_MAX_BYTES: Final = 1 << 20
_MODULE_PREFIX: Final = "_vercel_fn"
_LOG_TARGET_CHARS: Final = 200

_REQUEST_LINE_RE: Final = re.compile(
    r"(?P<method>[!#$%&'*+.^_`|~0-9A-Za-z-]+) (?P<target>/\S*) (?P<version>HTTP/\d\.\d)\r?\n"
)
_DYNAMIC_SEGMENT_RE: Final = re.compile(r"\[([^\[\]/]+)\]")
_PARAM_NAME_RE: Final = re.compile(r"\w+")
_TEMPLATE_TOKEN_RE: Final = re.compile(r":(\w+)[*+?]?|\$(\w+)")
# Everything printable in ASCII except space and the characters RFC 3986 never allows:
# rewrite destinations keep their structure and already-encoded parts.
_URL_SAFE: Final = "!#$%&'()*+,-./:;=?@[]_~"
_HEADER_TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FORWARDED_HEADERS: Final = ("X-Forwarded-For", "X-Real-IP")


# --------------------------------------------------------------------------- routes


class RouteConflictError(ValueError):
    """Two files under `api/` map to the same URL, which Vercel refuses to deploy."""


@dataclass(frozen=True)
class Route:
    """One function: its Vercel path pattern (e.g. `/api/vehicles/[id]`) and its file."""

    pattern: str
    file: Path
    segments: tuple[str, ...]

    @property
    def is_dynamic(self) -> bool:
        """Whether any segment is a `[param]`."""
        return any(_param_name(s) is not None for s in self.segments)

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """Params for decoded path `segments` if this route matches them, else None."""
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.segments, segments, strict=True):
            name = _param_name(want)
            if name is None:
                if want != got:
                    return None
            elif got:
                params[name] = got
            else:
                return None
        return params


@dataclass(frozen=True)
class Match:
    """A routed request: the route, its file and the decoded dynamic segment values."""

    route: Route
    params: dict[str, str]

    @property
    def file(self) -> Path:
        """The function file that handles the request."""
        return self.route.file


def _param_name(segment: str) -> str | None:
    m = _DYNAMIC_SEGMENT_RE.fullmatch(segment)
    return m.group(1) if m else None


def _specificity(route: Route) -> tuple[tuple[int, str], ...]:
    # Sorting static segments before dynamic ones, position by position, makes the first
    # matching route the one Vercel picks: `new.py` beats `[id]` at the same level.
    return tuple((1, "") if _param_name(s) is not None else (0, s) for s in route.segments)


def _is_ignored(name: str) -> bool:
    return name.startswith(("_", "."))


class RouteTable:
    """The functions under `api/`, ordered so that static routes win over dynamic ones."""

    def __init__(self, routes: Sequence[Route]) -> None:
        """Order `routes` by specificity; raises RouteConflictError if two share a URL."""
        seen: dict[tuple[str | None, ...], Route] = {}
        for route in routes:
            shape = tuple(None if _param_name(s) is not None else s for s in route.segments)
            other = seen.setdefault(shape, route)
            if other is not route:
                raise RouteConflictError(f"{other.file} and {route.file} both define {route.pattern}")
        self.routes: list[Route] = sorted(routes, key=_specificity)

    @classmethod
    def scan(cls, api_dir: Path) -> RouteTable:
        """Routes for every function file under `api_dir`; raises RouteConflictError."""
        routes: list[Route] = []
        base = api_dir.name
        for dirpath, dirnames, filenames in os.walk(api_dir):
            dirnames[:] = sorted(d for d in dirnames if not _is_ignored(d))
            rel_dir = Path(dirpath).relative_to(api_dir).parts
            for filename in sorted(filenames):
                if _is_ignored(filename) or not filename.endswith(".py"):
                    continue
                parts = [base, *rel_dir, filename[: -len(".py")]]
                if parts[-1] == "index":
                    parts.pop()
                file = Path(dirpath, filename)
                routes.append(Route("/" + "/".join(parts), file, tuple(parts)))
        return cls(routes)

    def match(self, path: str) -> Match | None:
        """The route for a raw URL path (query ignored), with percent-decoded params."""
        path = path.partition("?")[0]
        if not path.startswith("/"):
            return None
        segments = [unquote(s) for s in path[1:].split("/")]
        for route in self.routes:
            params = route.match(segments)
            if params is not None:
                return Match(route, params)
        return None


# --------------------------------------------------------------------------- vercel.json


@dataclass(frozen=True)
class PathPattern:
    """A path-to-regexp style `source` (`/api/:id`, `/api/:rest*`, `/api/(.*)`)."""

    source: str
    regex: re.Pattern[str]
    names: tuple[str | None, ...]

    @classmethod
    def compile(cls, source: str) -> PathPattern:
        """Compile a vercel.json `source`; raises ValueError if it is not a valid pattern."""
        parts: list[str] = []
        names: list[str | None] = []
        i = 0
        while i < len(source):
            ch = source[i]
            if ch == "\\" and i + 1 < len(source):
                parts.append(re.escape(source[i + 1]))
                i += 2
                continue
            if ch == ":":
                m = _PARAM_NAME_RE.match(source, i + 1)
                if m is None:
                    raise ValueError(f"parameter without a name in {source!r}")
                names.append(m.group())
                i = m.end()
                pattern = "[^/]+"
                if i < len(source) and source[i] == "(":
                    pattern, i = _read_group(source, i)
            elif ch == "(":
                names.append(None)
                pattern, i = _read_group(source, i)
            else:
                parts.append(re.escape(ch))
                i += 1
                continue
            modifier = source[i] if i < len(source) and source[i] in "*+?" else ""
            i += len(modifier)
            parts.append(_param_regex(f"k{len(names) - 1}", pattern, modifier, parts))
        try:
            regex = re.compile("".join(parts))
        except re.error as exc:
            raise ValueError(f"invalid pattern {source!r}: {exc}") from exc
        return cls(source, regex, tuple(names))

    def match(self, path: str) -> list[str] | None:
        """Captured values in key order ('' for an absent optional), or None."""
        m = self.regex.fullmatch(path)
        if m is None:
            return None
        return [m.group(f"k{i}") or "" for i in range(len(self.names))]

    def substitute(self, template: str, values: Sequence[str]) -> str:
        """Replace `:name`, `$name` and `$1` references in `template` with `values`."""
        by_name = {n: v for n, v in zip(self.names, values, strict=True) if n is not None}

        def replace(m: re.Match[str]) -> str:
            if m.group(1) is not None:
                return by_name.get(m.group(1), m.group())
            ref = m.group(2)
            if ref.isdigit() and 1 <= int(ref) <= len(values):
                return values[int(ref) - 1]
            return by_name.get(ref, m.group())

        return _TEMPLATE_TOKEN_RE.sub(replace, template)


def _read_group(source: str, start: int) -> tuple[str, int]:
    depth = 0
    i = start
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return source[start + 1 : i], i + 1
        i += 1
    raise ValueError(f"unbalanced parenthesis in {source!r}")


def _param_regex(group: str, pattern: str, modifier: str, parts: list[str]) -> str:
    if modifier in ("*", "+"):
        pattern = f"{pattern}(?:/{pattern})*"
    captured = f"(?P<{group}>{pattern})"
    if modifier not in ("*", "?"):
        return captured
    # As in path-to-regexp, the `/` before an optional parameter is optional with it,
    # so `/api/:rest*` also matches `/api`.
    if parts and parts[-1] == "/":
        parts.pop()
        return f"(?:/{captured})?"
    return f"(?:{captured})?"


@dataclass(frozen=True)
class Rewrite:
    """A vercel.json rewrite from `source` to `destination`."""

    source: PathPattern
    destination: str

    def apply(self, path: str) -> str | None:
        """The destination (path and query) for a matching raw path, else None."""
        values = self.source.match(path)
        if values is None:
            return None
        dest_path, sep, dest_query = self.destination.partition("?")
        used = {m.group(1) for m in re.finditer(r":(\w+)", dest_path)}
        new_path = self.source.substitute(dest_path, values)
        query = [self.source.substitute(p, values) for p in dest_query.split("&") if p] if sep else []
        named = [(n, v) for n, v in zip(self.source.names, values, strict=True) if n]
        # Vercel passes the named params as query parameters when the destination path
        # uses none of them, unless the destination query already sets that key.
        if not used.intersection(n for n, _ in named):
            keys = {p.partition("=")[0] for p in query}
            query += [f"{n}={v}" for n, v in named if n not in keys]
        return new_path + ("?" + "&".join(query) if query else "")


@dataclass(frozen=True)
class HeaderRule:
    """A vercel.json `headers` entry: headers added to responses whose path matches."""

    source: PathPattern
    headers: tuple[tuple[str, str], ...]

    def headers_for(self, path: str) -> list[tuple[str, str]]:
        """The headers to add for a raw request path, in config order; [] if no match."""
        values = self.source.match(path)
        if values is None:
            return []
        return [
            (self.source.substitute(k, values), self.source.substitute(v, values)) for k, v in self.headers
        ]


@dataclass(frozen=True)
class VercelConfig:
    """The parts of vercel.json that affect routing."""

    rewrites: tuple[Rewrite, ...] = ()
    headers: tuple[HeaderRule, ...] = ()
    trailing_slash: bool | None = None
    clean_urls: bool = False


def load_vercel_config(root: Path) -> VercelConfig:
    """Read `root/vercel.json` (defaults if absent); raises ValueError if it is malformed."""
    path = root / "vercel.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return VercelConfig()
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError("top level is not an object")
        return VercelConfig(
            rewrites=tuple(_parse_rewrite(r) for r in _rules(data, "rewrites")),
            headers=tuple(_parse_header_rule(h) for h in _rules(data, "headers")),
            trailing_slash=_optional_bool(data, "trailingSlash"),
            clean_urls=bool(_optional_bool(data, "cleanUrls")),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _rules(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rules = data.get(key, [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise TypeError(f"{key} must be a list of objects")
    kept = []
    for rule in rules:
        if "has" in rule or "missing" in rule:
            # Conditional rules would apply unconditionally here, which is worse than not
            # at all; say so rather than silently diverge from production.
            print(f"devserver: ignoring conditional {key} rule {rule!r}", file=sys.stderr)
        else:
            kept.append(rule)
    return kept


def _optional_bool(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{key} must be a boolean")
    return value


def _string(rule: dict[str, Any], key: str) -> str:
    value = rule[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string in {rule!r}")
    return value


def _parse_rewrite(rule: dict[str, Any]) -> Rewrite:
    return Rewrite(PathPattern.compile(_string(rule, "source")), _string(rule, "destination"))


def _parse_header_rule(rule: dict[str, Any]) -> HeaderRule:
    entries = rule["headers"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TypeError(f"headers must be a list of objects in {rule!r}")
    pairs = tuple((_string(e, "key"), _string(e, "value")) for e in entries)
    for key, value in pairs:
        # Config values go straight onto the wire; a CR or LF would split the response.
        if not _HEADER_TOKEN_RE.fullmatch(key) or "\r" in value or "\n" in value:
            raise ValueError(f"invalid header {key!r}: {value!r}")
    return HeaderRule(PathPattern.compile(_string(rule, "source")), pairs)


# --------------------------------------------------------------------------- routing plan

_PlanKind = Literal["function", "redirect", "static", "not_found", "failed", "external"]


@dataclass
class _Plan:
    kind: _PlanKind
    target: str
    file: Path | None = None
    location: str = ""


@dataclass
class _Exchange:
    """Per-connection state shared between the server and the wrapped handler."""

    prefix: bytes
    extra_headers: list[tuple[str, str]]
    plan: _Plan
    status: int | None = None
    headers_added: bool = False
    started: bool = False


class _Router:
    def __init__(self, root: Path, table: RouteTable, config: VercelConfig) -> None:
        self.public = (root / "public").resolve()
        self.table = table
        self.config = config

    def route(self, method: str, target: str) -> tuple[_Plan, list[tuple[str, str]]]:
        path, _, query = target.partition("?")
        headers = [h for rule in self.config.headers for h in rule.headers_for(path)]
        location = self._redirect(path)
        if location is not None:
            return _Plan("redirect", target, location=_join_query(location, query)), headers
        plan = self._filesystem(method, path, query) or self._after_filesystem(method, path, query)
        return plan or _Plan("not_found", target), headers

    def _redirect(self, path: str) -> str | None:
        cfg = self.config
        location: str | None = None
        if cfg.clean_urls and (m := re.fullmatch(r"/(?:(.+)/)?index(?:\.html)?/?", path)):
            location = "/" + (m.group(1) or "")
        elif cfg.clean_urls and (m := re.fullmatch(r"/(.*)\.html/?", path)):
            location = "/" + m.group(1)
        elif cfg.trailing_slash is False and path != "/" and path.endswith("/"):
            location = path[:-1]
        elif cfg.trailing_slash and not path.endswith("/") and "." not in path.rpartition("/")[2]:
            location = path + "/"
        if location is None:
            return None
        if cfg.trailing_slash and location != "/" and not location.endswith("/"):
            location += "/"
        # `//host` in Location is protocol-relative: never redirect off this origin.
        return "/" + location.lstrip("/")

    def _after_filesystem(self, method: str, path: str, query: str) -> _Plan | None:
        """The rules Vercel's routing table puts after `handle: filesystem`, in its order.

        First the vercel.json rewrites: one whose destination is a file or a fixed-path
        function ends routing there; otherwise routing goes on with the rewritten path and
        query (`check: true`). Then the dynamic `[param]` routes, which the build appends
        after the rewrites: a rewrite whose source also matches a dynamic route's path wins.
        """
        requested = path
        for rewrite in self.config.rewrites:
            destination = rewrite.apply(path)
            if destination is None:
                continue
            if destination.startswith(("http://", "https://")):
                return _Plan("external", destination)
            path, _, dest_query = quote(destination, safe=_URL_SAFE).partition("?")
            query = "&".join(q for q in (dest_query, query) if q)
            plan = self._filesystem(method, path, query)
            if plan is not None:
                return _as_requested(plan, path, requested)
        plan = self._function(path, query, dynamic=True)
        return _as_requested(plan, path, requested) if plan is not None else None

    def _filesystem(self, method: str, path: str, query: str) -> _Plan | None:
        """A function at exactly this path (no `[param]`), or a public/ file."""
        if path == "/api" or path.startswith("/api/"):
            return self._function(path, query, dynamic=False)
        if method not in ("GET", "HEAD"):
            return None
        file = self._static_file(path)
        return _Plan("static", _join_query(path, query), file=file) if file else None

    def _function(self, path: str, query: str, *, dynamic: bool) -> _Plan | None:
        if not (path == "/api" or path.startswith("/api/")):
            return None
        # A trailing slash left here was either redirected already or is accepted
        # as-is (no trailingSlash setting, or trailingSlash: true).
        match = self.table.match(path.rstrip("/"))
        if match is None or match.route.is_dynamic != dynamic:
            return None
        target = _join_query(path, query)
        extra = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in match.params.items())
        return _Plan("function", _join_query(target, extra), file=match.file)

    def _static_file(self, path: str) -> Path | None:
        rel = unquote(path).lstrip("/")
        if "\x00" in rel:
            return None
        if rel == "" or rel.endswith("/"):
            candidates = [rel + "index.html"]
        else:
            candidates = [
                rel,
                *([rel + ".html"] if self.config.clean_urls else []),
                rel + "/index.html",
            ]
        for candidate in candidates:
            file = (self.public / candidate).resolve()
            if file.is_relative_to(self.public) and file.is_file():
                return file
        return None


def _as_requested(plan: _Plan, routed_path: str, requested: str) -> _Plan:
    # Vercel routes by the rewritten path but hands the function the path the client
    # asked for (with the query the rewrites and the dynamic route added).
    if plan.kind == "function" and plan.target.startswith(routed_path):
        return replace(plan, target=requested + plan.target[len(routed_path) :])
    return plan


def _join_query(path: str, query: str) -> str:
    if not query:
        return path
    if "?" not in path:
        return f"{path}?{query}"
    return path + query if path.endswith(("?", "&")) else f"{path}&{query}"


# --------------------------------------------------------------------------- handlers

_local = threading.local()


def _exchange() -> _Exchange:
    exchange: _Exchange = _local.exchange
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
        self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE + 1)
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


_ROUTER_HANDLER: Final = _wrap(_RouterHandler)


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


class _Functions:
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


# --------------------------------------------------------------------------- server


class _LineTooLongError(Exception):
    pass


def _read_request_line(sock: socket.socket) -> bytes:
    """Consume exactly the request line from `sock`, leaving the rest for the handler."""
    chunks: list[bytes] = []
    total = 0
    while True:
        peeked = sock.recv(min(8192, _MAX_REQUEST_LINE + 1 - total), socket.MSG_PEEK)
        if not peeked:
            return b"".join(chunks)
        newline = peeked.find(b"\n")
        data = sock.recv(newline + 1 if newline >= 0 else len(peeked))
        chunks.append(data)
        total += len(data)
        if data.endswith(b"\n"):
            return b"".join(chunks)
        if total > _MAX_REQUEST_LINE:
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
        self._router = _Router(self.root, RouteTable.scan(self.api_dir), load_vercel_config(self.root))
        self._functions = _Functions(self.root, reload)
        self._refresh_lock = threading.Lock()
        self._last_refresh = time.monotonic()
        self._config_stamp = self._vercel_json_stamp()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _ROUTER_HANDLER)

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
        handler_cls = _ROUTER_HANDLER
        label = f"({plan.kind})"
        if plan.kind == "function" and plan.file is not None:
            label = str(plan.file.relative_to(self.root))
            loaded = self._functions.handler(plan.file)
            if loaded is None:
                plan = _Plan("failed", plan.target, file=plan.file)
            else:
                handler_cls = loaded
        prefix = f"{method} {plan.target} {version}\r\n".encode("latin-1")
        exchange = _Exchange(prefix, extra_headers, plan)
        _local.exchange = exchange
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
            _local.exchange = None
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
                self._router = _Router(self.root, table, config)


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


if __name__ == "__main__":
    sys.exit(main())
