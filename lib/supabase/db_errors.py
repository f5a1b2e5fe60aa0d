"""Database errors of our own schema, mapped to the contract's problems.

Constraint names and our custom SQLSTATEs (see the migrations) are the
interface; upstream messages are matched only to find a constraint name and
are never shown to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lib.http.problems import ApiError, Conflict, FieldError, Forbidden, NotFound, ValidationFailed

_CONSTRAINT = re.compile(r'constraint "([a-z0-9_]+)"')

# The database's private.text_ok, as lib.contract.validation states it.
_TEXT_RULE = (
    "not blank, no surrounding whitespace, no control, line separator, bidirectional control "
    "or zero-width characters"
)

# Rules that two names report (a table's constraint, and the hint of the trigger or function
# that checks the same rule), and messages too long for a row.
_MODEL_YEAR_RANGE = ("model_year", "model_year_range", "The model year is out of range")
_ODOMETER_RANGE = ("odometer_km", "too_large", "Must be between 0 and 2000000")
_PERFORMED_AT_FUTURE = ("performed_at", "performed_at_future", "Must not be after today (UTC)")
_VIN_FORMAT = "A VIN has 17 characters from A-Z and 0-9, without I, O and Q"
_VIN_CHECK_DIGIT = "The check digit (position 9) does not match this North American VIN"
_PLATE_FORMAT = "1-16 characters from A-Z, 0-9, space and '-', not starting or ending with a space"

# constraint or hint -> (field, code, message)
_FIELD_RULES: dict[str, tuple[str, str, str]] = {
    "vehicles_vin_format": ("vin", "vin_format", _VIN_FORMAT),
    "vehicles_vin_check_digit": ("vin", "vin_check_digit", _VIN_CHECK_DIGIT),
    "maintenance_description_text": ("description", "invalid", f"At most 2000 characters; {_TEXT_RULE}"),
    "vehicles_make_check": ("make", "invalid", f"1-64 characters; {_TEXT_RULE}"),
    "vehicles_model_check": ("model", "invalid", f"1-64 characters; {_TEXT_RULE}"),
    "vehicles_model_year_check": _MODEL_YEAR_RANGE,
    "model_year_range": _MODEL_YEAR_RANGE,
    "vehicles_plate_format": ("plate", "plate_format", _PLATE_FORMAT),
    "vehicles_color_check": ("color", "invalid", f"1-32 characters; {_TEXT_RULE}"),
    "vehicles_odometer_range": _ODOMETER_RANGE,
    "maintenance_odometer_range": _ODOMETER_RANGE,
    "maintenance_description_length": ("description", "too_long", "At most 2000 characters"),
    "maintenance_cost_nonnegative": ("cost_cents", "too_small", "Must not be negative"),
    "maintenance_currency_format": ("currency", "currency_format", "Three upper-case letters, e.g. USD"),
    "performed_at_future": _PERFORMED_AT_FUTURE,
    "maintenance_performed_at_not_future": _PERFORMED_AT_FUTURE,
    "vin_immutable": ("vin", "immutable", "The VIN cannot be changed"),
    "id_immutable": ("id", "immutable", "The id cannot be changed"),
    "vehicle_id_immutable": ("vehicle_id", "immutable", "A record cannot move to another vehicle"),
    "created_by_immutable": ("created_by", "immutable", "The author of a record cannot be changed"),
}
_FOREIGN_KEYS = {
    "vehicles_owner_id_fkey": ("owner_id", "unknown_owner", "No user has this id"),
}


def _field_problem(key: str | None) -> ApiError | None:
    if key is not None and key in _FIELD_RULES:
        return ValidationFailed([FieldError(*_FIELD_RULES[key])])
    return None


def _odometer_rollback(constraint: str | None, hint: str | None) -> ApiError:
    return ValidationFailed(
        [FieldError("odometer_km", "odometer_rollback", "The odometer never decreases")],
        code="odometer_rollback",
        detail="odometer_km cannot be lower than the current reading",
    )


def _unique(constraint: str | None, hint: str | None) -> ApiError:
    if constraint == "vehicles_vin_key":
        return Conflict("A vehicle with this VIN already exists", code="duplicate_vin")
    return Conflict()


def _foreign_key(constraint: str | None, hint: str | None) -> ApiError | None:
    if constraint in _FOREIGN_KEYS:
        return ValidationFailed([FieldError(*_FOREIGN_KEYS[constraint])])
    return None


def _check(constraint: str | None, hint: str | None) -> ApiError:
    return _field_problem(hint) or _field_problem(constraint) or ValidationFailed([])


# SQLSTATE -> problem; the V* codes are raised by our own triggers and functions.
_BY_SQLSTATE: dict[str, Callable[[str | None, str | None], ApiError | None]] = {
    "VO422": _odometer_rollback,
    "VI409": lambda c, h: Conflict(code="idempotency_in_progress"),
    "VI422": lambda c, h: ValidationFailed(
        [], code="idempotency_key_reused", detail="This Idempotency-Key was used with a different request"
    ),
    "VA409": lambda c, h: Conflict("At least one admin must remain", code="last_admin"),
    "VN404": lambda c, h: NotFound(),
    "23505": _unique,
    "23503": _foreign_key,
    "42501": lambda c, h: Forbidden("You may not change this resource"),
    # Raised through PostgREST's custom errors (status 403) by the quota trigger.
    "VQ403": lambda c, h: Forbidden(
        "You have reached your storage quota for this kind of resource", code="quota_exceeded"
    ),
    "23514": _check,
    "VV422": _check,
}


def matches_nothing(filters: dict[str, Any]) -> bool:
    """True when a text filter holds U+0000, which Postgres text cannot store: no row can match it,
    and sending it would only make Postgres refuse the query (22P05)."""
    return any(isinstance(value, str) and "\x00" in value for value in filters.values())


def translate(error: Any) -> ApiError | None:
    """The problem for a PostgREST error (a RestError) raised by our schema, or None if it is not ours."""
    handler = _BY_SQLSTATE.get(str(getattr(error, "code", None)))
    if handler is None:
        return None
    named = _CONSTRAINT.search(str(getattr(error, "message", "") or ""))
    hint = getattr(error, "hint", None)
    return handler(named.group(1) if named else None, hint if isinstance(hint, str) else None)
