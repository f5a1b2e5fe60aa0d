"""One request through the contract's pipeline, with no socket: `handle(incoming, routes, deps)`.

Order of checks (docs/api.md §1.5): CORS preflight, method, body framing and
media type, authentication, rate limit, validation, then the operation itself
(authorisation, lookup, preconditions). A write's rate limit is taken by the
database in the write's own round trip; a write refused before it gets there is
counted then, so a spent budget still answers 429 first (lib.supabase.ratelimit).
Every outcome, expected or not, leaves as a complete HTTP response carrying the
request id, and as one structured log line.

What the pipeline learns about a request as it goes (the caller, the RateLimit
headers, the validated input) lives in a `Context` made for that request and
handed to the handler as a typed `Call` (lib.supabase.caller): nothing about a
request outlives it. lib.http.endpoint adapts http.server to this module.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, cast
from urllib.parse import unquote, unquote_plus, urlsplit

from lib.config import Settings
from lib.contract.routing import NO_STORE, PRIVATE, Operation, Route
from lib.contract.validation import validate_body, validate_query
from lib.http import cors
from lib.http.log import log_event, log_exception
from lib.http.methods import BODY_METHODS
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
    Incoming,
    Request,
    client_ip,
    parse_cookies,
    parse_json_object,
    parse_query,
    read_body,
    request_id_from,
)
from lib.http.response import PROBLEM_JSON, Response, empty_response
from lib.supabase.caller import Anonymous, Call, Caller, authenticate
from lib.supabase.deps import Deps

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=63072000; includeSubDomains"
CALLER_VARY = "Authorization, Cookie, Origin"


@functools.cache
def default_deps() -> Deps:
    """The real collaborators (each imported on first use)."""
    return Deps()


@dataclass
class Context:
    """Per-request state, gathered as the pipeline goes; never kept past the request."""

    request_id: str
    route: Route | None = None
    caller: Caller | None = None
    rate_headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    query: Any = None


# -- the query string ----------------------------------------------------------


def _decoded(text: str) -> str | None:
    """A query component as parse_query reads it, or None when it is not valid UTF-8."""
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return None


def strip_route_params(raw_query: str, params: Mapping[str, str]) -> str:
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


def match_route(routes: Sequence[Route], path: str) -> tuple[Route, re.Match[str]] | None:
    """The first of `routes` whose pattern matches `path`, with the match."""
    for route in routes:
        match = route.pattern.match(path)
        if match is not None:
            return route, match
    return None


# -- the pipeline --------------------------------------------------------------


def handle(incoming: Incoming, routes: Sequence[Route], deps: Deps | None = None) -> Response:
    """Answer one request; never raises. The Response is final: every header but framing.

    Logs one `request` line (and an `unhandled_exception` line for an unexpected error).
    """
    deps = deps or default_deps()
    started = time.perf_counter()
    context = Context(request_id_from(incoming.headers))
    path = urlsplit(incoming.target).path
    matched = match_route(routes, path)
    context.route = matched[0] if matched is not None else None
    settings: Settings | None = None
    user_id = None  # logged for an answered request only, as the log has always had it
    try:
        settings = deps.settings()
        response = _pipeline(incoming, matched, context, settings, deps)
        user_id = context.caller.user_id if context.caller is not None else None
    except ApiError as error:
        response = problem_response(error, path, context.request_id)
    except Exception as error:
        log_exception(context.request_id, error)
        response = problem_response(InternalError(), path, context.request_id)
    final = _finish(response, context, incoming.headers.get("Origin"), _settings_or_none(settings, deps))
    _log_request(context, incoming.method, path, final.status, started, user_id=user_id)
    return final


def refuse_framing(
    code: int, headers: Message | None, target: str, method: str | None, deps: Deps | None = None
) -> Response:
    """The problem+json answer to a request line or headers the server could not parse (400/414/431/505).

    Logs the request line as `handle` does (the path only, never the query).
    """
    deps = deps or default_deps()
    started = time.perf_counter()
    error: ApiError
    if code == 414:
        error = UriTooLong()
    elif code == 431:
        error = HeaderFieldsTooLarge()
    elif code in (400, 505):
        error = BadRequest("The request line or headers are malformed")
    else:
        error = InternalError()
    context = Context(request_id_from(headers))
    problem = problem_response(error, "", context.request_id)
    final = _finish(problem, context, None, _settings_or_none(None, deps))
    _log_request(context, method, urlsplit(target or "").path, error.status, started, user_id=None)
    return final


def _settings_or_none(settings: Settings | None, deps: Deps) -> Settings | None:
    if settings is not None:
        return settings
    try:
        return deps.settings()
    except Exception:
        return None


def _pipeline(
    incoming: Incoming,
    matched: tuple[Route, re.Match[str]] | None,
    context: Context,
    settings: Settings,
    deps: Deps,
) -> Response:
    if matched is None:
        raise NotFound()
    route, match = matched
    split = urlsplit(incoming.target)
    method = incoming.method
    if method == "OPTIONS":
        return _options(incoming.headers, settings, route)
    operation = route.operation_for(method)
    if operation is None:
        raise MethodNotAllowed(route.allowed_methods())
    json_body = _json_body(incoming, operation) if method in BODY_METHODS else None
    request = Request(
        method=method,
        path=split.path,
        params=match.groupdict(),
        query={},
        headers=incoming.headers,
        request_id=context.request_id,
        client_ip=client_ip(incoming.headers, incoming.peer, behind_vercel=settings.on_vercel),
        cookies=parse_cookies(incoming.headers),
        json_body=json_body,
    )
    if operation.auth == "required":
        context.caller = authenticate(request, settings)
    raw_query = strip_route_params(split.query, request.params)
    user_id = context.caller.user_id if context.caller is not None else None
    if operation.rate_limit is None:
        response = _operate(operation, request, raw_query, context, deps)
    else:
        from lib.supabase.ratelimit import COUNTED_IN_DATABASE, counted_in_database, enforce

        limiter = deps.limiter()
        if operation.rate_limit in COUNTED_IN_DATABASE:
            # The database takes the write's unit in the write's own round trip; the
            # headers, kept in the context for errors too, are filled in as it answers.
            with counted_in_database(
                operation.rate_limit, request, settings, context.rate_headers, limiter, user_id=user_id
            ):
                response = _operate(operation, request, raw_query, context, deps)
        else:
            # Kept in the context: errors raised later carry the headers too.
            context.rate_headers = enforce(operation.rate_limit, request, settings, limiter, user_id=user_id)
            response = _operate(operation, request, raw_query, context, deps)
    if response.cache_control is None:
        response.cache_control = operation.cache_control
    return response


def _operate(
    operation: Operation, request: Request, raw_query: str, context: Context, deps: Deps
) -> Response:
    query = parse_query(raw_query)
    if operation.query is not None:
        context.query = validate_query(operation.query, query)
    elif query:
        names = ", ".join(sorted(query))
        raise BadRequest(f"Unknown query parameters: {names}", code="invalid_query")
    request.query = query
    if operation.body is not None and request.json_body is not None:
        context.body = validate_body(operation.body, request.json_body)
    caller = context.caller
    if operation.permission is not None and (caller is None or not caller.can(operation.permission)):
        raise Forbidden("You do not have permission for this operation")
    handler = operation.resolve()  # looked up per call: a deployment test swaps it at run time
    if takes_request(handler):
        return cast(Callable[[Request], Response], handler)(request)
    if caller is not None:
        return handler(Call(request, caller, context.body, context.query, deps))
    return handler(Anonymous(request, context.body, context.query, deps))


@functools.cache
def takes_request(handler: Callable[..., Response]) -> bool:
    """True for a handler that takes the bare Request (one that needs no caller, input or deps)."""
    parameters = list(inspect.signature(handler).parameters.values())
    return bool(parameters) and parameters[0].annotation in ("Request", Request)


def _json_body(incoming: Incoming, operation: Operation) -> dict[str, Any]:
    headers = incoming.headers
    # A body-less POST (logout, cookie refresh) is fine where every field is optional.
    no_body = headers.get("Content-Type") is None and headers.get("Transfer-Encoding") is None
    if no_body and operation.body_optional and headers.get("Content-Length", "0").strip() == "0":
        return {}
    return parse_json_object(read_body(headers, incoming.stream))


def _options(headers: Message, settings: Settings, route: Route) -> Response:
    methods = route.allowed_methods()
    origin = headers.get("Origin")
    if headers.get("Access-Control-Request-Method") is None:
        response = empty_response(204, {"Allow": ", ".join(methods)})
    elif origin is None or not cors.is_allowed(origin, settings):
        raise Forbidden("This origin may not call the API")
    else:
        response = empty_response(204, cors.preflight_headers(origin, methods))
    response.cache_control = NO_STORE
    return response


# -- the answer ----------------------------------------------------------------


def problem_response(error: ApiError, instance: str, request_id: str) -> Response:
    """An error as problem+json, never cached."""
    body = problem_document(error, instance=instance, request_id=request_id)
    return Response(
        status=error.status,
        body=body,
        content_type=PROBLEM_JSON,
        headers=dict(error.headers),
        cache_control=NO_STORE,
    )


def _finish(response: Response, context: Context, origin: str | None, settings: Settings | None) -> Response:
    """The response with every common header (type, caching, security, CORS, rate limit, request id)."""
    headers: dict[str, str] = {}
    if response.content_type is not None:
        text = response.content_type.startswith("text/") and "charset" not in response.content_type
        kind = response.content_type
        headers["Content-Type"] = f"{kind}; charset=utf-8" if text else kind
    headers["Cache-Control"] = response.cache_control or NO_STORE
    headers["Vary"] = CALLER_VARY if headers["Cache-Control"] == PRIVATE else "Origin"
    headers.update(SECURITY_HEADERS)
    if settings is not None and settings.environment in ("production", "preview"):
        headers["Strict-Transport-Security"] = HSTS
    if settings is not None:
        headers.update(cors.response_headers(origin, settings))
    headers.update(context.rate_headers)
    headers.update(response.headers)
    headers["X-Request-Id"] = context.request_id
    return Response(
        status=response.status,
        body=response.body if response.status not in (204, 304) else b"",
        content_type=response.content_type,
        headers=headers,
        cache_control=headers["Cache-Control"],
        cookies=list(response.cookies),
    )


def _log_request(
    context: Context, method: str | None, path: str, status: int, started: float, *, user_id: str | None
) -> None:
    # The path only: a query string may carry what a client should not have put there.
    log_event(
        "request",
        request_id=context.request_id,
        method=method,
        route=context.route.path if context.route is not None else None,
        path=path,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        user_id=user_id,
    )
