"""Classify the differences between two JSON Schemas of one request or response.

A request schema breaks callers when it admits less (a narrowed type, enum, pattern, format,
length or bound; a new required field; unknown fields now refused); a response schema breaks
them when it may now hold something else (a new type, a removed or now optional property).
Only local `#/...` references are followed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["breaking", "non-breaking"]
Direction = Literal["request", "response"]

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


# --------------------------------------------------------------------------- references


def deref(document: Mapping[str, Any], value: Any, seen: tuple[str, ...] = ()) -> tuple[Any, tuple[str, ...]]:
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


def schema_changes(  # noqa: PLR0912 (one branch per JSON Schema keyword)
    where: str,
    direction: Direction,
    docs: tuple[Mapping[str, Any], Mapping[str, Any]],
    old_raw: Any,
    new_raw: Any,
    *,
    seen: tuple[str, ...] = (),
) -> Iterator[Change]:
    """Changes between two schemas (`docs` resolve their $refs), classified for `direction`."""
    old_doc, new_doc = docs
    old, old_seen = deref(old_doc, old_raw, seen)
    new, _ = deref(new_doc, new_raw, seen)
    if not isinstance(old, dict) or not isinstance(new, dict) or old == new:
        return
    seen = old_seen  # deref stops at a ref already on this chain: recursion ends there

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
        yield from schema_changes(
            f"{where}[]", direction, docs, old.get("items", {}), new.get("items", {}), seen=seen
        )
    for combinator in ("anyOf", "oneOf", "allOf"):
        before, after = old.get(combinator), new.get(combinator)
        if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
            for index, (option_before, option_after) in enumerate(zip(before, after, strict=True)):
                yield from schema_changes(
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
            yield from schema_changes(label, direction, docs, before[name], after[name], seen=seen)
