"""Turning pydantic validation failures into the contract's `errors[]` entries, and the text rule.

The text rule is the one list of characters that the API (lib.contract.fields) and the database
(`private.text_ok` in supabase/migrations) both refuse or trim, so that a direct write through
`/rest/v1` is held to exactly what the API accepts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lib.http.problems import BadRequest, FieldError, ValidationFailed

# pydantic is imported on first validation, not with every function: routes
# that take no body or query never load it.
if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

# -- the text rule -----------------------------------------------------------------------------
#
# A text field (make, model, plate, color, description, currency) holds no FORBIDDEN character
# anywhere, does not start or end with a TRIMMED one, and is not empty. The API trims TRIMMED
# characters from what it is sent and refuses the rest; the database refuses an untrimmed value.
# Between them FORBIDDEN and TRIMMED hold every Unicode whitespace character (tests prove it).

FORBIDDEN: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),  # C0 controls (tab, line feed, ...)
    (0x007F, 0x009F),  # DEL and the C1 controls (U+0085 next line among them)
    (0x200B, 0x200D),  # zero width space, non-joiner, joiner
    (0x2028, 0x2029),  # line and paragraph separators
    (0x202A, 0x202E),  # bidirectional embeddings and overrides
    (0x2060, 0x2060),  # word joiner
    (0x2066, 0x2069),  # bidirectional isolates
    (0xFEFF, 0xFEFF),  # zero width no-break space (byte order mark)
)
TRIMMED: tuple[tuple[int, int], ...] = (
    (0x0020, 0x0020),  # space
    (0x00A0, 0x00A0),  # no-break space
    (0x1680, 0x1680),  # ogham space mark
    (0x2000, 0x200A),  # en quad ... hair space
    (0x202F, 0x202F),  # narrow no-break space
    (0x205F, 0x205F),  # medium mathematical space
    (0x3000, 0x3000),  # ideographic space
)


def character_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """The inside of a regex bracket expression matching `ranges`, written as \\uXXXX escapes.

    The same text works in Python's re, in ECMA-262 (JSON Schema patterns) and in Postgres
    regular expressions (where the migration's private.text_ok uses it).
    """
    parts = []
    for low, high in ranges:
        parts.append(f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}")
    return "".join(parts)


FORBIDDEN_CLASS = character_class(FORBIDDEN)
TRIMMED_CLASS = character_class(TRIMMED)
TRIMMED_CHARACTERS = "".join(chr(code) for low, high in TRIMMED for code in range(low, high + 1))
_FORBIDDEN = re.compile(f"[{FORBIDDEN_CLASS}]")


def has_forbidden_character(value: str) -> bool:
    """True when `value` holds a FORBIDDEN character anywhere."""
    return _FORBIDDEN.search(value) is not None


def text_ok(value: str) -> bool:
    """The database's `private.text_ok`: not empty, trimmed, no forbidden character."""
    return value != "" and value.strip(TRIMMED_CHARACTERS) == value and not has_forbidden_character(value)


# pydantic's error types -> our stable codes. Custom validators raise
# PydanticCustomError with our own code as the type, which passes through.
_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_type": "type",
    "int_type": "type",
    "int_from_float": "type",
    "bool_type": "type",
    "dict_type": "type",
    "list_type": "type",
    "date_type": "type",
    "model_type": "type",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "greater_than_equal": "too_small",
    "greater_than": "too_small",
    "less_than_equal": "too_large",
    "less_than": "too_large",
    "literal_error": "not_allowed",
    "enum": "not_allowed",
    "string_pattern_mismatch": "format",
    "date_from_datetime_parsing": "format",
    "date_parsing": "format",
    "uuid_parsing": "format",
    "uuid_type": "type",
    "value_error": "invalid",
}


def _field(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


def field_errors(error: ValidationError) -> list[FieldError]:
    """One FieldError per failing field (the first failure of each), messages without input values."""
    seen: dict[str, FieldError] = {}
    for item in error.errors(include_input=False, include_url=False):
        name = _field(item["loc"])
        if name in seen:
            continue
        code = _CODES.get(item["type"], item["type"])
        message = item["msg"]
        if item["type"].startswith(("int_", "string_type", "bool_")) and "type" in code:
            message = message.replace("Input should be", "Must be")
        seen[name] = FieldError(name, code, message)
    return list(seen.values())


def invalid_cursor() -> BadRequest:
    """The one answer to any cursor this server did not issue for the list (400 invalid_cursor)."""
    return BadRequest("The cursor is not valid for this list", code="invalid_cursor")


def validate_body[Model: "BaseModel"](model: type[Model], data: dict[str, Any]) -> Model:
    """Validate a decoded JSON body. Raises ValidationFailed (422) with one entry per field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(field_errors(error)) from None


def validate_query[Model: "BaseModel"](model: type[Model], data: dict[str, str]) -> Model:
    """Validate query parameters. Raises BadRequest(invalid_query) with one entry per parameter."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = field_errors(error)
        if errors and all(entry.code == "invalid_cursor" for entry in errors):
            # Only the cursor is wrong (empty, overlong): the same answer as a tampered one.
            raise invalid_cursor() from None
        names = ", ".join(entry.field for entry in errors)
        raise BadRequest(f"Invalid query parameters: {names}", code="invalid_query", errors=errors) from None
