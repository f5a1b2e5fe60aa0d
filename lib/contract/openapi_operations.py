"""One route's operations as OpenAPI objects: parameters, responses, descriptions, security.

lib.contract.openapi assembles these into the document; everything here is a pure function of
the route table's `Operation`s and pydantic's schema references.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

from lib.contract.docs_page import DOCS_CSP, HTML
from lib.contract.fields import VIN_INPUT_PATTERN
from lib.contract.routing import Operation, Route
from lib.http.cookies import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from lib.http.methods import UNSAFE_METHODS
from lib.http.response import JSON

SECURITY_REQUIRED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"cookieAuth": []}]
# 414 and 431: an over-long URL or header section is refused before any route logic runs.
ALWAYS_ERRORS = (405, 414, 431, 500)

# pydantic's JSON schema reference of each (model, mode).
Refs = Mapping[tuple[object, str], Any]

# The handlers of lib.contract.openapi answer If-None-Match themselves.
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


def _operation_id(operation: Operation) -> str:
    return operation.handler.partition(":")[2]


def header_object(
    description: str, schema: Mapping[str, Any] | None = None, *, required: bool = False
) -> dict[str, Any]:
    """An OpenAPI header object (a string unless `schema` says otherwise)."""
    header: dict[str, Any] = {"description": description, "schema": dict(schema or {"type": "string"})}
    if required:
        header["required"] = True
    return header


# Request headers whose values the API checks (others take any string).
_HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    # 1-255 printable ASCII characters, as they arrive: HTTP drops a value's surrounding spaces.
    "Idempotency-Key": {"type": "string", "pattern": "^[!-~](?:[ -~]{0,253}[!-~])?$"},
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def header_refs(*names: str) -> dict[str, Any]:
    """References to components/headers entries, by header name."""
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
        field_schema = standard_keywords(_drop_null(dict(properties[key])))
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
        **header_refs("X-Request-Id"),
        "Cache-Control": header_object(f"`{operation.cache_control}`", required=True),
    }
    if _has_etag(operation):
        headers.update(header_refs("ETag"))
    if status == 201 and operation.handler not in _SETS_COOKIES:
        headers.update(header_refs("Location"))  # a created resource; sign-up creates an account, not a URL
    if "Idempotency-Key" in operation.headers:
        headers.update(header_refs("Idempotent-Replayed"))
    if operation.rate_limit is not None:
        headers.update(header_refs("RateLimit", "RateLimit-Policy"))
    if operation.handler in _SETS_COOKIES:
        cookies = ", ".join(f"`{name}`" for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE))
        verb = "Clears" if operation.success == 204 else "Sets"
        headers["Set-Cookie"] = header_object(f"{verb} the session cookies {cookies}")
    if operation.content_type == HTML:
        headers["Content-Security-Policy"] = header_object(f"`{DOCS_CSP}`", required=True)
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


def error_statuses(operation: Operation) -> list[int]:
    """Every status `operation` may answer other than its success (304 included when conditional)."""
    statuses = set(operation.errors) | set(ALWAYS_ERRORS)
    if operation.auth == "required":
        statuses.add(401)
    if _is_conditional(operation):
        statuses.add(304)
    return sorted(statuses)


def _responses(operation: Operation, refs: Refs) -> dict[str, Any]:
    responses: dict[str, Any] = {str(operation.success): _success_response(operation, refs)}
    for status in error_statuses(operation):
        if status == 304:
            responses["304"] = _ref("responses", "NotModified")
        elif (operation.handler, status) in _MODEL_ERRORS and operation.response is not None:
            alternative = _success_response(operation, refs)
            alternative["description"] = _MODEL_ERRORS[(operation.handler, status)]
            if status == 503:
                alternative["headers"].update(header_refs("Retry-After"))
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


def operation_object(
    route: Route,
    method: str,
    operation: Operation,
    refs: Refs,
    query_schemas: Mapping[type[BaseModel], Mapping[str, Any]],
) -> dict[str, Any]:
    """The OpenAPI operation object of `method` on `route`; `refs` and `query_schemas` from pydantic."""
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


def head_operation(get: Mapping[str, Any]) -> dict[str, Any]:
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


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def standard_keywords(schema: Any) -> Any:
    """`schema` with pydantic's raw ge/le/gt/lt (left when a validator wraps an int) as JSON Schema bounds."""
    if isinstance(schema, list):
        return [standard_keywords(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    numeric = schema.get("type") in ("integer", "number")
    return {
        (_BOUNDS[key] if numeric and key in _BOUNDS and isinstance(value, int | float) else key): (
            standard_keywords(value)
        )
        for key, value in schema.items()
    }
