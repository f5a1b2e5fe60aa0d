"""Field types of the API's models: every field rule of docs/api.md §3 and §4.

Inputs are strict (integers must be JSON integers, strings strings); each failure carries a stable
code for `errors[]`. Each type's documented schema is exact, so the same types generate the OpenAPI
document. The models that use them are in lib.contract.inputs and lib.contract.outputs.
"""

from __future__ import annotations

import re
import sys
from contextvars import ContextVar
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StrictStr, WithJsonSchema
from pydantic_core import PydanticCustomError

from lib.contract.validation import (
    FORBIDDEN_CLASS,
    TRIMMED_CHARACTERS,
    TRIMMED_CLASS,
    has_forbidden_character,
)
from lib.contract.vin import VinFormatError, check_digit_status, normalise_vin


def _no_plugin_discovery() -> None:
    """Tell pydantic there are no plugins before it looks for any (this API installs none).

    The first model pydantic builds imports its plugin loader, which imports importlib.metadata
    (zipfile, csv, tempfile, importlib.resources ...) and reads every installed distribution's entry
    points: 30-70 ms of a cold start compiling and scanning, to find nothing. The loader is the one
    module pydantic.plugin._schema_validator imports `get_plugins` from; answering for it here
    leaves pydantic building plain SchemaValidators, as it does when it finds no plugin. A no-op when
    the loader is already imported (its answer stands). tests/contract/test_wiring.py checks that a
    validation still loads no importlib.metadata, so a pydantic that looks for plugins elsewhere is noticed.
    """
    name = "pydantic.plugin._loader"
    if name not in sys.modules:
        loader = ModuleType(name, "No pydantic plugins (lib.contract.fields)")
        loader.__dict__["get_plugins"] = lambda: ()
        sys.modules[name] = loader


_no_plugin_discovery()

PLATE_PATTERN = re.compile(r"^[A-Z0-9 -]{1,16}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_ODOMETER = 2_000_000
MAX_COST_CENTS = 2_147_483_647  # the column is a Postgres integer
FIRST_MODEL_YEAR = 1981
# Supabase Auth (GoTrue) accepts addresses matching this (badoux/checkmail); we also want a dot in the domain.
EMAIL_PATTERN = (
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+"
)
_EMAIL = re.compile(f"^{EMAIL_PATTERN}$")
BCRYPT_MAX_BYTES = 72
MAX_LOGIN_EMAIL = 320  # 64 (local part) + 1 + 255 (domain): longer is no address at all
MAX_LOGIN_PASSWORD = 1024

# The text rule (lib.contract.validation, the same list the database's private.text_ok is written from):
# "trimmed" removes TRIMMED's Unicode whitespace; FORBIDDEN characters (controls, line separators,
# bidirectional controls, zero-width characters) are refused wherever they appear, never trimmed away.
TRIMMED = TRIMMED_CLASS
_FORBIDDEN = FORBIDDEN_CLASS


def trimmed_text_pattern(max_length: int) -> str:
    """The exact JSON Schema pattern of a trimmed text field: 1-`max_length` characters once trimmed."""
    edge = f"[^{TRIMMED}{_FORBIDDEN}]"
    return f"^[{TRIMMED}]*{edge}(?:[^{_FORBIDDEN}]{{0,{max_length - 2}}}{edge})?[{TRIMMED}]*$"


def trimmed_pattern(core: str) -> str:
    """A pattern for `core`, trimmed (optional surrounding whitespace as TRIMMED defines it)."""
    return f"^[{TRIMMED}]*{core}[{TRIMMED}]*$"


VIN_INPUT_PATTERN = trimmed_pattern("[A-HJ-NPR-Za-hj-npr-z0-9]{17}")
PLATE_INPUT_PATTERN = trimmed_pattern("[A-Za-z0-9-](?:[A-Za-z0-9 -]{0,14}[A-Za-z0-9-])?")

VehicleStatus = Literal["active", "maintenance", "retired"]
MaintenanceKind = Literal["service", "repair", "inspection", "tires", "other"]
AppRole = Literal["admin", "manager", "member"]


def _trim(value: Any) -> Any:
    """Strip surrounding whitespace; a forbidden character anywhere, even at an end, is an error."""
    if isinstance(value, str):
        _no_forbidden_characters(value)
        return value.strip(TRIMMED_CHARACTERS)
    return value


def _no_forbidden_characters(value: str) -> str:
    if has_forbidden_character(value):
        raise PydanticCustomError(
            "control_characters",
            "Control characters, line separators, bidirectional controls and zero-width characters "
            "are not allowed",
        )
    return value


def _vin(value: str) -> str:
    _no_forbidden_characters(value)  # never trimmed away
    try:
        vin = normalise_vin(value)
    except VinFormatError as error:
        raise PydanticCustomError("vin_format", str(error)) from None
    if check_digit_status(vin) == "invalid":
        raise PydanticCustomError(
            "vin_check_digit", "The check digit (position 9) does not match this North American VIN"
        )
    return vin


def _plate(value: str) -> str:
    plate = _no_forbidden_characters(value).strip(TRIMMED_CHARACTERS)
    # ASCII first: str.upper() maps some other letters onto A-Z ("ß" -> "SS").
    if not plate.isascii() or PLATE_PATTERN.fullmatch(plate.upper()) is None:
        raise PydanticCustomError("plate_format", "1-16 characters from A-Z, 0-9, space and '-'")
    return plate.upper()


def _model_year(value: int) -> int:
    latest = datetime.now(UTC).year + 2
    if not FIRST_MODEL_YEAR <= value <= latest:
        raise PydanticCustomError("model_year_range", f"Must be between {FIRST_MODEL_YEAR} and {latest}")
    return value


def _performed_at(value: Any) -> date:
    if not isinstance(value, str) or DATE_PATTERN.match(value) is None:
        raise PydanticCustomError("date_format", "Must be a date written YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_format", "Must be a date written YYYY-MM-DD") from None
    if day > datetime.now(UTC).date():
        raise PydanticCustomError("performed_at_future", "Must not be after today (UTC)")
    return day


# The day the documented date rules are stated as of: lib.contract.openapi.build_document sets it for
# the schemas it generates (json_schema_extra callables take no arguments but the schema); None is today.
SCHEMA_DAY: ContextVar[date | None] = ContextVar("SCHEMA_DAY", default=None)


def _schema_day() -> date:
    return SCHEMA_DAY.get() or datetime.now(UTC).date()


def _model_year_bounds(schema: dict[str, Any]) -> None:
    schema.update(minimum=FIRST_MODEL_YEAR, maximum=_schema_day().year + 2)


def _digits_between(low: str, high: str) -> str:
    """A regex matching exactly the digit strings of this width from `low` to `high`."""
    if low == high:
        return low
    width = len(low)
    if low == "0" * width and high == "9" * width:
        return f"[0-9]{{{width}}}" if width > 1 else "[0-9]"
    if width == 1:
        return f"[{low}-{high}]"  # low < high here
    if low[0] == high[0]:
        return low[0] + _digits_between(low[1:], high[1:])
    rest = width - 1
    parts = [low[0] + _digits_between(low[1:], "9" * rest)]
    first, last = int(low[0]) + 1, int(high[0]) - 1
    if first <= last:
        middle = str(first) if first == last else f"[{first}-{last}]"
        parts.append(middle + ("[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    parts.append(high[0] + _digits_between("0" * rest, high[1:]))
    return "(?:" + "|".join(parts) + ")"


def not_after_pattern(day: date) -> str:
    """A pattern for YYYY-MM-DD dates from 0001-01-01 up to `day` (day validity is `format: date`'s)."""
    month, any_day = "(?:0[1-9]|1[0-2])", "(?:0[1-9]|[12][0-9]|3[01])"
    year = f"{day.year:04d}"
    options = []
    if day.year > 1:
        options.append(f"{_digits_between('0001', f'{day.year - 1:04d}')}-{month}-{any_day}")
    if day.month > 1:
        options.append(f"{year}-{_digits_between('01', f'{day.month - 1:02d}')}-{any_day}")
    options.append(f"{year}-{day.month:02d}-{_digits_between('01', f'{day.day:02d}')}")
    return "^(?:" + "|".join(options) + ")$"


def _performed_at_bounds(schema: dict[str, Any]) -> None:
    schema["pattern"] = not_after_pattern(_schema_day())
    schema["description"] = "A date (YYYY-MM-DD), not after today (UTC)."


def _currency(value: str) -> str:
    # fullmatch: `$` would also match before a final line feed.
    if CURRENCY_PATTERN.fullmatch(value) is None:
        raise PydanticCustomError("currency_format", "Three upper-case letters, e.g. USD")
    return value


def _trimmed_text(max_length: int) -> tuple[Any, ...]:
    """A text field's rules (the text rule): 1-`max_length` characters once trimmed, documented exactly."""
    return (
        BeforeValidator(_trim),
        Field(min_length=1, max_length=max_length),
        WithJsonSchema({"type": "string", "pattern": trimmed_text_pattern(max_length)}),
    )


# The documented schema of each input type is exact: what it matches is accepted, nothing else is
# (rules no JSON Schema keyword can state are named `format`s, described where they are declared).
Vin = Annotated[
    StrictStr,
    AfterValidator(_vin),
    WithJsonSchema(
        {
            "type": "string",
            "format": "vin",
            "pattern": VIN_INPUT_PATTERN,
            "description": "ISO 3779 (trimmed, upper-cased). Format `vin`: a VIN starting with 1-5 "
            "(North America) must carry a valid 49 CFR 565 check digit in position 9.",
        }
    ),
]
Name = Annotated[StrictStr, *_trimmed_text(64)]
Plate = Annotated[
    StrictStr, AfterValidator(_plate), WithJsonSchema({"type": "string", "pattern": PLATE_INPUT_PATTERN})
]
Color = Annotated[StrictStr, *_trimmed_text(32)]
ModelYear = Annotated[StrictInt, AfterValidator(_model_year), Field(json_schema_extra=_model_year_bounds)]
Odometer = Annotated[StrictInt, Field(ge=0, le=MAX_ODOMETER)]
PerformedAt = Annotated[date, BeforeValidator(_performed_at), Field(json_schema_extra=_performed_at_bounds)]
Description = Annotated[StrictStr, *_trimmed_text(2000)]
Currency = Annotated[
    StrictStr, AfterValidator(_currency), WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$"})
]


def _signup_email(value: str) -> str:
    # The address rule Supabase Auth applies, checked here so that its refusal is never a surprise.
    address = _trim(value)
    if _EMAIL.match(address) is None:
        raise PydanticCustomError("email_format", "Must be an email address")
    return str(address).lower()


def _new_password(value: str) -> str:
    if len(value.encode()) > BCRYPT_MAX_BYTES:
        raise PydanticCustomError("too_long", "At most 72 bytes in UTF-8")
    return value


Email = Annotated[
    StrictStr,
    Field(max_length=254, json_schema_extra={"pattern": trimmed_pattern(EMAIL_PATTERN)}),
    AfterValidator(_signup_email),
]
NewPassword = Annotated[
    StrictStr,
    Field(
        min_length=8,
        max_length=72,
        json_schema_extra={
            "format": "password",
            "description": "8-72 characters, at most 72 bytes in UTF-8 (bcrypt's limit).",
        },
    ),
    AfterValidator(_new_password),
]
# Where the email's link leads: checked against the allowed origins by lib.resources.account (the
# settings decide them), passed to Auth as its redirect_to.
RedirectTo = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=2048,
        json_schema_extra={
            "format": "uri",
            "description": (
                "An http(s) URL on an allowed origin (ALLOWED_ORIGINS and the deployment's own"
                " URLs): where the email's link leads. Any other origin is 422."
            ),
        },
    ),
    AfterValidator(_no_forbidden_characters),
]
VerifyType = Literal["signup", "recovery", "magiclink", "email_change", "invite"]


# --- query parameters -------------------------------------------------------


def _int_param(value: Any) -> Any:
    if isinstance(value, str):
        # [0-9], not \d: int() would also read other scripts' digits.
        if not re.fullmatch(r"-?[0-9]{1,9}", value):
            raise PydanticCustomError("integer", "Must be an integer")
        return int(value)
    return value


IntParam = Annotated[int, BeforeValidator(_int_param)]
# What _int_param reads: at most nine digits.
AnyInt = Annotated[IntParam, Field(ge=-999_999_999, le=999_999_999)]
Limit = Annotated[IntParam, Field(ge=1, le=100)]
MAX_CURSOR = 2048


def _cursor(value: str) -> str:
    # Out of bounds is as invalid as tampered: the same `invalid_cursor` (lib.contract.validation).
    if not 1 <= len(value) <= MAX_CURSOR:
        raise PydanticCustomError("invalid_cursor", "Not a cursor this server issued")
    return value


# What this server issues: base64url JSON, a dot, a base64url signature (anything else is invalid too,
# found by lib.supabase.cursor when the list decodes it).
Cursor = Annotated[
    str,
    AfterValidator(_cursor),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_CURSOR,
            "pattern": "^[A-Za-z0-9_-]+[.][A-Za-z0-9_-]+$",
        }
    ),
]
SortKey = Literal[
    "created_at", "-created_at", "model_year", "-model_year", "make", "-make", "odometer_km", "-odometer_km"
]
