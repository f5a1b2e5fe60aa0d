"""lib.jsontext: the one strict JSON parser and the frozen JSON object."""

from __future__ import annotations

from typing import Any

import pytest

from lib.jsontext import MALFORMED, NOT_UTF8, TOO_DEEP, JsonObject, JsonTextError, parse_strict


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": 1, "a": 2}', MALFORMED),  # duplicate member
        (b'{"a": NaN}', MALFORMED),
        (b'{"a": -Infinity}', MALFORMED),
        (b'{"a": 1e999}', MALFORMED),  # out of float range
        (b'{"a": "\\ud800"}', MALFORMED),  # lone surrogate
        (b'{"\\udc00": 1}', MALFORMED),
        (b'{"a": 1', MALFORMED),
        (b"\xff{}", NOT_UTF8),
        (b"[" * 100_000 + b"]" * 100_000, TOO_DEEP),
    ],
)
def test_refused(data: bytes, reason: str) -> None:
    with pytest.raises(JsonTextError) as caught:
        parse_strict(data)
    assert caught.value.reason == reason
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None  # nothing that could quote the input rides along


def test_depth_limit_counts_containers() -> None:
    assert parse_strict(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(JsonTextError) as caught:
        parse_strict(b"[[[1]]]", max_depth=2)
    assert caught.value.reason == TOO_DEEP


def test_integral_floats_are_integers() -> None:
    value = parse_strict(b'{"year": 2003.0, "km": 1.5, "n": 10}')
    assert value == {"year": 2003, "km": 1.5, "n": 10}
    assert type(value["year"]) is int


def test_json_object_is_frozen_hashable_and_equal_to_its_mapping() -> None:
    members: dict[str, Any] = {"keys": [{"kid": "a"}], "n": 1}
    frozen = JsonObject(members)
    members["keys"].append({"kid": "b"})  # the copy does not follow the original

    assert frozen == {"keys": [{"kid": "a"}], "n": 1}
    assert frozen == JsonObject({"n": 1, "keys": [{"kid": "a"}]})
    assert hash(frozen) == hash(JsonObject({"n": 1, "keys": [{"kid": "a"}]}))
    frozen["keys"].append({"kid": "c"})
    assert frozen["keys"] == [{"kid": "a"}]
    assert frozen != JsonObject({"n": 2, "keys": []})
