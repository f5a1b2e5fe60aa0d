"""The one strict JSON parser, for text from outside (request bodies, token segments); a frozen JSON object.

Strict means what RFC 8259 leaves open is refused rather than guessed: duplicate
member names (two parsers could each keep a different one), NaN/Infinity and
numbers out of float range, lone surrogates (not Unicode), bytes that are not
UTF-8, and, when asked, nesting past a depth limit. JSON has one number type, so
a float with an integral value is the integer (`2003.0` is `2003`, as JSON
Schema's `integer` says).

Error reasons never quote the input: callers put them in responses and logs.
Plain `json.loads` stays right for text this process wrote itself (signed
cursors) or that is only inspected, never trusted (a key's role claim).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

NOT_UTF8 = "not UTF-8"
TOO_DEEP = "nesting too deep"
MALFORMED = "malformed JSON"


class JsonTextError(ValueError):
    """Strict parsing failed; `reason` (NOT_UTF8, TOO_DEEP or MALFORMED) never quotes the input."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _number(text: str) -> float | int:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return int(value) if value.is_integer() else value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member")
        result[key] = value
    return result


def _check_tree(value: object, max_depth: int | None, depth: int = 0) -> None:
    """Depth limit and well-formed Unicode (no lone surrogates) in keys and strings.

    A level is a container (object or array): a top-level object is level 1, and what
    sits inside the innermost container (a scalar, or nothing) adds no level.
    """
    if isinstance(value, str):
        value.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
    elif isinstance(value, dict | list):
        depth += 1
        if max_depth is not None and depth > max_depth:
            raise RecursionError(f"nesting deeper than {max_depth} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                key.encode("utf-8")
                _check_tree(item, max_depth, depth)
        else:
            for item in value:
                _check_tree(item, max_depth, depth)


def parse_strict(data: bytes, *, max_depth: int | None = None) -> Any:
    """The JSON value of UTF-8 `data` under the rules above; raises JsonTextError only."""
    reason: str | None = None
    value: Any = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        reason = NOT_UTF8
    else:
        try:
            value = json.loads(
                text, object_pairs_hook=_unique_members, parse_constant=_reject_constant, parse_float=_number
            )
            _check_tree(value, max_depth)
        except RecursionError:
            reason = TOO_DEEP
        except ValueError:  # JSONDecodeError and UnicodeEncodeError included
            reason = MALFORMED
    if reason is not None:
        # Raised outside the handlers: the original exception's message may quote the input.
        raise JsonTextError(reason)
    return value


class JsonObject(Mapping[str, Any]):
    """A JSON object that cannot change: hashable, equal to any mapping with the same members.

    Reading a member hands out a copy, so a nested list or object cannot be changed
    through it either; meant for small documents held in settings (an inline JWKS).
    """

    __slots__ = ("_members", "_text")

    def __init__(self, members: Mapping[str, Any]) -> None:
        """A frozen copy of `members`; TypeError or ValueError when they are not JSON."""
        self._members: dict[str, Any] = copy.deepcopy(dict(members))
        self._text = json.dumps(self._members, sort_keys=True, separators=(",", ":"), allow_nan=False)

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self._members[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JsonObject):
            return self._text == other._text
        return isinstance(other, Mapping) and self._members == dict(other.items())

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return f"JsonObject({self._members!r})"
