"""The generated blocks of docs/api.md read from the OpenAPI document: routes, schemas, caching.

devstack.api_reference fills devstack/api_reference_template.md with them (and with the blocks of
devstack.api_reference_constants). Each reads the normalised document, never the models themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

from lib.contract.docs_page import schema_bounds

_LONG_PATTERN = 60
_METHODS = ("get", "post", "put", "patch", "delete")


# --------------------------------------------------------------------------- Markdown helpers


def cell(text: Any) -> str:
    """`text` fit for one Markdown table cell (pipes escaped, one line)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def code(value: Any) -> str:
    """`value` (JSON unless a string) as inline code in a table cell."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{cell(text)}`"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _deref(document: Mapping[str, Any], value: Any) -> Any:
    while isinstance(value, dict) and isinstance(value.get("$ref"), str) and value["$ref"].startswith("#/"):
        target: Any = document
        for part in value["$ref"][2:].split("/"):
            target = target[part]
        value = target
    return value


def _type(schema: Mapping[str, Any]) -> str:
    name = _ref_name(schema)
    if name is not None:
        return f"[{name}](#schema-{name.lower()})"
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            return " or ".join(_type(option) for option in options if isinstance(option, dict))
    if "const" in schema:
        return code(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(code(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items")
        return "array of " + (_type(items) if isinstance(items, dict) else "any")
    text = kind if isinstance(kind, str) else " or ".join(map(str, kind))
    return text + (f" ({schema['format']})" if "format" in schema else "")


def _bound(label: str, value: Any) -> str:
    if label == "pattern" and len(value) > _LONG_PATTERN and not value.startswith("<"):
        return "pattern (see the document)"  # too long for a table cell; the document has it
    return f"{label} {code(value)}"


def _rules(schema: Mapping[str, Any]) -> str:
    found = [_bound(label, value) for label, value in schema_bounds(schema)]
    if "default" in schema:
        found.append(f"default {code(schema['default'])}")
    return ", ".join(found)


def _description(schema: Mapping[str, Any]) -> str:
    text = schema.get("description")
    if not text:
        for option in schema.get("anyOf", []):
            if isinstance(option, dict) and option.get("description"):
                text = option["description"]
                break
    return cell(text or "")


def _fields(document: Mapping[str, Any], schema: Mapping[str, Any], required_word: str) -> str:
    resolved = _deref(document, schema)
    properties: Mapping[str, Any] = resolved.get("properties") or {}
    if not properties:
        return "No fields." if resolved.get("type") == "object" else f"{_type(schema)}."
    required = set(resolved.get("required") or [])
    rows = [
        [
            code(name),
            _type(prop),
            required_word if name in required else "",
            _rules(prop),
            _description(prop),
        ]
        for name, prop in properties.items()
    ]
    text = table(["field", "type", required_word, "rules", "description"], rows)
    if resolved.get("additionalProperties") is False and required_word == "required":
        text += "\n\nUnknown fields are `422 validation_error`."
    return text


# --------------------------------------------------------------------------- generated blocks


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(method, path, operation) of each operation of `document`, in document order."""
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method in item:
                yield method, path, item[method]


def _auth(operation: Mapping[str, Any]) -> str:
    if not operation.get("security"):
        return "public"
    if "handler authenticates" in operation.get("description", "") or "Requires a session" in operation.get(
        "description", ""
    ):
        return "session"
    return "signed in"


def _success(operation: Mapping[str, Any]) -> str:
    return min((status for status in operation["responses"] if status.startswith("2")), default="")


def _response_schema(document: Mapping[str, Any], operation: Mapping[str, Any], status: str) -> str:
    response = _deref(document, operation["responses"].get(status, {}))
    content: Mapping[str, Any] = response.get("content") or {}
    return (
        ", ".join(f"{_type(entry.get('schema', {}))} ({media})" for media, entry in content.items())
        or "no body"
    )


def route_summary(document: Mapping[str, Any]) -> str:
    """The table of every operation: auth, permission, rate-limit policy, success status."""
    rows = []
    for method, path, operation in operations(document):
        anchor = f"op-{operation['operationId']}".lower()
        rows.append(
            [
                f"[`{method.upper()} {cell(path)}`](#{anchor})",
                cell(operation.get("summary", "")),
                _auth(operation),
                code(operation["x-permission"]) if "x-permission" in operation else "",
                code(operation["x-rate-limit-policy"]) if "x-rate-limit-policy" in operation else "none",
                _success(operation),
            ]
        )
    return table(["route", "what", "auth", "permission", "rate limit", "success"], rows)


# Statuses every route can answer (documented once, in the summary).
_ALWAYS = frozenset({"405", "414", "431", "500"})


def _errors(document: Mapping[str, Any], operation: Mapping[str, Any]) -> str:
    parts = []
    for status in sorted(operation["responses"], key=int):
        if status.startswith("2") or status in _ALWAYS:
            continue
        response = _deref(document, operation["responses"][status])
        if status == "304" or "x-problem-codes" in response:
            parts.append(f"`{status}`")
        else:
            parts.append(f"`{status}` ({cell(response.get('description', ''))})")
    return ", ".join(parts) + " (codes per status: [§8.2](#s8-2))"


def routes(document: Mapping[str, Any]) -> str:
    """One subsection per operation: what it takes, needs and answers."""
    blocks = []
    anchored: set[str] = set()
    for number, (method, path, operation) in enumerate(operations(document), start=1):
        anchor = f"op-{operation['operationId']}".lower()
        success = _success(operation)
        policy = code(operation["x-rate-limit-policy"]) if "x-rate-limit-policy" in operation else "none"
        answer = (
            f"`{success}` {HTTPStatus(int(success)).phrase}, {_response_schema(document, operation, success)}"
        )
        lines = [
            f'<a id="{anchor}"></a>',
            f"### 4.{number} `{method.upper()} {path}`",
            "",
            cell(operation.get("description", operation.get("summary", ""))),
            "",
            f"- auth: {_auth(operation)}"
            + (f", permission `{operation['x-permission']}`" if "x-permission" in operation else ""),
            f"- rate limit: {policy}",
            f"- success: {answer}",
            f"- Cache-Control: {code(operation.get('x-cache-control', ''))}",
            f"- errors: {_errors(document, operation)}",
        ]
        parameters = [_deref(document, raw) for raw in operation.get("parameters", [])]
        shown = [p for p in parameters if p.get("name") != "X-Request-Id"]
        if shown:
            rows = [
                [
                    code(p["name"]),
                    p["in"],
                    "required" if p.get("required") else "",
                    _type(p.get("schema", {})),
                    _rules(p.get("schema", {})),
                    cell(p.get("description", "")),
                ]
                for p in shown
            ]
            lines += [
                "",
                "Parameters:",
                "",
                table(["name", "in", "required", "type", "rules", "description"], rows),
            ]
        body = operation.get("requestBody")
        if body is not None:
            for media, entry in body.get("content", {}).items():
                optional = "" if body.get("required") else " (optional: may be left out)"
                name = _ref_name(entry.get("schema", {}))
                if name is not None and name not in anchored:
                    anchored.add(name)
                    lines += ["", f'<a id="schema-{name.lower()}"></a>']
                lines += [
                    "",
                    f"Body{optional}, `{media}`, {_type(entry.get('schema', {}))}:",
                    "",
                    _fields(document, entry.get("schema", {}), "required"),
                ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _response_models(document: Mapping[str, Any]) -> list[str]:
    """Names of the schemas that success responses use, nested ones included, in document order."""
    names: dict[str, None] = {}

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            name = _ref_name(value)
            if name is not None and name not in names and name in document["components"]["schemas"]:
                names[name] = None
                visit(document["components"]["schemas"][name])
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    for _method, _path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                visit(_deref(document, response).get("content", {}))
    return list(names)


def schemas(document: Mapping[str, Any]) -> str:
    """A field table per response model."""
    blocks = []
    for number, name in enumerate(_response_models(document), start=1):
        schema = document["components"]["schemas"][name]
        blocks.append(
            f'<a id="schema-{name.lower()}"></a>\n### 3.{number} {name}\n\n'
            + (f"{cell(schema['description'])}\n\n" if schema.get("description") else "")
            + _fields(document, schema, "always")
        )
    return "\n\n".join(blocks)


def problem_schema(document: Mapping[str, Any]) -> str:
    """The Problem model's fields."""
    schema = document["components"]["schemas"].get("Problem")
    if schema is None:
        return ""
    text = '<a id="schema-problem"></a>\n\n' + _fields(document, schema, "always")
    if "ProblemError" in document["components"]["schemas"]:
        text += '\n\n<a id="schema-problemerror"></a>\n\nEach `errors[]` entry:\n\n'
        text += _fields(document, document["components"]["schemas"]["ProblemError"], "always")
    return text


def cache_control(document: Mapping[str, Any]) -> str:
    """Each operation's Cache-Control on success."""
    rows = [
        [f"`{method.upper()} {cell(path)}`", code(operation.get("x-cache-control", ""))]
        for method, path, operation in operations(document)
    ]
    return table(["route", "Cache-Control"], rows)
