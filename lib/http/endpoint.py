"""The base class of every Vercel handler: one request through the contract's pipeline.

Order of checks (contract section 9): CORS preflight, method, body framing and
media type, authentication, rate limit, validation, then the operation itself
(authorisation, lookup, preconditions). A write's rate limit is taken by the
database in the write's own round trip; a write refused before it gets there is
counted then, so a spent budget still answers 429 first (lib.supabase.ratelimit). Every
outcome, expected or not, leaves as a complete HTTP response carrying the
request id.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import unquote, unquote_plus, urlsplit

from lib.config import Settings, get_settings
from lib.contract.routing import NO_STORE, PRIVATE, Operation, Route
from lib.contract.validation import validate_body, validate_query
from lib.http import cors
from lib.http.log import log_event, log_exception
from lib.http.problems import (
    ApiError,
    BadRequest,
    Forbidden,
    HeaderFieldsTooLarge,
    InternalError,
    MethodNotAllowed,
    NotFound,
    UriTooLong,
    problem_document,
)
from lib.http.request import (
    BODY_METHODS,
    Request,
    client_ip,
    parse_cookies,
    parse_json_object,
    parse_query,
    read_body,
    request_id_from,
)
from lib.http.response import PROBLEM_JSON, Response, empty_response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=63072000; includeSubDomains"
CALLER_VARY = "Authorization, Cookie, Origin"


def _decoded(text: str) -> str | None:
    """A query component as parse_query reads it, or None when it is not valid UTF-8."""
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return None


def _strip_route_params(raw_query: str, params: Mapping[str, str]) -> str:
    """The query without the copies of path segments that Vercel appends to it.

    Vercel hands a dynamic route's function its path with each segment repeated in the
    query (…/123?id=123). Such a parameter is dropped only when it repeats its segment
    (`params`: name -> raw segment, as matched in the path); a caller's own `?id=other`
    stays, so validation rejects it like any unknown parameter. A route served through a
    rewrite may carry some of its segments in the query and not others: a missing one
    is fine.
    """
    if not params or not raw_query:
        return raw_query
    kept = []
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        segment = params.get(_decoded(name) or "")
        if segment is not None and _decoded(value) in _segment_spellings(segment):
            continue
        kept.append(part)
    return "&".join(kept)


def _segment_spellings(segment: str) -> set[str]:
    # What the appended copy decodes to: the raw segment put in the query verbatim
    # (decoded as a query value: %XX and '+'), or the segment decoded as a path
    # (%XX only) and encoded again.
    return {spelling for spelling in (_decoded(segment), unquote(segment)) if spelling is not None}


class Endpoint(BaseHTTPRequestHandler):
    """Subclass as `class handler(Endpoint)` with `route = routes.SOMETHING`.

    A function that serves several routes of its api/ file (vercel.json rewrites the
    others to it) declares `routes = (ONE, OTHER)` instead: the request's path picks
    the route, the first whose pattern matches.
    """

    route: ClassVar[Route]  # the one route, when there is one
    routes: ClassVar[tuple[Route, ...]]  # every route served; `(route,)` when `route` is declared
    rate_headers: dict[str, str] = {}  # noqa: RUF012 (replaced per request, never mutated)
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
        error: ApiError
        if code == 414:
            error = UriTooLong()
        elif code == 431:
            error = HeaderFieldsTooLarge()
        elif code in (400, 505):
            error = BadRequest("The request line or headers are malformed")
        else:
            error = InternalError()
        started = time.perf_counter()
        request_id = request_id_from(getattr(self, "headers", None))
        # http.server writes no status line or headers for what it took to be
        # HTTP/0.9; answer every client in HTTP/1.1 so the problem is readable.
        self.request_version = self.protocol_version
        self.close_connection = True
        self._write(self._problem(error, "", request_id), request_id, None, head=False)
        path = urlsplit(getattr(self, "path", "") or "").path
        self._log_request(request_id, path, error.status, started)

    # -- the pipeline -----------------------------------------------------

    @classmethod
    def match_route(cls, path: str) -> tuple[Route, re.Match[str]] | None:
        """The first route of this function whose pattern matches `path`, with the match."""
        for route in cls.routes:
            match = route.pattern.match(path)
            if match is not None:
                return route, match
        return None

    def serve(self) -> None:
        """Handle the request that http.server has parsed."""
        started = time.perf_counter()
        request_id = request_id_from(self.headers)
        origin = self.headers.get("Origin")
        path = urlsplit(self.path).path
        matched = self.match_route(path)
        caller_id = None
        try:
            settings = get_settings()
            response, request = self._pipeline(request_id, settings, matched)
            caller = request.caller if request is not None else None
            caller_id = getattr(caller, "user_id", None)
        except ApiError as error:
            response = self._problem(error, path, request_id)
        except Exception as error:
            log_exception(request_id, error)
            response = self._problem(InternalError(), path, request_id)
        self._write(response, request_id, origin, head=self.command == "HEAD")
        route = matched[0].path if matched is not None else None
        self._log_request(request_id, path, response.status, started, route=route, user=caller_id)

    def _log_request(
        self,
        request_id: str,
        path: str,
        status: int,
        started: float,
        *,
        route: str | None = None,
        user: str | None = None,
    ) -> None:
        # The path only: a query string may carry what a client should not have put there.
        log_event(
            "request",
            request_id=request_id,
            method=getattr(self, "command", None),
            route=route,
            path=path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            user_id=user,
        )

    def _pipeline(
        self, request_id: str, settings: Settings, matched: tuple[Route, re.Match[str]] | None
    ) -> tuple[Response, Request | None]:
        if matched is None:
            raise NotFound()
        route, match = matched
        split = urlsplit(self.path)
        method = self.command
        if method == "OPTIONS":
            return self._options(settings, route), None
        operation = route.operation_for(method)
        if operation is None:
            raise MethodNotAllowed(route.allowed_methods())
        json_body = self._json_body(operation) if method in BODY_METHODS else None
        request = Request(
            method=method,
            path=split.path,
            params=match.groupdict(),
            query={},
            headers=self.headers,
            request_id=request_id,
            client_ip=client_ip(
                self.headers,
                str(self.client_address[0]) if self.client_address else "",
                behind_vercel=settings.on_vercel,
            ),
            cookies=parse_cookies(self.headers),
            json_body=json_body,
        )
        if operation.auth == "required":
            from lib.supabase.caller import authenticate

            request.caller = authenticate(request, settings)
        raw_query = _strip_route_params(split.query, request.params)
        if operation.rate_limit is None:
            response = self._operate(operation, request, raw_query)
        else:
            from lib.supabase.ratelimit import COUNTED_IN_DATABASE, counted_in_database, enforce

            if operation.rate_limit in COUNTED_IN_DATABASE:
                # The database takes the write's unit in the write's own round trip; the
                # headers, kept on the handler for errors too, are filled in as it answers.
                self.rate_headers = {}
                with counted_in_database(operation.rate_limit, request, settings, self.rate_headers):
                    response = self._operate(operation, request, raw_query)
            else:
                # Kept on the handler: errors raised later carry the headers too.
                self.rate_headers = enforce(operation.rate_limit, request, settings)
                response = self._operate(operation, request, raw_query)
        if response.cache_control is None:
            response.cache_control = operation.cache_control
        return response, request

    def _operate(self, operation: Operation, request: Request, raw_query: str) -> Response:
        self._validate(operation, request, raw_query)
        if operation.permission is not None and not request.caller.can(operation.permission):
            raise Forbidden("You do not have permission for this operation")
        return operation.resolve()(request)

    def _json_body(self, operation: Operation) -> dict[str, Any]:
        # A body-less POST (logout, cookie refresh) is fine where every field is optional.
        no_body = self.headers.get("Content-Type") is None and self.headers.get("Transfer-Encoding") is None
        if no_body and operation.body_optional and self.headers.get("Content-Length", "0").strip() == "0":
            return {}
        return parse_json_object(read_body(self.headers, self.rfile))

    @staticmethod
    def _validate(operation: Operation, request: Request, raw_query: str) -> None:
        query = parse_query(raw_query)
        if operation.query is not None:
            request.validated_query = validate_query(operation.query, query)
        elif query:
            names = ", ".join(sorted(query))
            raise BadRequest(f"Unknown query parameters: {names}", code="invalid_query")
        request.query = query
        if operation.body is not None and request.json_body is not None:
            request.validated_body = validate_body(operation.body, request.json_body)

    def _options(self, settings: Settings, route: Route) -> Response:
        methods = route.allowed_methods()
        origin = self.headers.get("Origin")
        if self.headers.get("Access-Control-Request-Method") is None:
            response = empty_response(204, {"Allow": ", ".join(methods)})
        elif origin is None or not cors.is_allowed(origin, settings):
            raise Forbidden("This origin may not call the API")
        else:
            response = empty_response(204, cors.preflight_headers(origin, methods))
        response.cache_control = NO_STORE
        return response

    # -- writing ----------------------------------------------------------

    @staticmethod
    def _problem(error: ApiError, instance: str, request_id: str) -> Response:
        body = problem_document(error, instance=instance, request_id=request_id)
        return Response(
            status=error.status,
            body=body,
            content_type=PROBLEM_JSON,
            headers=dict(error.headers),
            cache_control=NO_STORE,
        )

    def _write(self, response: Response, request_id: str, origin: str | None, *, head: bool) -> None:
        try:
            settings: Settings | None = get_settings()
        except Exception:
            settings = None
        headers: dict[str, str] = {}
        if response.content_type is not None:
            text = response.content_type.startswith("text/") and "charset" not in response.content_type
            headers["Content-Type"] = (
                f"{response.content_type}; charset=utf-8" if text else response.content_type
            )
        headers["Cache-Control"] = response.cache_control or NO_STORE
        headers["Vary"] = CALLER_VARY if headers["Cache-Control"] == PRIVATE else "Origin"
        headers.update(SECURITY_HEADERS)
        if settings is not None and settings.environment in ("production", "preview"):
            headers["Strict-Transport-Security"] = HSTS
        if settings is not None:
            headers.update(cors.response_headers(origin, settings))
        headers.update(self.rate_headers)
        headers.update(response.headers)
        headers["X-Request-Id"] = request_id
        body = response.body if response.status not in (204, 304) else b""
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("Set-Cookie", cookie)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if body and not head:
            self.wfile.write(body)
