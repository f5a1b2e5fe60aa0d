"""lib.contract.validation's text rule: the one list the API and the database (private.text_ok) share.

tests/db/test_direct_rules.py proves the database decides exactly as `text_ok` here does.
"""

from __future__ import annotations

import re
import unicodedata

import pytest

from lib.contract.validation import (
    FORBIDDEN,
    FORBIDDEN_CLASS,
    TRIMMED,
    TRIMMED_CHARACTERS,
    TRIMMED_CLASS,
    character_class,
    has_forbidden_character,
    text_ok,
)

EVERY_CODE_POINT = range(0x110000)


def members(ranges: tuple[tuple[int, int], ...]) -> set[int]:
    return {code for low, high in ranges for code in range(low, high + 1)}


def test_every_unicode_whitespace_character_is_trimmed_or_forbidden() -> None:
    # "Trimmed of all Unicode whitespace": str.isspace() is Unicode's White_Space plus U+001C-U+001F.
    whitespace = {code for code in EVERY_CODE_POINT if chr(code).isspace()}
    assert whitespace - members(FORBIDDEN) == members(TRIMMED)
    # So str.strip() (what lib.resources.vin trims a VIN with) removes exactly TRIMMED once forbidden
    # characters are refused.
    assert set(TRIMMED_CHARACTERS) == {chr(code) for code in members(TRIMMED)}


def test_forbidden_holds_every_control_and_the_named_invisible_characters() -> None:
    forbidden = members(FORBIDDEN)
    controls = {code for code in EVERY_CODE_POINT if unicodedata.category(chr(code)) == "Cc"}
    named = {
        0x2028, 0x2029,  # line and paragraph separators
        0x202A, 0x202B, 0x202C, 0x202D, 0x202E,  # bidirectional embeddings and overrides
        0x2066, 0x2067, 0x2068, 0x2069,  # bidirectional isolates
        0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF,  # zero-width characters
    }  # fmt: skip
    assert controls | named == forbidden
    assert not forbidden & members(TRIMMED)


def test_the_classes_are_generated_from_the_lists() -> None:
    assert character_class(FORBIDDEN) == FORBIDDEN_CLASS
    assert character_class(TRIMMED) == TRIMMED_CLASS
    assert character_class(((0x20, 0x20), (0x2000, 0x200A))) == r"\u0020\u2000-\u200a"
    # The same text is a working class for Python's re (and ECMA-262 and Postgres, which read \uXXXX).
    forbidden = re.compile(f"[{FORBIDDEN_CLASS}]")
    matched = {code for code in EVERY_CODE_POINT if forbidden.fullmatch(chr(code))}
    assert matched == members(FORBIDDEN)


@pytest.mark.parametrize(
    "value", ["Honda", "M", "Citroën", "Mercedes\u00a0Benz", "日本", "🚗", "A B", "é", "x" * 5000]
)
def test_text_ok_accepts(value: str) -> None:
    assert text_ok(value)
    assert not has_forbidden_character(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "\u00a0",
        "\u3000\u2000",
        " Honda",
        "Honda\u202f",
        "Hon\nda",
        "Hon\x85da",
        "Hon\u2028da",
        "Hon\u202eda",
        "\u2066Honda",
        "Hon\u200bda",
        "\ufeffHonda",
        "Honda\u2060",
        "Honda\x00",
    ],
)
def test_text_ok_refuses(value: str) -> None:
    assert not text_ok(value)


def test_text_ok_on_every_code_point() -> None:
    # Alone, a character is refused when it is forbidden or whitespace; between letters, only when
    # it is forbidden.
    forbidden = members(FORBIDDEN)
    refused_alone = forbidden | members(TRIMMED)
    for code in EVERY_CODE_POINT:
        if 0xD800 <= code <= 0xDFFF:
            continue  # not in any JSON string the API decodes, nor in Postgres text
        assert text_ok(chr(code)) == (code not in refused_alone), hex(code)
        assert text_ok(f"a{chr(code)}b") == (code not in forbidden), hex(code)
