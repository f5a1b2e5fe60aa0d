"""Turning pydantic validation failures into the contract's `errors[]` entries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from lib.problems import BadRequest, FieldError, ValidationFailed

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

# pydantic is imported on first validation, not with every function: routes
# that take no body or query never load it.
Model = TypeVar("Model", bound="BaseModel")

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


def validate_body(model: type[Model], data: dict[str, Any]) -> Model:
    """Validate a decoded JSON body. Raises ValidationFailed (422) with one entry per field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(field_errors(error)) from None


def validate_query(model: type[Model], data: dict[str, str]) -> Model:
    """Validate query parameters. Raises BadRequest(invalid_query) with one entry per parameter."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = field_errors(error)
        if errors and all(entry.code == "invalid_cursor" for entry in errors):
            from lib.cursor import invalid_cursor

            # Only the cursor is wrong (empty, overlong): the same answer as a tampered one.
            raise invalid_cursor() from None
        names = ", ".join(entry.field for entry in errors)
        raise BadRequest(f"Invalid query parameters: {names}", code="invalid_query", errors=errors) from None
