"""The OpenAPI 3.1 document and the HTML docs page, generated from the route table and the schemas.

Nothing here is maintained by hand next to the route table: paths, methods,
parameters, bodies and responses come from `ALL_ROUTES`, schemas from the
pydantic models, problem codes from `lib.http.problems.CATALOG`. The document is
built on the first request and cached for the life of the process.
"""

from __future__ import annotations

import functools
import html
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from lib.contract.routes import ALL_ROUTES
from lib.contract.routing import Operation, Route
from lib.contract.schemas import VIN_INPUT_PATTERN, Problem
from lib.http.conditional import body_etag, conditional_response
from lib.http.cookies import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from lib.http.problems import CATALOG
from lib.http.request import REQUEST_ID, Request
from lib.http.response import JSON, PROBLEM_JSON, Response

OPENAPI_VERSION = "3.1.0"
TITLE = "Vehicle API"
VERSION = "1.0.0"  # the contract's version; deterministic on purpose (not the deployment's)
SCHEMA_REF = "#/components/schemas/{model}"
HTML = "text/html"
DOCS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_REQUIRED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"cookieAuth": []}]
UNSAFE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# 414 and 431: an over-long URL or header section is refused before any route logic runs.
ALWAYS_ERRORS = (405, 414, 431, 500)

# pydantic's JSON schema reference of each (model, mode).
Refs = Mapping[tuple[object, str], Any]

# The handlers of this module answer If-None-Match themselves.
_SELF_CONDITIONAL = frozenset({"lib.contract.openapi:serve_document", "lib.contract.openapi:serve_docs"})
# Handlers that set or clear the session cookies (lib.resources.account).
_SETS_COOKIES = frozenset(
    {
        "lib.resources.account:signup",
        "lib.resources.account:login",
        "lib.resources.account:refresh",
        "lib.resources.account:logout",
        "lib.resources.account:verify",
    }
)
# Unauthenticated routes that read the session cookies, and so need X-CSRF-Token with them.
_COOKIE_READERS = frozenset({"lib.resources.account:refresh", "lib.resources.account:logout"})
# Handlers that authenticate the caller themselves (auth="none" in the route table): logout
# accepts a Bearer token or the session cookies, down to the refresh cookie alone.
_SELF_AUTHENTICATED = frozenset({"lib.resources.account:logout"})
# Statuses a handler answers with its own response model instead of a problem.
_MODEL_ERRORS = {
    ("lib.resources.health:check_health", 503): "Degraded: the database is unreachable (status `degraded`)"
}

# Wording for query parameters whose model field has no `description`.
_QUERY_HINTS = {
    "limit": "Page size.",
    "cursor": "The opaque `next_cursor` of the previous page; any other value is `400 invalid_cursor`.",
    "sort": "Sort key, `-` prefix for descending.",
    "q": "Case-insensitive substring of make, model, plate or VIN, matched literally.",
    "status": "Only vehicles with this status.",
    "make": "Case-insensitive exact make.",
    "model": "Exact model, case-sensitive (unlike `make`).",
    "model_year": "Exact model year.",
    "year_min": "Model year at least this (inclusive).",
    "year_max": "Model year at most this (inclusive).",
    "owner_id": "Only vehicles of this owner (empty when the caller cannot see them).",
    "table": "Only changes to this table.",
    "record_id": "Only changes to this record.",
    "actor_id": "Only changes made by this user.",
}
_PATH_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "id": ({"type": "string", "format": "uuid"}, "The resource's UUID; anything else is `404`."),
    "record_id": (
        {"type": "string", "format": "uuid"},
        "The maintenance record's UUID; anything else is `404`.",
    ),
    "vin": (
        {"type": "string", "pattern": VIN_INPUT_PATTERN},
        "A 17-character VIN (trimmed and upper-cased); a wrong check digit is `200` with `valid: false`.",
    ),
}

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


# --------------------------------------------------------------------------- the document


def _operation_id(operation: Operation) -> str:
    return operation.handler.partition(":")[2]


def _header(
    description: str, schema: Mapping[str, Any] | None = None, *, required: bool = False
) -> dict[str, Any]:
    header: dict[str, Any] = {"description": description, "schema": dict(schema or {"type": "string"})}
    if required:
        header["required"] = True
    return header


# Response headers shared by many operations: components/headers.
COMMON_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": _header(
        "The request's id: the caller's X-Request-Id when well-formed, else a new one", required=True
    ),
    "ETag": _header("Strong validator for If-None-Match / If-Match", required=True),
    "Location": _header("URL of the created resource", required=True),
    "Idempotent-Replayed": _header("`true` when this is a replay of an earlier response"),
    "RateLimit": _header("Remaining quota of this policy (draft-ietf-httpapi-ratelimit-headers)"),
    "RateLimit-Policy": _header("The quota policy applied to this request"),
    "Retry-After": _header("Whole seconds to wait before retrying", {"type": "integer", "minimum": 1}),
    "WWW-Authenticate": _header("`Bearer`", required=True),
    "Allow": _header("The methods this path supports", required=True),
}
REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": f"Echoed when it matches `{REQUEST_ID.pattern}`; any other value is replaced by a new id "
    "(never rejected).",
    "schema": {"type": "string"},
}
# Request headers whose values the API checks (others take any string).
_HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    # 1-255 printable ASCII characters, as they arrive: HTTP drops a value's surrounding spaces.
    "Idempotency-Key": {"type": "string", "pattern": "^[!-~](?:[ -~]{0,253}[!-~])?$"},
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _headers(*names: str) -> dict[str, Any]:
    return {name: _ref("headers", name) for name in names}


def _is_conditional(operation: Operation) -> bool:
    return 304 in operation.errors or operation.handler in _SELF_CONDITIONAL


def _has_etag(operation: Operation) -> bool:
    if operation.success == 204:
        return False
    # A versioned resource (an integer `version`) is sent with its ETag wherever it is returned.
    version = operation.response.model_fields.get("version") if operation.response is not None else None
    versioned = version is not None and version.annotation is int
    return _is_conditional(operation) or "If-Match" in operation.headers or versioned


def _drop_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without pydantic's `| None` branch, title and null default."""
    result = {key: value for key, value in schema.items() if key != "title"}
    options = result.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            del result["anyOf"]
            result = {**kept[0], **result}
        else:
            result["anyOf"] = kept
    if "default" in result and result["default"] is None:
        del result["default"]
    return result


def _query_parameters(model: type[BaseModel], schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    parameters: list[dict[str, Any]] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        field_schema = _standard_keywords(_drop_null(dict(properties[key])))
        description = field_schema.pop("description", None) or info.description or _QUERY_HINTS.get(name, "")
        parameters.append(
            {
                "name": key,
                "in": "query",
                "required": info.is_required(),
                "description": description,
                "schema": field_schema,
            }
        )
    return parameters


def _header_parameters(method: str, operation: Operation) -> list[dict[str, Any]]:
    documented = dict(operation.headers)
    if _is_conditional(operation) and "If-None-Match" not in documented:
        documented["If-None-Match"] = "ETag of a previous response: 304 when unchanged"
    if method in UNSAFE_METHODS and (operation.auth == "required" or operation.handler in _COOKIE_READERS):
        documented.setdefault(
            CSRF_HEADER,
            f"Required with cookie authentication: the session's CSRF token (the `{CSRF_COOKIE}` cookie, "
            "or the Session's `csrf_token`)",
        )
    parameters = [
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": text,
            "schema": dict(_HEADER_SCHEMAS.get(name, {"type": "string"})),
        }
        for name, text in documented.items()
    ]
    return [*parameters, _ref("parameters", "X-Request-Id")]


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    parameters = []
    for name in route.param_names:
        schema, description = _PATH_PARAMS.get(name, ({"type": "string"}, ""))
        parameters.append(
            {"name": name, "in": "path", "required": True, "description": description, "schema": dict(schema)}
        )
    return parameters


def _success_response(operation: Operation, refs: Refs) -> dict[str, Any]:
    status = operation.success
    headers: dict[str, Any] = {
        **_headers("X-Request-Id"),
        "Cache-Control": _header(f"`{operation.cache_control}`", required=True),
    }
    if _has_etag(operation):
        headers.update(_headers("ETag"))
    if status == 201 and operation.handler not in _SETS_COOKIES:
        headers.update(_headers("Location"))  # a created resource; sign-up creates an account, not a URL
    if "Idempotency-Key" in operation.headers:
        headers.update(_headers("Idempotent-Replayed"))
    if operation.rate_limit is not None:
        headers.update(_headers("RateLimit", "RateLimit-Policy"))
    if operation.handler in _SETS_COOKIES:
        cookies = ", ".join(f"`{name}`" for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE))
        verb = "Clears" if operation.success == 204 else "Sets"
        headers["Set-Cookie"] = _header(f"{verb} the session cookies {cookies}")
    if operation.content_type == HTML:
        headers["Content-Security-Policy"] = _header(f"`{DOCS_CSP}`", required=True)
    response: dict[str, Any] = {"description": HTTPStatus(status).phrase, "headers": headers}
    if status != 204:
        if operation.response is not None:
            schema: dict[str, Any] = dict(refs[(operation.response, "serialization")])
        elif operation.content_type == HTML:
            schema = {"type": "string"}
        else:
            schema = {"type": "object", "description": "An OpenAPI 3.1 document"}
        response["content"] = {operation.content_type: {"schema": schema}}
    return response


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
        "headers": _headers(*names),
        "content": content,
        "x-problem-codes": codes,
    }


NOT_MODIFIED: dict[str, Any] = {
    "description": "Not Modified: If-None-Match matched; no body",
    "headers": _headers("ETag", "X-Request-Id"),
}


def _error_statuses(operation: Operation) -> list[int]:
    statuses = set(operation.errors) | set(ALWAYS_ERRORS)
    if operation.auth == "required":
        statuses.add(401)
    if _is_conditional(operation):
        statuses.add(304)
    return sorted(statuses)


def _responses(operation: Operation, refs: Refs) -> dict[str, Any]:
    responses: dict[str, Any] = {str(operation.success): _success_response(operation, refs)}
    for status in _error_statuses(operation):
        if status == 304:
            responses["304"] = _ref("responses", "NotModified")
        elif (operation.handler, status) in _MODEL_ERRORS and operation.response is not None:
            alternative = _success_response(operation, refs)
            alternative["description"] = _MODEL_ERRORS[(operation.handler, status)]
            if status == 503:
                alternative["headers"].update(_headers("Retry-After"))
            responses[str(status)] = alternative
        else:
            responses[str(status)] = _ref("responses", f"Problem{status}")
    return responses


def _description(operation: Operation) -> str:
    parts = [(operation.description or operation.summary).rstrip(".") + "."]
    if operation.auth == "required":
        parts.append("Requires a signed-in caller.")
    elif operation.handler in _SELF_AUTHENTICATED:
        parts.append("Requires a session: a Bearer token or the session cookies.")
    else:
        parts.append("No authentication required.")
    if operation.permission is not None:
        parts.append(f"Requires permission `{operation.permission}`.")
    if operation.rate_limit is not None:
        parts.append(f"Rate limit policy: `{operation.rate_limit}`.")
    return " ".join(parts)


def _operation(
    route: Route,
    method: str,
    operation: Operation,
    refs: Refs,
    query_schemas: Mapping[type[BaseModel], Mapping[str, Any]],
) -> dict[str, Any]:
    parameters = _path_parameters(route)
    if operation.query is not None:
        parameters += _query_parameters(operation.query, query_schemas[operation.query])
    parameters += _header_parameters(method, operation)
    document: dict[str, Any] = {
        "operationId": _operation_id(operation),
        "summary": operation.summary,
        "description": _description(operation),
        "tags": list(operation.tags),
        "parameters": parameters,
    }
    if operation.body is not None:
        document["requestBody"] = {
            "required": not operation.body_optional,
            "content": {JSON: {"schema": dict(refs[(operation.body, "validation")])}},
        }
    document["responses"] = _responses(operation, refs)
    authenticated = operation.auth == "required" or operation.handler in _SELF_AUTHENTICATED
    document["security"] = list(SECURITY_REQUIRED) if authenticated else []
    document["x-cache-control"] = operation.cache_control
    if operation.rate_limit is not None:
        document["x-rate-limit-policy"] = operation.rate_limit
    if operation.permission is not None:
        document["x-permission"] = operation.permission
    return document


def _head_operation(get: Mapping[str, Any]) -> dict[str, Any]:
    """HEAD: GET's parameters and response headers, without bodies."""
    responses = {
        status: {key: value for key, value in response.items() if key != "content"}
        if "$ref" not in response
        else response
        for status, response in get["responses"].items()
    }
    return {
        **get,
        "operationId": f"{get['operationId']}_head",
        "summary": f"{get['summary']} (headers only)",
        "responses": responses,
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


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard_keywords(schema: Any) -> Any:
    """`schema` with pydantic's raw ge/le/gt/lt (left when a validator wraps an int) as JSON Schema bounds."""
    if isinstance(schema, list):
        return [_standard_keywords(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    numeric = schema.get("type") in ("integer", "number")
    return {
        (_BOUNDS[key] if numeric and key in _BOUNDS and isinstance(value, int | float) else key): (
            _standard_keywords(value)
        )
        for key, value in schema.items()
    }


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
def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in ALL_ROUTES (built once per process and day)."""
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
            item[method.lower()] = _operation(route, method, operation, refs, query_schemas)
            tags.update(dict.fromkeys(operation.tags))
        if "get" in item and "head" not in item:
            item["head"] = _head_operation(item["get"])
        paths[route.path] = item

    problem_ref = refs[(Problem, "serialization")]
    statuses = sorted(
        {status for route in ALL_ROUTES for op in route.operations.values() for status in _error_statuses(op)}
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
            "schemas": _standard_keywords(dict(sorted(schemas.items()))),
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
        request, body, etag, content_type=HTML, headers={"Content-Security-Policy": DOCS_CSP}
    )


# --------------------------------------------------------------------------- the HTML page

_STYLE = """
:root{color-scheme:light dark;--fg:#1d2430;--muted:#5b6475;--bg:#fff;--panel:#f5f7fa;--line:#d9dee7;
--get:#1f7a3a;--post:#1d5fb8;--put:#8a5a00;--patch:#6b3fa0;--delete:#b42318;--head:#4a5568}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ef;--muted:#a3acbd;--bg:#12161c;--panel:#1b2129;
--line:#2f3845}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header{padding:1.2rem 2rem;border-bottom:1px solid var(--line)}
header h1{margin:0;font-size:1.6rem}
header small{color:var(--muted);font-weight:normal}
.layout{display:flex;align-items:flex-start}
nav{position:sticky;top:0;max-height:100vh;overflow:auto;width:23rem;flex:none;padding:1rem 1.2rem;
border-right:1px solid var(--line);font-size:.85rem}
nav ul{list-style:none;margin:0;padding:0}
nav li{margin:.15rem 0;white-space:nowrap}
nav h3{margin:1rem 0 .3rem;font-size:.8rem;text-transform:uppercase;color:var(--muted)}
main{flex:1;min-width:0;padding:1rem 2rem 4rem}
a{color:inherit}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
pre{background:var(--panel);border:1px solid var(--line);padding:.7rem;overflow:auto;border-radius:6px}
.op{border:1px solid var(--line);border-radius:8px;margin:1.2rem 0;padding:0 1rem 1rem}
.op>h3{display:flex;gap:.7rem;align-items:baseline;flex-wrap:wrap;margin:.9rem 0 .3rem;font-size:1.05rem}
.method{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;
font:bold .8rem/1.8 ui-monospace,monospace;padding:0 .4rem}
.m-get{background:var(--get)}.m-post{background:var(--post)}.m-put{background:var(--put)}
.m-patch{background:var(--patch)}.m-delete{background:var(--delete)}.m-head{background:var(--head)}
.path{font-family:ui-monospace,monospace;font-weight:600}
.summary{color:var(--muted);font-weight:normal}
.auth{display:inline-block;font-size:.8rem;border:1px solid var(--line);border-radius:999px;padding:0 .6rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0 .8rem;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600}
h4{margin:1rem 0 .2rem;font-size:.95rem}
details>summary{cursor:pointer;color:var(--muted)}
.req{color:var(--delete);font-weight:bold}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_INLINE_CODE = re.compile(r"`([^`]+)`")


def _prose(text: str) -> str:
    """Escaped text with `code` spans, one <p> per paragraph."""
    paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
    return "".join("<p>" + _INLINE_CODE.sub(r"<code>\1</code>", _e(part)) + "</p>" for part in paragraphs)


def _inline(text: str) -> str:
    return _INLINE_CODE.sub(r"<code>\1</code>", _e(text))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(schema: Any, schemas: Mapping[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """`schema` with every $ref replaced by its definition (a recursive one is left as a $ref)."""
    if isinstance(schema, list):
        return [_resolve(item, schemas, stack) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = _ref_name(ref)
        if name in stack or name not in schemas:
            return schema
        return _resolve(schemas[name], schemas, (*stack, name))
    return {key: _resolve(value, schemas, stack) for key, value in schema.items()}


def _deref(value: Any, document: Mapping[str, Any]) -> Any:
    """Follow a local `$ref` (components/parameters, responses, headers) to what it names."""
    ref = value.get("$ref") if isinstance(value, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return value
    target: Any = document
    for part in ref[2:].split("/"):
        target = target[part]
    return target


def _type_html(schema: Mapping[str, Any]) -> str:
    """A short human-readable type, with links to named schemas."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = _ref_name(ref)
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            joiner = " &amp; " if combinator == "allOf" else " | "
            return joiner.join(_type_html(option) for option in options)
    if "const" in schema:
        return f"<code>{_e(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{_e(json.dumps(value))}</code>" for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items")
        return "array of " + (_type_html(items) if isinstance(items, dict) else "any")
    text = _e(kind if isinstance(kind, str) else " | ".join(map(str, kind)))
    if "format" in schema:
        text += f" <small>({_e(schema['format'])})</small>"
    return text


_CONSTRAINTS = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minimum", "≥"),
    ("maximum", "≤"),
    ("pattern", "pattern"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
)


def _constraints(schema: Mapping[str, Any]) -> str:
    found: list[str] = []
    for option in [schema, *schema.get("anyOf", [])]:
        if not isinstance(option, dict):
            continue
        for key, label in _CONSTRAINTS:
            if key in option:
                found.append(f"{_e(label)} <code>{_e(option[key])}</code>")
    if "default" in schema:
        found.append(f"default <code>{_e(json.dumps(schema['default']))}</code>")
    return ", ".join(found)


def _fields_table(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> str:
    """A table of an object schema's properties (following one $ref)."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = schemas.get(_ref_name(ref), schema)
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not properties:
        extra = "no other fields allowed" if schema.get("additionalProperties") is False else "any fields"
        return f"<p>An object with {extra}.</p>" if schema.get("type") == "object" else ""
    required = set(schema.get("required", []))
    rows = "".join(
        "<tr>"
        f"<td><code>{_e(name)}</code>{' <span class=req>*</span>' if name in required else ''}</td>"
        f"<td>{_type_html(prop)}</td>"
        f"<td>{_constraints(prop)}</td>"
        f"<td>{_inline(prop.get('description', ''))}</td>"
        "</tr>"
        for name, prop in properties.items()
    )
    closed = (
        "<p><small>Unknown fields are rejected.</small></p>"
        if schema.get("additionalProperties") is False
        else ""
    )
    return (
        "<table><thead><tr><th>field</th><th>type</th><th>rules</th><th>description</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{closed}"
    )


def _schema_block(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> str:
    pretty = json.dumps(_resolve(schema, schemas), indent=2, ensure_ascii=False)
    return (
        _fields_table(schema, schemas)
        + f"<details><summary>JSON Schema</summary><pre>{_e(pretty)}</pre></details>"
    )


def _parameters_html(raw: list[dict[str, Any]], document: Mapping[str, Any]) -> str:
    if not raw:
        return ""
    parameters = [_deref(parameter, document) for parameter in raw]
    rows = "".join(
        "<tr>"
        f"<td><code>{_e(p['name'])}</code>{' <span class=req>*</span>' if p.get('required') else ''}</td>"
        f"<td>{_e(p['in'])}</td>"
        f"<td>{_type_html(p.get('schema', {}))}</td>"
        f"<td>{_constraints(p.get('schema', {}))}</td>"
        f"<td>{_inline(p.get('description', ''))}</td>"
        "</tr>"
        for p in parameters
    )
    return (
        "<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>rules</th>"
        f"<th>description</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _responses_html(responses: Mapping[str, Any], document: Mapping[str, Any]) -> str:
    rows = []
    for status, raw in responses.items():
        response = _deref(raw, document)
        content: Mapping[str, Any] = response.get("content", {})
        bodies = "<br>".join(
            f"<code>{_e(media)}</code> {_type_html(entry.get('schema', {}))}"
            for media, entry in content.items()
        )
        codes = response.get("x-problem-codes", [])
        description = (
            _e(HTTPStatus(int(status)).phrase)
            + ": "
            + ", ".join(f"<code>{_e(code)}</code>" for code in codes)
            if codes
            else _inline(response.get("description", ""))
        )
        headers = ", ".join(f"<code>{_e(name)}</code>" for name in response.get("headers", {}))
        rows.append(
            f'<tr data-status="{_e(status)}"><td><strong>{_e(status)}</strong></td><td>{description}</td>'
            f"<td>{bodies or 'none'}</td><td>{headers}</td></tr>"
        )
    return (
        "<h4>Responses</h4><table><thead><tr><th>status</th><th>meaning</th><th>body</th><th>headers</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _auth_html(operation: Mapping[str, Any]) -> str:
    if not operation.get("security"):
        return '<span class="auth">public</span>'
    permission = operation.get("x-permission")
    text = "signed in" + (f" · {permission}" if permission else "")
    return f'<span class="auth" title="Bearer token or session cookie">{_e(text)}</span>'


def _operation_html(method: str, path: str, operation: Mapping[str, Any], document: Mapping[str, Any]) -> str:
    schemas: Mapping[str, Any] = document["components"]["schemas"]
    upper = method.upper()
    anchor = f"op-{operation['operationId']}"
    parts = [
        f'<article class="op" id="{_e(anchor)}" data-operation="{_e(upper)} {_e(path)}">',
        f'<h3><span class="method m-{_e(method)}">{_e(upper)}</span><span class="path">{_e(path)}</span>'
        f'<span class="summary">{_e(operation["summary"])}</span>{_auth_html(operation)}</h3>',
        _prose(operation.get("description", "")),
        _parameters_html(operation.get("parameters", []), document),
    ]
    body = operation.get("requestBody")
    if body is not None:
        required = "required" if body.get("required") else "optional"
        for media, entry in body.get("content", {}).items():
            parts.append(f"<h4>Request body <small>({_e(media)}, {required})</small></h4>")
            parts.append(_schema_block(entry.get("schema", {}), schemas))
    parts.append(_responses_html(operation.get("responses", {}), document))
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            for media, entry in response.get("content", {}).items():
                schema = entry.get("schema", {})
                if "$ref" in schema:
                    parts.append(
                        f"<h4>{_e(status)} body <small>({_e(media)}, {_type_html(schema)})</small></h4>"
                    )
                    parts.append(_fields_table(schema, schemas))
    parts.append("</article>")
    return "".join(parts)


@_daily
def docs_html() -> str:
    """The whole documentation page: self-contained HTML, no scripts, no external resources."""
    document = build_document()
    schemas: Mapping[str, Any] = document["components"]["schemas"]
    info = document["info"]
    by_tag: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {
        tag["name"]: [] for tag in document["tags"]
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "head":
                continue  # documented with its GET: same parameters and headers, no body
            for tag in operation.get("tags") or ["other"]:
                by_tag.setdefault(tag, []).append((method, path, operation))

    nav = []
    sections = []
    for tag, operations in by_tag.items():
        links = "".join(
            f'<li><a href="#op-{_e(op["operationId"])}"><span class="method m-{_e(method)}">'
            f"{_e(method.upper())}</span> {_e(path)}</a></li>"
            for method, path, op in operations
        )
        nav.append(f"<h3>{_e(tag)}</h3><ul>{links}</ul>")
        cards = "".join(_operation_html(method, path, op, document) for method, path, op in operations)
        sections.append(f'<section id="tag-{_e(tag)}"><h2>{_e(tag)}</h2>{cards}</section>')
    schema_sections = "".join(
        f'<section class="op" id="schema-{_e(name)}"><h3>{_e(name)}</h3>'
        f"{_prose(schema.get('description', ''))}{_schema_block(schema, schemas)}</section>"
        for name, schema in schemas.items()
    )
    nav.append('<h3>Schemas</h3><ul><li><a href="#schemas">all schemas</a></li></ul>')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(info['title'])} {_e(info['version'])}</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(info['title'])} <small>{_e(info['version'])} · "
        f"OpenAPI {_e(document['openapi'])}</small></h1>"
        '<p><a href="/api/openapi.json">openapi.json</a> · <code>HEAD</code> works wherever '
        "<code>GET</code> does</p></header>"
        f'<div class="layout"><nav aria-label="Operations">{"".join(nav)}</nav><main>'
        f'<section id="overview">{_prose(info.get("description", ""))}</section>'
        f"{''.join(sections)}"
        f'<section id="schemas"><h2>Schemas</h2>{schema_sections}</section>'
        "</main></div></body></html>"
    )
