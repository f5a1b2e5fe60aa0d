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
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["breaking", "non-breaking"]
Direction = Literal["request", "response"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Keywords whose larger value admits less (a lower bound) and whose smaller value admits less.
_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")


@dataclass(frozen=True)
class Change:
    """One classified difference: where (a readable location) and what."""

    kind: Kind
    where: str
    what: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.what}"


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


# --------------------------------------------------------------------------- references


def _deref(
    document: Mapping[str, Any], value: Any, seen: tuple[str, ...] = ()
) -> tuple[Any, tuple[str, ...]]:
    """Follow local $refs; returns the target and the chain of refs followed (for cycle checks)."""
    while isinstance(value, dict) and isinstance(value.get("$ref"), str):
        ref: str = value["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return value, seen
        seen = (*seen, ref)
        target: Any = document
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                return {}, seen
            target = target[part]
        value = target
    return value, seen


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
        parameter, _ = _deref(document, raw)
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
            yield from _schema(
                label,
                "request",
                (old_doc, new_doc),
                before[key].get("schema", {}),
                after[key].get("schema", {}),
            )


def _json_content(document: Mapping[str, Any], holder: Any) -> dict[str, Any]:
    value, _ = _deref(document, holder)
    content = value.get("content") if isinstance(value, dict) else None
    return dict(content) if isinstance(content, dict) else {}


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
        required = bool(_deref(new_doc, after)[0].get("required"))
        yield Change("breaking" if required else "non-breaking", label, "added" + (" (required)" * required))
        return
    if after is None:
        yield Change("breaking", label, "removed (a body is now refused)")
        return
    if _deref(new_doc, after)[0].get("required") and not _deref(old_doc, before)[0].get("required"):
        yield Change("breaking", label, "now required")
    old_content, new_content = _json_content(old_doc, before), _json_content(new_doc, after)
    for media in sorted(set(old_content) - set(new_content)):
        yield Change("breaking", label, f"media type {media} no longer accepted")
    for media in sorted(set(old_content) & set(new_content)):
        yield from _schema(
            f"{label} ({media})",
            "request",
            (old_doc, new_doc),
            old_content[media].get("schema", {}),
            new_content[media].get("schema", {}),
        )


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
        old_response, _ = _deref(old_doc, before[status])
        new_response, _ = _deref(new_doc, after[status])
        old_headers = {name.lower() for name in old_response.get("headers") or {}}
        new_headers = {name.lower() for name in new_response.get("headers") or {}}
        for header in sorted(old_headers - new_headers):
            yield Change("breaking", label, f"header {header} removed")
        for header in sorted(new_headers - old_headers):
            yield Change("non-breaking", label, f"header {header} added")
        old_content, new_content = _json_content(old_doc, old_response), _json_content(new_doc, new_response)
        for media in sorted(set(old_content) - set(new_content)):
            yield Change("breaking", label, f"media type {media} removed")
        for media in sorted(set(old_content) & set(new_content)):
            yield from _schema(
                f"{label} ({media})",
                "response",
                (old_doc, new_doc),
                old_content[media].get("schema", {}),
                new_content[media].get("schema", {}),
            )


# --------------------------------------------------------------------------- schemas


def _types(schema: Mapping[str, Any]) -> set[str]:
    """The JSON types a schema admits, looking one level into anyOf/oneOf (empty: unconstrained)."""
    found: set[str] = set()
    kind = schema.get("type")
    if isinstance(kind, str):
        found.add(kind)
    elif isinstance(kind, list):
        found.update(str(item) for item in kind)
    for combinator in ("anyOf", "oneOf"):
        for option in schema.get(combinator) or []:
            if isinstance(option, dict):
                found.update(_types(option) or {"any"})
    if "integer" in found and "number" in found:
        found.discard("integer")
    return found


def _enum(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _schema(  # noqa: PLR0912 (one branch per JSON Schema keyword)
    where: str,
    direction: Direction,
    docs: tuple[Mapping[str, Any], Mapping[str, Any]],
    old_raw: Any,
    new_raw: Any,
    *,
    seen: tuple[str, ...] = (),
) -> Iterator[Change]:
    old_doc, new_doc = docs
    old, old_seen = _deref(old_doc, old_raw, seen)
    new, _ = _deref(new_doc, new_raw, seen)
    if not isinstance(old, dict) or not isinstance(new, dict) or old == new:
        return
    seen = old_seen  # _deref stops at a ref already on this chain: recursion ends there

    old_types, new_types = _types(old), _types(new)
    if direction == "request":
        lost = (old_types - new_types) if new_types else set()
        if old_types and lost and "any" not in new_types:
            yield Change("breaking", where, f"no longer accepts {', '.join(sorted(lost))}")
        elif not old_types and new_types:
            yield Change("breaking", where, f"now restricted to {', '.join(sorted(new_types))}")
    else:
        gained = new_types - old_types if old_types else set()
        if gained:
            yield Change("breaking", where, f"may now be {', '.join(sorted(gained))}")
        elif old_types != new_types:
            yield Change("non-breaking", where, f"type now {', '.join(sorted(new_types)) or 'any'}")

    old_enum, new_enum = _enum(old), _enum(new)
    if old_enum != new_enum:
        if direction == "request":
            if new_enum is not None and (
                old_enum is None or not set(map(repr, old_enum)) <= set(map(repr, new_enum))
            ):
                yield Change("breaking", where, "enum narrowed")
            else:
                yield Change("non-breaking", where, "enum widened")
        else:
            yield Change("non-breaking", where, "enum changed")

    if direction == "request":
        yield from _request_keywords(where, old, new)

    yield from _properties(where, direction, docs, old, new, seen=seen)
    if "items" in old or "items" in new:
        yield from _schema(
            f"{where}[]", direction, docs, old.get("items", {}), new.get("items", {}), seen=seen
        )
    for combinator in ("anyOf", "oneOf", "allOf"):
        before, after = old.get(combinator), new.get(combinator)
        if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
            for index, (option_before, option_after) in enumerate(zip(before, after, strict=True)):
                yield from _schema(
                    f"{where} {combinator}[{index}]",
                    direction,
                    docs,
                    option_before,
                    option_after,
                    seen=seen,
                )


def _request_keywords(where: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    """Changes of the keywords that restrict what a request may send."""
    for keyword in ("pattern", "format"):
        if keyword in new and old.get(keyword) != new[keyword]:
            yield Change("breaking", where, f"{keyword} {'changed' if keyword in old else 'added'}")
        elif keyword in old and keyword not in new:
            yield Change("non-breaking", where, f"{keyword} removed")
    for keyword, tighter in [*((k, "higher") for k in _LOWER_BOUNDS), *((k, "lower") for k in _UPPER_BOUNDS)]:
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            continue
        if after is None:
            yield Change("non-breaking", where, f"{keyword} removed")
        elif before is None:
            yield Change("breaking", where, f"{keyword} {after} added")
        elif _is_number(before) and _is_number(after):
            narrowed = after > before if tighter == "higher" else after < before
            yield Change("breaking" if narrowed else "non-breaking", where, f"{keyword} {before} -> {after}")
        else:
            yield Change("breaking", where, f"{keyword} {before!r} -> {after!r}")
    if old.get("additionalProperties") is not False and new.get("additionalProperties") is False:
        yield Change("breaking", where, "no longer accepts unknown fields")


def _properties(
    where: str,
    direction: Direction,
    docs: tuple[Mapping[str, Any], Mapping[str, Any]],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    seen: tuple[str, ...],
) -> Iterator[Change]:
    before: Mapping[str, Any] = old.get("properties") or {}
    after: Mapping[str, Any] = new.get("properties") or {}
    old_required, new_required = set(old.get("required") or []), set(new.get("required") or [])
    for name in sorted(set(before) | set(after)):
        label = f"{where}.{name}"
        if name not in after:
            if direction == "response":
                yield Change("breaking", label, "response property removed")
            elif new.get("additionalProperties") is False or "additionalProperties" not in new:
                yield Change("breaking", label, "request field removed (now rejected as unknown)")
            else:
                yield Change("non-breaking", label, "request field removed")
            continue
        if name not in before:
            if direction == "request" and name in new_required:
                yield Change("breaking", label, "new required request field")
            else:
                yield Change("non-breaking", label, f"{direction} property added")
        else:
            if direction == "request" and name in new_required and name not in old_required:
                yield Change("breaking", label, "request field now required")
            if direction == "response" and name in old_required and name not in new_required:
                yield Change("breaking", label, "response property may now be absent")
            yield from _schema(label, direction, docs, before[name], after[name], seen=seen)


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
