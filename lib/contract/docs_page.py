"""The HTML docs page: an OpenAPI document rendered as one self-contained page.

No scripts and no external resources (the page is served with DOCS_CSP); everything shown comes
from the document given, so the page cannot say anything the document does not.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

HTML = "text/html"
# The page needs inline styles and nothing else; the document describes this header too.
DOCS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

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


# The JSON Schema keywords that bound a value, as the docs word them: this page and docs/api.md's
# field tables (devstack.api_reference_tables) both list a schema's bounds through schema_bounds.
BOUNDS = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minimum", "≥"),
    ("maximum", "≤"),
    ("exclusiveMinimum", ">"),
    ("exclusiveMaximum", "<"),
    ("pattern", "pattern"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
)


def schema_bounds(schema: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) of each bound `schema` or one of its anyOf options sets, option by option."""
    options = [option for option in [schema, *schema.get("anyOf", [])] if isinstance(option, dict)]
    return [(label, option[key]) for option in options for key, label in BOUNDS if key in option]


def _constraints(schema: Mapping[str, Any]) -> str:
    found = [f"{_e(label)} <code>{_e(value)}</code>" for label, value in schema_bounds(schema)]
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


def render(document: Mapping[str, Any]) -> str:
    """The whole documentation page of `document`: self-contained HTML, no scripts, no external resources."""
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
