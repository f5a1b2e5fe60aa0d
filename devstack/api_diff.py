"""Classify the differences between two OpenAPI documents: breaking for callers, or not.

Breaking (a client written against `old` may fail against `new`): a removed path, method or
response status; a removed or renamed response property, or one that may now be absent or
take a new type; a new required request field or parameter, a removed request field or
parameter (the API rejects unknown ones); a narrowed request type, enum, pattern, length or
bound; an operation that now needs authentication; a removed problem code. Anything else that
differs is reported as non-breaking. Only local `#/...` references are followed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from devstack.api_diff_schema import Change, Direction, Kind, deref, schema_changes

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def breaking(changes: list[Change]) -> list[Change]:
    """The breaking changes among `changes`."""
    return [change for change in changes if change.kind == "breaking"]


def classify(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every difference between two OpenAPI 3.1 documents that matters to a caller, classified."""
    return [*_paths(old, new), *_problem_codes(old, new)]


def leaf_differences(old: Any, new: Any, where: str = "") -> Iterator[str]:
    """JSON pointers of the places where `old` and `new` differ (any difference, e.g. descriptions)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            here = f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in new:
                yield f"{here} removed"
            elif key not in old:
                yield f"{here} added"
            else:
                yield from leaf_differences(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            yield from leaf_differences(before, after, f"{where}/{index}")
    elif old != new:
        yield f"{where or '/'} changed"


# --------------------------------------------------------------------------- paths and operations


def _operations(document: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    found: dict[tuple[str, str], Mapping[str, Any]] = {}
    for path, item in (document.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                found[(path, method)] = item[method]
    return found


def _paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    old_paths = set(old.get("paths") or {})
    new_paths = set(new.get("paths") or {})
    for path in sorted(old_paths - new_paths):
        yield Change("breaking", path, "path removed")
    for path in sorted(new_paths - old_paths):
        yield Change("non-breaking", path, "path added")
    old_ops, new_ops = _operations(old), _operations(new)
    for path, method in sorted(old_ops):
        if path not in new_paths:
            continue
        where = f"{method.upper()} {path}"
        if (path, method) not in new_ops:
            yield Change("breaking", where, "method removed")
            continue
        yield from _operation(where, old, new, old_ops[(path, method)], new_ops[(path, method)])
    for path, method in sorted(set(new_ops) - set(old_ops)):
        if path in old_paths:
            yield Change("non-breaking", f"{method.upper()} {path}", "method added")


def _operation(
    where: str,
    old_doc: Mapping[str, Any],
    new_doc: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> Iterator[Change]:
    if not old.get("security") and new.get("security"):
        yield Change("breaking", where, "now requires authentication")
    elif old.get("security") and not new.get("security"):
        yield Change("non-breaking", where, "no longer requires authentication")
    yield from _parameters(where, old_doc, new_doc, old, new)
    yield from _request_body(where, old_doc, new_doc, old, new)
    yield from _responses(where, old_doc, new_doc, old, new)


def _parameter_map(document: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for raw in operation.get("parameters") or []:
        parameter, _ = deref(document, raw)
        if isinstance(parameter, dict) and "name" in parameter:
            # Header names are case-insensitive.
            name = parameter["name"].lower() if parameter.get("in") == "header" else parameter["name"]
            found[f"{parameter.get('in', '?')} {name}"] = parameter
    return found


def _parameters(
    where: str,
    old_doc: Mapping[str, Any],
    new_doc: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> Iterator[Change]:
    before, after = _parameter_map(old_doc, old), _parameter_map(new_doc, new)
    for key in sorted(set(before) | set(after)):
        label = f"{where} parameter {key}"
        if key not in after:
            # Unknown query parameters are 400 invalid_query: a caller still sending it now fails.
            kind: Kind = "breaking" if key.startswith(("query ", "path ")) else "non-breaking"
            yield Change(kind, label, "removed")
        elif key not in before:
            required = bool(after[key].get("required"))
            yield Change(
                "breaking" if required else "non-breaking", label, "added" + (" (required)" * required)
            )
        else:
            if after[key].get("required") and not before[key].get("required"):
                yield Change("breaking", label, "now required")
            elif before[key].get("required") and not after[key].get("required"):
                yield Change("non-breaking", label, "now optional")
            yield from schema_changes(
                label,
                "request",
                (old_doc, new_doc),
                before[key].get("schema", {}),
                after[key].get("schema", {}),
            )


def _json_content(document: Mapping[str, Any], holder: Any) -> dict[str, Any]:
    value, _ = deref(document, holder)
    content = value.get("content") if isinstance(value, dict) else None
    return dict(content) if isinstance(content, dict) else {}


def _content_changes(
    label: str,
    direction: Direction,
    docs: tuple[Mapping[str, Any], Mapping[str, Any]],
    holders: tuple[Any, Any],
    gone: str,
) -> Iterator[Change]:
    """A body's or response's media types: one no longer there is breaking, shared ones compare schemas."""
    old_content, new_content = _json_content(docs[0], holders[0]), _json_content(docs[1], holders[1])
    for media in sorted(set(old_content) - set(new_content)):
        yield Change("breaking", label, f"media type {media} {gone}")
    for media in sorted(set(old_content) & set(new_content)):
        yield from schema_changes(
            f"{label} ({media})",
            direction,
            docs,
            old_content[media].get("schema", {}),
            new_content[media].get("schema", {}),
        )


def _request_body(
    where: str,
    old_doc: Mapping[str, Any],
    new_doc: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> Iterator[Change]:
    before, after = old.get("requestBody"), new.get("requestBody")
    label = f"{where} request body"
    if before is None and after is None:
        return
    if before is None:
        required = bool(deref(new_doc, after)[0].get("required"))
        yield Change("breaking" if required else "non-breaking", label, "added" + (" (required)" * required))
        return
    if after is None:
        yield Change("breaking", label, "removed (a body is now refused)")
        return
    if deref(new_doc, after)[0].get("required") and not deref(old_doc, before)[0].get("required"):
        yield Change("breaking", label, "now required")
    yield from _content_changes(label, "request", (old_doc, new_doc), (before, after), "no longer accepted")


def _responses(
    where: str,
    old_doc: Mapping[str, Any],
    new_doc: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> Iterator[Change]:
    before: Mapping[str, Any] = old.get("responses") or {}
    after: Mapping[str, Any] = new.get("responses") or {}
    for status in sorted(set(before) | set(after)):
        label = f"{where} response {status}"
        if status not in after:
            yield Change("breaking", label, "removed")
            continue
        if status not in before:
            yield Change("non-breaking", label, "added")
            continue
        old_response, _ = deref(old_doc, before[status])
        new_response, _ = deref(new_doc, after[status])
        old_headers = {name.lower() for name in old_response.get("headers") or {}}
        new_headers = {name.lower() for name in new_response.get("headers") or {}}
        for header in sorted(old_headers - new_headers):
            yield Change("breaking", label, f"header {header} removed")
        for header in sorted(new_headers - old_headers):
            yield Change("non-breaking", label, f"header {header} added")
        yield from _content_changes(
            label, "response", (old_doc, new_doc), (old_response, new_response), "removed"
        )


# --------------------------------------------------------------------------- problem codes


def problem_codes(document: Mapping[str, Any]) -> set[str]:
    """The problem codes a document lists (`x-problem-codes` of its responses)."""
    codes: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            listed = value.get("x-problem-codes")
            if isinstance(listed, list):
                codes.update(str(code) for code in listed)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return codes


def _problem_codes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    before, after = problem_codes(old), problem_codes(new)
    for code in sorted(before - after):
        yield Change("breaking", "problem codes", f"{code} removed")
    for code in sorted(after - before):
        yield Change("non-breaking", "problem codes", f"{code} added")
