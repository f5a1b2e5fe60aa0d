"""The OpenAPI 3.1 document, generated from the route table and the schemas, and its two endpoints.

Nothing here is maintained by hand next to the route table: paths, methods,
parameters, bodies and responses come from `ALL_ROUTES` (each operation built by
lib.contract.openapi_operations), schemas from the pydantic models, problem codes
from `lib.http.problems.CATALOG`. The document, and the HTML page that
lib.contract.docs_page renders from it, are built on the first request and cached
for the life of the process (and the day).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from lib.contract import docs_page
from lib.contract.fields import SCHEMA_DAY
from lib.contract.openapi_operations import (
    error_statuses,
    head_operation,
    header_object,
    header_refs,
    operation_object,
    standard_keywords,
)
from lib.contract.outputs import Problem
from lib.contract.routes import ALL_ROUTES
from lib.contract.routing import Route
from lib.http.conditional import body_etag, conditional_response
from lib.http.cookies import ACCESS_COOKIE, CSRF_HEADER
from lib.http.problems import CATALOG
from lib.http.request import REQUEST_ID, Request
from lib.http.response import PROBLEM_JSON, Response

OPENAPI_VERSION = "3.1.0"
TITLE = "Vehicle API"
VERSION = "1.0.0"  # the contract's version; deterministic on purpose (not the deployment's)
SCHEMA_REF = "#/components/schemas/{model}"
INFO_DESCRIPTION = """\
JSON over HTTPS. Request bodies must be `Content-Type: application/json` (UTF-8) and at most 64 KiB; \
unknown body fields are `422 validation_error`, unknown query parameters `400 invalid_query`.

Every error is RFC 9457 problem details (`application/problem+json`) with a stable `code`; \
validation failures list the invalid fields in `errors`. Every response carries `X-Request-Id`.

Authenticate with `Authorization: Bearer <Supabase access token>`, or with the session cookies set by \
`POST /api/auth/login`; cookie-authenticated `POST`, `PATCH`, `PUT` and `DELETE` requests must send \
`X-CSRF-Token` equal to the session's CSRF token: the `csrf-token` cookie, or the `csrf_token` of the \
Session (for a frontend on another host of the same site, which cannot read the cookie).

`HEAD` works wherever `GET` does; `OPTIONS` answers CORS preflights."""

# Response headers shared by many operations: components/headers.
COMMON_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": header_object(
        "The request's id: the caller's X-Request-Id when well-formed, else a new one", required=True
    ),
    "ETag": header_object("Strong validator for If-None-Match / If-Match", required=True),
    "Location": header_object("URL of the created resource", required=True),
    "Idempotent-Replayed": header_object("`true` when this is a replay of an earlier response"),
    "RateLimit": header_object("Remaining quota of this policy (draft-ietf-httpapi-ratelimit-headers)"),
    "RateLimit-Policy": header_object("The quota policy applied to this request"),
    "Retry-After": header_object("Whole seconds to wait before retrying", {"type": "integer", "minimum": 1}),
    "WWW-Authenticate": header_object("`Bearer`", required=True),
    "Allow": header_object("The methods this path supports", required=True),
}
REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": f"Echoed when it matches `{REQUEST_ID.pattern}`; any other value is replaced by a new id "
    "(never rejected).",
    "schema": {"type": "string"},
}


def problem_codes(status: int) -> list[str]:
    """The problem codes of lib.http.problems.CATALOG that carry `status`."""
    return [code for code, (code_status, _title) in CATALOG.items() if code_status == status]


def _problem_response(status: int, problem_ref: Mapping[str, Any]) -> dict[str, Any]:
    """components/responses/Problem<status>: problem+json, the codes of that status listed."""
    codes = problem_codes(status)
    listing = ", ".join(f"`{code}` ({CATALOG[code][1]})" for code in codes)
    phrase = HTTPStatus(status).phrase
    # Vercel's edge (and `make dev`'s router) refuses an over-long URL itself, in plain text, before
    # the function runs: no request id then.
    names = [] if status == 414 else ["X-Request-Id"]
    content: dict[str, Any] = {PROBLEM_JSON: {"schema": dict(problem_ref)}}
    if status == 414:
        content["text/plain"] = {"schema": {"type": "string"}}
    if status == 401:
        names.append("WWW-Authenticate")
    elif status == 405:
        names.append("Allow")
    elif status in (429, 503):
        names.append("Retry-After")
    if status == 429:
        names += ["RateLimit", "RateLimit-Policy"]
    return {
        "description": f"{phrase}. Possible codes: {listing}." if codes else phrase,
        "headers": header_refs(*names),
        "content": content,
        "x-problem-codes": codes,
    }


NOT_MODIFIED: dict[str, Any] = {
    "description": "Not Modified: If-None-Match matched; no body",
    "headers": header_refs("ETag", "X-Request-Id"),
}


def _models(routes: Iterable[Route]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    seen: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for route in routes:
        for operation in route.operations.values():
            if operation.body is not None:
                seen[(operation.body, "validation")] = None
            if operation.response is not None:
                seen[(operation.response, "serialization")] = None
    seen[(Problem, "serialization")] = None
    return list(seen)


T = TypeVar("T")


def _daily[T](function: Callable[..., T]) -> Callable[..., T]:
    """Cache like functools.cache, but only for the current UTC date.

    The document states date-dependent rules (`performed_at` not after today, `model_year` up to this
    year + 2); a warm instance that outlives a day must not keep describing yesterday.
    """
    cache: dict[tuple[Any, ...], T] = {}
    lock = threading.Lock()

    @functools.wraps(function)
    def cached(*args: Any) -> T:
        key = (datetime.now(UTC).date(), *args)
        with lock:
            if key in cache:
                return cache[key]
        value = function(*args)
        with lock:
            if any(old[0] != key[0] for old in cache):
                cache.clear()
            return cache.setdefault(key, value)

    return cached


def _merge_definitions(target: dict[str, Any], definitions: Mapping[str, Any]) -> None:
    for name, schema in definitions.items():
        if name in target and target[name] != schema:
            raise ValueError(f"two different schemas are both named {name}")
        target[name] = schema


@_daily
def build_document(today: date | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in ALL_ROUTES, its date rules as of `today` (UTC).

    None, the default, means the current UTC date; built once per process and day (and `today`).
    """
    token = SCHEMA_DAY.set(today)
    try:
        return _document()
    finally:
        SCHEMA_DAY.reset(token)


def _document() -> dict[str, Any]:
    raw_refs, top = models_json_schema(_models(ALL_ROUTES), ref_template=SCHEMA_REF)
    refs: dict[tuple[object, str], Any] = dict(raw_refs.items())
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    query_schemas: dict[type[BaseModel], Mapping[str, Any]] = {}
    for route in ALL_ROUTES:
        for operation in route.operations.values():
            if operation.query is not None and operation.query not in query_schemas:
                schema = operation.query.model_json_schema(ref_template=SCHEMA_REF, mode="validation")
                _merge_definitions(schemas, schema.pop("$defs", {}))
                query_schemas[operation.query] = schema

    paths: dict[str, Any] = {}
    tags: dict[str, None] = {}
    for route in ALL_ROUTES:
        item: dict[str, Any] = {}
        for method, operation in route.operations.items():
            item[method.lower()] = operation_object(route, method, operation, refs, query_schemas)
            tags.update(dict.fromkeys(operation.tags))
        if "get" in item and "head" not in item:
            item["head"] = head_operation(item["get"])
        paths[route.path] = item

    problem_ref = refs[(Problem, "serialization")]
    statuses = sorted(
        {status for route in ALL_ROUTES for op in route.operations.values() for status in error_statuses(op)}
        - {304}
    )
    responses: dict[str, Any] = {"NotModified": NOT_MODIFIED}
    responses.update({f"Problem{status}": _problem_response(status, problem_ref) for status in statuses})
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": VERSION, "description": INFO_DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": name} for name in tags],
        "paths": paths,
        "components": {
            "schemas": standard_keywords(dict(sorted(schemas.items()))),
            "responses": responses,
            "parameters": {"X-Request-Id": REQUEST_ID_PARAMETER},
            "headers": COMMON_HEADERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Supabase access token",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": ACCESS_COOKIE,
                    "description": f"Set by POST /api/auth/login; unsafe methods also need `{CSRF_HEADER}`",
                },
            },
        },
    }


@_daily
def document_bytes() -> bytes:
    """The document as compact UTF-8 JSON (built once per process)."""
    return json.dumps(build_document(), ensure_ascii=False, separators=(",", ":")).encode()


@_daily
def docs_html() -> str:
    """The docs page of today's document: self-contained HTML, no scripts, no external resources."""
    return docs_page.render(build_document())


@_daily
def _representation(kind: str) -> tuple[bytes, str]:
    """The body and strong ETag of the document ("json") or the docs page ("html"), once per process."""
    body = document_bytes() if kind == "json" else docs_html().encode()
    return body, body_etag(body)


def serve_document(request: Request) -> Response:
    """GET /api/openapi.json: the document, 304 when If-None-Match matches its ETag."""
    body, etag = _representation("json")
    return conditional_response(request, body, etag)


def serve_docs(request: Request) -> Response:
    """GET /api/docs: the document rendered as a self-contained HTML page, 304 when unchanged."""
    body, etag = _representation("html")
    return conditional_response(
        request,
        body,
        etag,
        content_type=docs_page.HTML,
        headers={"Content-Security-Policy": docs_page.DOCS_CSP},
    )
