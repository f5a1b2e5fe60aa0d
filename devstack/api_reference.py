"""docs/api.md and docs/openapi.snapshot.json, generated from the route table, models, catalog and settings.

`python -m devstack.api_reference` rewrites docs/api.md; `--snapshot` also rewrites the snapshot
of the OpenAPI document and prints its digest and the breaking changes since the previous one;
`--check` only reports (exit 1) whether either file is out of date.

The document is built as of two pinned dates and every value that differs between them (the rules
that move with the date: `model_year` up to this year + 2, `performed_at` not after today) is
replaced by a placeholder, so neither file changes with the calendar. Only stable interfaces are
used: `build_document`, `CATALOG`, the settings table and a few constants; everything else comes
from the document itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from unittest import mock

from devstack.api_diff import Change, breaking, classify

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "api_reference_template.md"
API_MD = ROOT / "docs" / "api.md"
CHANGES_MD = ROOT / "docs" / "api-changes.md"
SNAPSHOT = ROOT / "docs" / "openapi.snapshot.json"
COMMAND = "python -m devstack.api_reference"

PINNED_DAY = date(2026, 12, 3)
OTHER_DAY = date(2031, 6, 17)  # another year, month and day: every date-dependent value differs
TODAY_PATTERN = "<YYYY-MM-DD, not after today (UTC)>"
DATE_DEPENDENT = "<depends on the date>"
# A changelog heading naming a snapshot: "## 2026-12-03 · snapshot `0123456789ab` · …".
SNAPSHOT_REFERENCE = re.compile(r"^##[^\n]*?snapshot\s+`?([0-9a-f]{12})\b", re.MULTILINE)
_LONG_PATTERN = 60
_METHODS = ("get", "post", "put", "patch", "delete")


# --------------------------------------------------------------------------- the document


def document_as_of(day: date) -> dict[str, Any]:
    """The OpenAPI document as it would be built on `day` (UTC), bypassing the per-day cache."""
    from lib.contract import openapi

    class Pinned(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Pinned:
            return cls(day.year, day.month, day.day, 12, tzinfo=tz or UTC)

    with ExitStack() as patches:
        # The date rules live in the contract's models; openapi's own clock only keys its cache.
        for name, module in list(sys.modules.items()):
            contract = name.startswith("lib.contract.") and name != openapi.__name__
            if contract and getattr(module, "datetime", None) is datetime:
                patches.enter_context(mock.patch.object(module, "datetime", Pinned))
        build: Callable[[], dict[str, Any]] = getattr(
            openapi.build_document, "__wrapped__", openapi.build_document
        )
        document: dict[str, Any] = json.loads(json.dumps(build()))  # a private deep copy
    return document


def _placeholder(first: Any, second: Any) -> Any:
    """What a value that differs between PINNED_DAY's and OTHER_DAY's documents stands for."""
    if isinstance(first, int) and isinstance(second, int):
        offset = first - PINNED_DAY.year
        if second - OTHER_DAY.year == offset:
            return f"<current UTC year {'+' if offset >= 0 else '-'} {abs(offset)}>"
    if isinstance(first, str) and isinstance(second, str):
        try:
            today = re.fullmatch(first, PINNED_DAY.isoformat()) is not None
            tomorrow = re.fullmatch(first, (PINNED_DAY + timedelta(days=1)).isoformat()) is not None
        except re.error:
            today = tomorrow = False
        if today and not tomorrow:
            return TODAY_PATTERN
    return DATE_DEPENDENT


def _merge(first: Any, second: Any, where: str = "") -> Any:
    if isinstance(first, dict) and isinstance(second, dict):
        if set(first) != set(second):
            raise ValueError(f"the document's shape depends on the date at {where or '/'}")
        return {key: _merge(first[key], second[key], f"{where}/{key}") for key in first}
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        return [
            _merge(a, b, f"{where}/{index}") for index, (a, b) in enumerate(zip(first, second, strict=True))
        ]
    return first if first == second else _placeholder(first, second)


def normalised_document() -> dict[str, Any]:
    """The served document with its date-dependent values replaced by placeholders."""
    merged: dict[str, Any] = _merge(document_as_of(PINNED_DAY), document_as_of(OTHER_DAY))
    return merged


def digest(document: Mapping[str, Any]) -> str:
    """The short sha256 digest of a document (canonical JSON), as changelog headings cite it."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- the snapshot


def snapshot_text(document: Mapping[str, Any], unacknowledged: list[str]) -> str:
    """The snapshot file: the document (sorted keys), its digest and the breaking changes not yet logged."""
    content = {
        "about": "GET /api/openapi.json, date-dependent values as placeholders."
        f" Refresh: {COMMAND} --snapshot."
        " Breaking changes need a docs/api-changes.md heading naming `digest`.",
        "digest": digest(document),
        "unacknowledged_breaking_changes": unacknowledged,
        "document": document,
    }
    return json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_snapshot(path: Path = SNAPSHOT) -> dict[str, Any] | None:
    """The snapshot file's content, or None when there is none."""
    if not path.exists():
        return None
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


def logged_digests(changelog: str) -> set[str]:
    """The snapshot digests the changelog's headings name."""
    return set(SNAPSHOT_REFERENCE.findall(changelog))


def next_snapshot(
    previous: Mapping[str, Any] | None, document: Mapping[str, Any], changelog: str
) -> tuple[str, list[Change]]:
    """The new snapshot file's text, and the breaking changes since the previous snapshot.

    Breaking changes not yet in the changelog carry over from the previous snapshot (when its digest
    is not logged), so refreshing twice cannot lose them.
    """
    changes: list[Change] = []
    carried: list[str] = []
    if previous is not None:
        changes = breaking(classify(previous["document"], document))
        if previous.get("digest") not in logged_digests(changelog):
            carried = list(previous.get("unacknowledged_breaking_changes", []))
    pending = [*carried, *(str(change) for change in changes if str(change) not in carried)]
    if digest(document) in logged_digests(changelog):
        pending = []
    return snapshot_text(document, pending), changes


# --------------------------------------------------------------------------- Markdown helpers


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{_cell(text)}`"


def _table(header: list[str], rows: list[list[str]]) -> str:
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
        return _code(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(_code(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items")
        return "array of " + (_type(items) if isinstance(items, dict) else "any")
    text = kind if isinstance(kind, str) else " or ".join(map(str, kind))
    return text + (f" ({schema['format']})" if "format" in schema else "")


_RULES = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minimum", "≥"),
    ("maximum", "≤"),
    ("exclusiveMinimum", ">"),
    ("exclusiveMaximum", "<"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
)


def _rules(schema: Mapping[str, Any]) -> str:
    found: list[str] = []
    for option in [schema, *schema.get("anyOf", [])]:
        if not isinstance(option, dict):
            continue
        for key, label in _RULES:
            if key in option:
                found.append(f"{label} {_code(option[key])}")
        pattern = option.get("pattern")
        if isinstance(pattern, str):
            shown = (
                pattern if len(pattern) <= _LONG_PATTERN or pattern.startswith("<") else "(see the document)"
            )
            found.append(f"pattern {_code(shown)}" if shown == pattern else f"pattern {shown}")
    if "default" in schema:
        found.append(f"default {_code(schema['default'])}")
    return ", ".join(found)


def _description(schema: Mapping[str, Any]) -> str:
    text = schema.get("description")
    if not text:
        for option in schema.get("anyOf", []):
            if isinstance(option, dict) and option.get("description"):
                text = option["description"]
                break
    return _cell(text or "")


def _fields(document: Mapping[str, Any], schema: Mapping[str, Any], required_word: str) -> str:
    resolved = _deref(document, schema)
    properties: Mapping[str, Any] = resolved.get("properties") or {}
    if not properties:
        return "No fields." if resolved.get("type") == "object" else f"{_type(schema)}."
    required = set(resolved.get("required") or [])
    rows = [
        [
            _code(name),
            _type(prop),
            required_word if name in required else "",
            _rules(prop),
            _description(prop),
        ]
        for name, prop in properties.items()
    ]
    text = _table(["field", "type", required_word, "rules", "description"], rows)
    if resolved.get("additionalProperties") is False and required_word == "required":
        text += "\n\nUnknown fields are `422 validation_error`."
    return text


# --------------------------------------------------------------------------- generated blocks


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
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
    return min((code for code in operation["responses"] if code.startswith("2")), default="")


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
    for method, path, operation in _operations(document):
        anchor = f"op-{operation['operationId']}".lower()
        rows.append(
            [
                f"[`{method.upper()} {_cell(path)}`](#{anchor})",
                _cell(operation.get("summary", "")),
                _auth(operation),
                _code(operation["x-permission"]) if "x-permission" in operation else "",
                _code(operation["x-rate-limit-policy"]) if "x-rate-limit-policy" in operation else "none",
                _success(operation),
            ]
        )
    return _table(["route", "what", "auth", "permission", "rate limit", "success"], rows)


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
            parts.append(f"`{status}` ({_cell(response.get('description', ''))})")
    return ", ".join(parts) + " (codes per status: [§8.2](#s8-2))"


def routes(document: Mapping[str, Any]) -> str:
    """One subsection per operation: what it takes, needs and answers."""
    blocks = []
    anchored: set[str] = set()
    for number, (method, path, operation) in enumerate(_operations(document), start=1):
        anchor = f"op-{operation['operationId']}".lower()
        success = _success(operation)
        policy = _code(operation["x-rate-limit-policy"]) if "x-rate-limit-policy" in operation else "none"
        answer = (
            f"`{success}` {HTTPStatus(int(success)).phrase}, {_response_schema(document, operation, success)}"
        )
        lines = [
            f'<a id="{anchor}"></a>',
            f"### 4.{number} `{method.upper()} {path}`",
            "",
            _cell(operation.get("description", operation.get("summary", ""))),
            "",
            f"- auth: {_auth(operation)}"
            + (f", permission `{operation['x-permission']}`" if "x-permission" in operation else ""),
            f"- rate limit: {policy}",
            f"- success: {answer}",
            f"- Cache-Control: {_code(operation.get('x-cache-control', ''))}",
            f"- errors: {_errors(document, operation)}",
        ]
        parameters = [_deref(document, raw) for raw in operation.get("parameters", [])]
        shown = [p for p in parameters if p.get("name") != "X-Request-Id"]
        if shown:
            rows = [
                [
                    _code(p["name"]),
                    p["in"],
                    "required" if p.get("required") else "",
                    _type(p.get("schema", {})),
                    _rules(p.get("schema", {})),
                    _cell(p.get("description", "")),
                ]
                for p in shown
            ]
            lines += [
                "",
                "Parameters:",
                "",
                _table(["name", "in", "required", "type", "rules", "description"], rows),
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

    for _method, _path, operation in _operations(document):
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
            + (f"{_cell(schema['description'])}\n\n" if schema.get("description") else "")
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


def problem_codes() -> str:
    """The catalog: every stable code, its status, type and title."""
    from lib.http.problems import CATALOG

    rows = [
        [f"`{status}`", _code(code), _code("/problems/" + code.replace("_", "-")), _cell(title)]
        for code, (status, title) in sorted(CATALOG.items(), key=lambda item: (item[1][0], item[0]))
    ]
    return _table(["status", "code", "type", "title"], rows)


def cache_control(document: Mapping[str, Any]) -> str:
    """Each operation's Cache-Control on success."""
    rows = [
        [f"`{method.upper()} {_cell(path)}`", _code(operation.get("x-cache-control", ""))]
        for method, path, operation in _operations(document)
    ]
    return _table(["route", "Cache-Control"], rows)


_POLICY_KEYS = {
    "login": ("`POST /api/auth/login`", "client IP + email"),
    "login_ip": ("`POST /api/auth/login` (password spraying)", "client IP, any email"),
    "recover": ("`POST /api/auth/recover`", "email"),
    "auth": ("other `/api/auth/*`", "client IP"),
    "write": ("writes (`POST`, `PATCH`, `PUT`, `DELETE`)", "user"),
    "read": ("reads", "user, or client IP when anonymous"),
}


def _window(seconds: int) -> str:
    for size, unit in ((3600, "hour"), (60, "minute")):
        if seconds == size:
            return f"per {unit}"
        if seconds % size == 0:
            return f"per {seconds // size} {unit}s"
    return f"per {seconds} s"


def rate_limits(document: Mapping[str, Any]) -> str:
    """The policies: key, default limit, setting, and the routes each applies to."""
    from lib import settings_specs as config

    by_policy: dict[str, list[str]] = {}
    for method, path, operation in _operations(document):
        policy = operation.get("x-rate-limit-policy")
        if policy is not None:
            by_policy.setdefault(policy, []).append(f"`{method.upper()} {_cell(path)}`")
    rows = []
    for spec in config.SETTINGS:
        if not spec.field.startswith("rate_limit_") or not isinstance(spec.default, config.RateLimit):
            continue
        policy = spec.field.removeprefix("rate_limit_")
        what, key = _POLICY_KEYS.get(policy, (policy, ""))
        limit = f"{spec.default.limit} {_window(spec.default.window)}"
        applies = ", ".join(by_policy.get(policy, [])) or "with `login`"
        rows.append([_code(policy), what, key, limit, f"`{spec.name}`", applies])
    text = _table(["policy", "what", "key", "default", "setting", "routes"], rows)
    fail_open = next((s for s in config.SETTINGS if s.field == "rate_limit_fail_open"), None)
    if fail_open is not None and isinstance(fail_open.default, frozenset):
        policies = ", ".join(f"`{name}`" for name in sorted(fail_open.default)) or "none"
        text += (
            f"\n\nSettings take `<requests>/<seconds>`, e.g. `60/60`. When the limiter's database call fails,"
            f" the policies in `{fail_open.name}` admit the request (default: {policies}); the others"
            " answer `503`."
        )
    return text


def settings() -> str:
    """The settings table: canonical name, aliases, default, required in production/preview."""
    from lib import settings_specs as config

    rows = []
    for spec in (config.ENVIRONMENT_SPEC, *config.SETTINGS):
        default = spec.default
        if isinstance(default, config.RateLimit):
            shown = f"`{default.limit}/{default.window}`"
        elif isinstance(default, frozenset | tuple):
            shown = _code(",".join(sorted(default))) if default else "(empty)"
        elif default is None:
            shown = (
                "derived"
                if spec.derive is not None
                else ("local stack's, in development" if spec.dev_default else "")
            )
        else:
            shown = _code(str(default).lower() if isinstance(default, bool) else str(default))
        rows.append(
            [
                f"`{spec.name}`",
                ", ".join(f"`{alias}`" for alias in spec.aliases),
                shown,
                "yes" if spec.required else "",
                "yes" if spec.secret else "",
            ]
        )
    return _table(["setting", "aliases", "default", "required", "secret"], rows)


def roles() -> str:
    """The permissions of each role, as /api/me reports them."""
    from lib.supabase.caller import PERMISSIONS, ROLE_PERMISSIONS

    rows = [
        [f"`{role}`", ", ".join(f"`{p}`" for p in PERMISSIONS if p in granted) or "none"]
        for role, granted in ROLE_PERMISSIONS.items()
    ]
    return _table(["role", "permissions"], rows)


def cookies() -> str:
    """The three session cookies and their attributes."""
    from lib.http.cookies import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE, REFRESH_MAX_AGE

    days = REFRESH_MAX_AGE // 86400
    rows = [
        [f"`{ACCESS_COOKIE}`", "the access token", "yes", "`Lax`", "`/`", "the token's lifetime"],
        [
            f"`{REFRESH_COOKIE}`",
            "session id and refresh token",
            "yes",
            "`Strict`",
            "`/api/auth`",
            f"{days} days",
        ],
        [
            f"`{CSRF_COOKIE}`",
            "the session's CSRF token",
            "no (scripts read it)",
            "`Lax`",
            "`/`",
            f"{days} days",
        ],
    ]
    return _table(["cookie", "holds", "HttpOnly", "SameSite", "Path", "Max-Age"], rows)


def render(document: Mapping[str, Any]) -> str:
    """docs/api.md for `document` (the normalised one)."""
    from lib.http import cors
    from lib.http.cookies import CSRF_COOKIE, CSRF_HEADER
    from lib.http.request import MAX_BODY_BYTES, MAX_JSON_DEPTH, REQUEST_ID

    blocks: dict[str, Callable[[], str]] = {
        "max_body": lambda: f"{MAX_BODY_BYTES // 1024} KiB",
        "max_depth": lambda: str(MAX_JSON_DEPTH),
        "request_id_pattern": lambda: f"`{REQUEST_ID.pattern}`",
        "roles": roles,
        "schemas": lambda: schemas(document),
        "route_summary": lambda: route_summary(document),
        "routes": lambda: routes(document),
        "cookies": cookies,
        "csrf_header": lambda: f"`{CSRF_HEADER}`",
        "csrf_cookie": lambda: CSRF_COOKIE,
        "cors_allow_headers": lambda: cors.ALLOW_HEADERS,
        "cors_expose_headers": lambda: cors.EXPOSE_HEADERS,
        "cors_max_age": lambda: cors.MAX_AGE,
        "rate_limits": lambda: rate_limits(document),
        "settings": settings,
        "problem_schema": lambda: problem_schema(document),
        "problem_codes": problem_codes,
        "cache_control": lambda: cache_control(document),
    }
    template = TEMPLATE.read_text(encoding="utf-8")

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in blocks:
            raise KeyError(f"{TEMPLATE.name}: unknown block {{{{{name}}}}}")
        return blocks[name]()

    text = re.sub(r"\{\{([a-z_]+)\}\}", fill, template)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Rewrite docs/api.md (and with --snapshot the snapshot); --check only reports. Exit 1 when stale."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--snapshot", action="store_true", help="also rewrite docs/openapi.snapshot.json")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)

    document = normalised_document()
    text = render(document)
    previous = read_snapshot()
    changelog = CHANGES_MD.read_text(encoding="utf-8") if CHANGES_MD.exists() else ""
    if args.check:
        stale = []
        if not API_MD.exists() or API_MD.read_text(encoding="utf-8") != text:
            stale.append(str(API_MD.relative_to(ROOT)))
        if previous is None or previous.get("document") != document:
            stale.append(str(SNAPSHOT.relative_to(ROOT)))
        for name in stale:
            print(f"{name} is out of date: run {COMMAND} --snapshot")
        return 1 if stale else 0

    API_MD.write_text(text, encoding="utf-8")
    print(f"wrote {API_MD.relative_to(ROOT)}")
    if args.snapshot:
        snapshot, changes = next_snapshot(previous, document, changelog)
        SNAPSHOT.write_text(snapshot, encoding="utf-8")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}: digest {digest(document)}")
        for change in changes:
            print(f"  {change}")
        pending = json.loads(snapshot)["unacknowledged_breaking_changes"]
        if pending:
            print(
                f"{len(pending)} breaking change(s): add an entry to {CHANGES_MD.relative_to(ROOT)} whose"
                f" heading names `snapshot {digest(document)}` (see the top of that file)."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
