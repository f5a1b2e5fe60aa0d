"""Request and response models: every field rule of docs/api.md §3 and §4.

Inputs are strict (integers must be JSON integers, strings strings) and
reject unknown fields; each failure carries a stable code for `errors[]`.
The same models generate the OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lib.contract.validation import (
    FORBIDDEN_CLASS,
    TRIMMED_CHARACTERS,
    TRIMMED_CLASS,
    has_forbidden_character,
)
from lib.contract.vin import VinFormatError, check_digit_status, normalise_vin

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


def _model_year_bounds(schema: dict[str, Any]) -> None:
    schema.update(minimum=FIRST_MODEL_YEAR, maximum=datetime.now(UTC).year + 2)


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
    schema["pattern"] = not_after_pattern(datetime.now(UTC).date())
    schema["description"] = "A date (YYYY-MM-DD), not after today (UTC)."


def _currency(value: str) -> str:
    # fullmatch: `$` would also match before a final line feed.
    if CURRENCY_PATTERN.fullmatch(value) is None:
        raise PydanticCustomError("currency_format", "Three upper-case letters, e.g. USD")
    return value


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
Name = Annotated[
    StrictStr,
    BeforeValidator(_trim),
    Field(min_length=1, max_length=64),
    WithJsonSchema({"type": "string", "pattern": trimmed_text_pattern(64)}),
]
Plate = Annotated[
    StrictStr, AfterValidator(_plate), WithJsonSchema({"type": "string", "pattern": PLATE_INPUT_PATTERN})
]
Color = Annotated[
    StrictStr,
    BeforeValidator(_trim),
    Field(min_length=1, max_length=32),
    WithJsonSchema({"type": "string", "pattern": trimmed_text_pattern(32)}),
]
ModelYear = Annotated[StrictInt, AfterValidator(_model_year), Field(json_schema_extra=_model_year_bounds)]
Odometer = Annotated[StrictInt, Field(ge=0, le=MAX_ODOMETER)]
PerformedAt = Annotated[date, BeforeValidator(_performed_at), Field(json_schema_extra=_performed_at_bounds)]
Description = Annotated[
    StrictStr,
    BeforeValidator(_trim),
    Field(min_length=1, max_length=2000),
    WithJsonSchema({"type": "string", "pattern": trimmed_text_pattern(2000)}),
]
Currency = Annotated[
    StrictStr, AfterValidator(_currency), WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$"})
]


class Input(BaseModel):
    """Base of request bodies: unknown fields are errors, nothing is coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_if_null(model: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """An optional field sent as `null` takes its default, exactly as if it had been left out."""
    if value is None and info.field_name is not None:
        return model.model_fields[info.field_name].default
    return value


class VehicleCreate(Input):
    """Body of POST /api/vehicles."""

    vin: Vin
    make: Name
    model: Name
    model_year: ModelYear
    plate: Plate | None = None
    color: Color | None = None
    # `null` means the default (nullable, so that the document says so; never None once validated).
    odometer_km: Odometer | None = 0
    status: VehicleStatus | None = "active"
    owner_id: UUID | None = Field(default=None, description="Managers and admins only")

    @field_validator("odometer_km", "status", mode="before")
    @classmethod
    def _default_for_null(cls, value: Any, info: ValidationInfo) -> Any:
        return _default_if_null(cls, value, info)


# Fields that may be sent to PATCH but never as null.
_NOT_NULLABLE = ("make", "model", "model_year", "odometer_km", "status", "owner_id")


def _update_schema(schema: dict[str, Any]) -> None:
    """Document PATCH as validated: at least one field, and `null` only where it clears a value."""
    schema["minProperties"] = 1
    properties = schema.get("properties", {})
    for name in _NOT_NULLABLE:
        field = properties.get(name, {})
        options = [option for option in field.pop("anyOf", []) if option != {"type": "null"}]
        if len(options) == 1:
            field.update(options[0])
        field.pop("default", None)


class VehicleUpdate(Input):
    """Body of PATCH /api/vehicles/{id}: at least one field."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_update_schema)
    needs_a_field: ClassVar[bool] = True  # so the body is required, though no single field is

    make: Name | None = None
    model: Name | None = None
    model_year: ModelYear | None = None
    plate: Plate | None = None
    color: Color | None = None
    odometer_km: Odometer | None = None
    status: VehicleStatus | None = None
    owner_id: UUID | None = Field(default=None, description="Admins only")

    @field_validator(*_NOT_NULLABLE, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_not_allowed", "May be omitted but not null")
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> VehicleUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError("empty_update", "Send at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the caller sent, JSON-ready."""
        return self.model_dump(mode="json", include=self.model_fields_set)


class MaintenanceCreate(Input):
    """Body of POST /api/vehicles/{id}/maintenance."""

    performed_at: PerformedAt
    odometer_km: Odometer
    kind: MaintenanceKind
    description: Description | None = None
    cost_cents: Annotated[StrictInt, Field(ge=0, le=MAX_COST_CENTS)] | None = None
    currency: Currency | None = "USD"  # `null` means the default, as in VehicleCreate

    @field_validator("currency", mode="before")
    @classmethod
    def _default_for_null(cls, value: Any, info: ValidationInfo) -> Any:
        return _default_if_null(cls, value, info)


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


class Credentials(Input):
    """Body of POST /api/auth/signup."""

    email: Email
    password: NewPassword
    redirect_to: RedirectTo | None = None


class LoginCredentials(Input):
    """Body of POST /api/auth/login: any email and password; a wrong pair is the one generic 401."""

    # Sign-up's rules are not applied (an account created under an older policy must still sign
    # in), so a wrong pair of whatever shape is refused like any other. The bounds only keep
    # absurd bodies away from Auth.

    email: Annotated[StrictStr, Field(min_length=1, max_length=MAX_LOGIN_EMAIL)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=MAX_LOGIN_PASSWORD)]

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        # Normalised as the login rate limit keys it (ratelimit.policy_key) and as Auth looks it up.
        return value.strip().lower()


class RefreshRequest(Input):
    """Body of POST /api/auth/refresh (optional: the refresh cookie works too)."""

    refresh_token: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None


class EmptyBody(Input):
    """A body with no fields (logout)."""


class RecoverRequest(Input):
    """Body of POST /api/auth/recover."""

    email: Email
    redirect_to: RedirectTo | None = None


class VerifyRequest(Input):
    """Body of POST /api/auth/verify: the token hash of an email link and the link's type."""

    token_hash: Annotated[
        StrictStr,
        Field(min_length=1, max_length=1024, pattern=r"^[\x21-\x7e]+$"),
    ]
    type: VerifyType


class PasswordChange(Input):
    """Body of PUT /api/me/password."""

    current_password: (
        Annotated[
            StrictStr,
            Field(
                min_length=1,
                max_length=MAX_LOGIN_PASSWORD,
                json_schema_extra={
                    "format": "password",
                    "description": (
                        "Required, except within 10 minutes of a POST /api/auth/verify (recovery) that"
                        " started this session."
                    ),
                },
            ),
        ]
        | None
    ) = None
    password: NewPassword


class RoleChange(Input):
    """Body of PUT /api/admin/users/{id}/role."""

    role: AppRole


# --- query parameters -------------------------------------------------------


class Query(BaseModel):
    """Base of query parameter models: strings in, types out, unknown names rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


class PageQuery(Query):
    """limit and cursor, shared by every list."""

    limit: Limit = 20
    cursor: Cursor | None = None


class VehicleListQuery(PageQuery):
    """Filters and sort of GET /api/vehicles."""

    status: VehicleStatus | None = None
    make: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    model: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    model_year: AnyInt | None = None
    year_min: AnyInt | None = None
    year_max: AnyInt | None = None
    owner_id: UUID | None = None
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    sort: SortKey = "-created_at"


class AuditQuery(PageQuery):
    """Filters of GET /api/admin/audit."""

    table: Literal["vehicles", "maintenance_records", "user_roles"] | None = None
    record_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    actor_id: UUID | None = None


# --- responses (documentation and serialisation) -----------------------------


def _utc_timestamp(value: Any) -> str:
    """A database timestamp as RFC 3339 UTC with second precision, e.g. 2026-11-25T10:00:00Z.

    Raises ValueError (so a ValidationError) for anything that is not an ISO 8601 timestamp.
    """
    moment = datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A response's timestamp, built from the database's (any offset, any precision).
Timestamp = Annotated[str, BeforeValidator(_utc_timestamp)]


class Output(BaseModel):
    """Base of response models: each is both the documented shape and what builds the response.

    `Model.model_validate(row)` turns a database row (as PostgREST returns it) into the
    response shape; unknown columns are left out, a missing or malformed one raises
    ValidationError (lib.resources.representation answers 502 for it).
    """

    model_config = ConfigDict(frozen=True)


class Vehicle(Output):
    """A vehicle as the API returns it."""

    id: UUID
    vin: str
    make: str
    model: str
    model_year: int
    plate: str | None
    color: str | None
    odometer_km: int
    status: VehicleStatus
    owner_id: UUID
    version: int
    created_at: Timestamp = Field(examples=["2026-11-25T10:00:00Z"])
    updated_at: Timestamp = Field(examples=["2026-11-25T10:00:00Z"])


class MaintenanceRecord(Output):
    """A maintenance record as the API returns it."""

    id: UUID
    vehicle_id: UUID
    performed_at: date
    odometer_km: int
    kind: MaintenanceKind
    description: str | None
    cost_cents: int | None
    currency: str
    created_by: UUID
    created_at: Timestamp


class VehiclePage(Output):
    """A page of vehicles."""

    data: list[Vehicle]
    next_cursor: str | None


class MaintenancePage(Output):
    """A page of maintenance records."""

    data: list[MaintenanceRecord]
    next_cursor: str | None


class VinDecoded(Output):
    """GET /api/vin/{vin}."""

    vin: str
    valid: bool
    check_digit: Literal["valid", "invalid", "not_applicable"]
    wmi: str
    manufacturer: str | None
    region: str | None
    country: str | None
    model_year: int | None


class Me(Output):
    """GET /api/me."""

    id: UUID
    email: str | None
    role: AppRole
    permissions: list[str]


class SessionUser(Output):
    """The user inside a session."""

    id: UUID
    email: str | None
    role: AppRole


class Session(Output):
    """A signed-in session."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int
    expires_at: int
    csrf_token: str = Field(
        description=(
            "The session's CSRF token, also set as the csrf-token cookie: send it as X-CSRF-Token "
            "with cookie-authenticated writes, refresh and logout. A frontend on another host of the "
            "same site cannot read the cookie and keeps this value instead. Bound to the session and "
            "unchanged by a refresh."
        )
    )
    user: SessionUser


class SignupUser(Output):
    """The user created by sign-up."""

    id: UUID
    email: str


class SignupResult(Output):
    """POST /api/auth/signup."""

    user: SignupUser
    session: Session | None = Field(
        description="null while the email awaits confirmation (the hosted default): sign in after it"
    )
    confirmation_sent: bool = Field(
        description=(
            "true when Auth emailed a confirmation link (the account works once it is followed);"
            " the same answer for an address that is already registered"
        )
    )


class Accepted(Output):
    """An empty object: the request was taken (POST /api/auth/recover)."""


class UserSummary(Output):
    """One row of GET /api/admin/users."""

    id: UUID
    email: str
    role: AppRole
    created_at: Timestamp


class UserPage(Output):
    """A page of users."""

    data: list[UserSummary]
    next_cursor: str | None


class RoleAssignment(Output):
    """PUT /api/admin/users/{id}/role."""

    id: UUID
    role: AppRole


class AuditEntry(Output):
    """One audit log entry."""

    id: int
    at: Timestamp
    actor_id: UUID | None
    action: Literal["insert", "update", "delete"]
    table: str = Field(validation_alias="table_name")  # the column's name in the database
    record_id: str
    changes: dict[str, Any]


class AuditPage(Output):
    """A page of audit entries."""

    data: list[AuditEntry]
    next_cursor: str | None


class HealthChecks(Output):
    """Per-dependency status."""

    database: Literal["ok", "unavailable", "timeout", "error"]


class Health(Output):
    """GET /api/health."""

    status: Literal["ok", "degraded"]
    version: str
    environment: Literal["development", "preview", "production"]
    checks: HealthChecks


class ProblemError(Output):
    """One invalid field."""

    field: str
    code: str
    message: str


class Problem(Output):
    """RFC 9457 problem details, as every error is sent."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    request_id: str
    errors: list[ProblemError] | None = None
