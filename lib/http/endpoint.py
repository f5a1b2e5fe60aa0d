"""The base class of every Vercel handler: http.server's request in, lib.pipeline's answer out.

Everything between (docs/api.md §1.5's order of checks, problems, the request log) is
lib.pipeline.handle, which needs no socket; this adapter only turns what
http.server parsed into an `Incoming` request and writes the Response it gets back.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from lib.config import get_settings
from lib.contract.routing import Route
from lib.http.log import log_event
from lib.http.request import Incoming
from lib.http.response import Response
from lib.pipeline import handle, refuse_framing


class Endpoint(BaseHTTPRequestHandler):
    """Subclass as `class handler(Endpoint)` with `route = routes.SOMETHING`.

    A function that serves several routes of its api/ file (vercel.json rewrites the
    others to it) declares `routes = (ONE, OTHER)` instead: the request's path picks
    the route, the first whose pattern matches.
    """

    route: ClassVar[Route]  # the one route, when there is one
    routes: ClassVar[tuple[Route, ...]]  # every route served; `(route,)` when `route` is declared
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server_version = "vehicle-api"
    timeout: ClassVar[float] = 30  # a client that stalls mid-request does not hold the function forever

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = vars(cls)
        if "route" in declared and "routes" in declared:
            raise TypeError(f"{cls.__qualname__} declares both route and routes")
        if "route" in declared:
            cls.routes = (cls.route,)
        served: tuple[Route, ...] = getattr(cls, "routes", ())
        if len({route.vercel_file for route in served}) != 1:
            raise TypeError(f"{cls.__qualname__} must serve routes of exactly one api/ file")
        # Resolve the configuration when the function starts, so a misconfigured
        # deployment fails loudly at cold start instead of on some request.
        get_settings()

    def __getattr__(self, name: str) -> Any:
        # Every method, known or invented, goes through the pipeline: an
        # unsupported one is a problem+json 405, never http.server's HTML 501.
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def version_string(self) -> str:
        """The Server header: the product name only (no Python version, no trailing space)."""
        return self.server_version

    # http.server's access and error lines quote the request line, query string and all (a
    # token or password a client put there), and would be a second line per request. They are
    # silenced where they start: vercel-runtime subclasses the handler with its own
    # log_message, which comes first in the MRO, but leaves these two to us.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `serve` logs one structured line per request instead."""

    def log_error(self, format: str, *args: Any) -> None:
        """A structured line with http.server's message template only, never its arguments."""
        log_event("http_error", level="warning", message=format)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: one structured line per request is logged instead."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Framing errors http.server detects before the pipeline runs, as problem+json."""
        headers, target = getattr(self, "headers", None), getattr(self, "path", "") or ""
        response = refuse_framing(code, headers, target, getattr(self, "command", None))
        # http.server writes no status line or headers for what it took to be
        # HTTP/0.9; answer every client in HTTP/1.1 so the problem is readable.
        self.request_version = self.protocol_version
        self.close_connection = True
        self._write(response, head=False)

    def serve(self) -> None:
        """Handle the request that http.server has parsed."""
        peer = str(self.client_address[0]) if self.client_address else ""
        incoming = Incoming(self.command, self.path, self.headers, peer, self.rfile)
        self._write(handle(incoming, self.routes), head=self.command == "HEAD")

    def _write(self, response: Response, *, head: bool) -> None:
        """Send a final Response (lib.pipeline's): its headers, cookies and body, then close."""
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("Set-Cookie", cookie)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if response.body and not head:
            self.wfile.write(response.body)
