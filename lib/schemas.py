"""Request and response models: every field rule of the contract's section 3.

Inputs are strict (integers must be JSON integers, strings strings) and
reject unknown fields; each failure carries a stable code for `errors[]`.
The same models generate the OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lib.vin import VinFormatError, check_digit_status, normalise_vin

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
PLATE_PATTERN = re.compile(r"^[A-Z0-9 -]{1,16}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ODOMETER = 2_000_000
FIRST_MODEL_YEAR = 1981

VehicleStatus = Literal["active", "maintenance", "retired"]
MaintenanceKind = Literal["service", "repair", "inspection", "tires", "other"]
AppRole = Literal["admin", "manager", "member"]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _no_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise PydanticCustomError("control_characters", "Control characters are not allowed")
    return value


def _vin(value: str) -> str:
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
    plate = value.strip().upper()
    if PLATE_PATTERN.match(plate) is None:
        raise PydanticCustomError("plate_format", "1-16 characters from A-Z, 0-9, space and '-'")
    return plate


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


def _currency(value: str) -> str:
    if CURRENCY_PATTERN.match(value) is None:
        raise PydanticCustomError("currency_format", "Three upper-case letters, e.g. USD")
    return value


Vin = Annotated[StrictStr, AfterValidator(_vin)]
Name = Annotated[
    StrictStr,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=64),
    AfterValidator(_no_control_characters),
]
Plate = Annotated[StrictStr, AfterValidator(_plate)]
Color = Annotated[
    StrictStr,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=32),
    AfterValidator(_no_control_characters),
]
ModelYear = Annotated[StrictInt, AfterValidator(_model_year)]
Odometer = Annotated[StrictInt, Field(ge=0, le=MAX_ODOMETER)]
PerformedAt = Annotated[date, BeforeValidator(_performed_at)]
Description = Annotated[StrictStr, Field(max_length=2000), AfterValidator(_no_control_characters)]
Currency = Annotated[StrictStr, AfterValidator(_currency)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are errors, nothing is coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VehicleCreate(Input):
    """Body of POST /api/vehicles."""

    vin: Vin
    make: Name
    model: Name
    model_year: ModelYear
    plate: Plate | None = None
    color: Color | None = None
    odometer_km: Odometer = 0
    status: VehicleStatus = "active"
    owner_id: UUID | None = Field(default=None, description="Managers and admins only")


# Fields that may be sent to PATCH but never as null.
_NOT_NULLABLE = ("make", "model", "model_year", "odometer_km", "status", "owner_id")


class VehicleUpdate(Input):
    """Body of PATCH /api/vehicles/{id}: at least one field."""

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
    cost_cents: Annotated[StrictInt, Field(ge=0)] | None = None
    currency: Currency = "USD"


class Credentials(Input):
    """Body of POST /api/auth/signup and /api/auth/login."""

    email: Annotated[StrictStr, BeforeValidator(_strip), Field(min_length=3, max_length=254)]
    password: Annotated[StrictStr, Field(min_length=8, max_length=72)]

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain or CONTROL_CHARACTERS.search(value) or " " in value:
            raise PydanticCustomError("email_format", "Must be an email address")
        return value.lower()


class RefreshRequest(Input):
    """Body of POST /api/auth/refresh (optional: the refresh cookie works too)."""

    refresh_token: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None


class EmptyBody(Input):
    """A body with no fields (logout)."""


class RoleChange(Input):
    """Body of PUT /api/admin/users/{id}/role."""

    role: AppRole


# --- query parameters -------------------------------------------------------


class Query(BaseModel):
    """Base of query parameter models: strings in, types out, unknown names rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _int_param(value: Any) -> Any:
    if isinstance(value, str):
        if not re.fullmatch(r"-?\d{1,9}", value):
            raise PydanticCustomError("integer", "Must be an integer")
        return int(value)
    return value


IntParam = Annotated[int, BeforeValidator(_int_param)]
Limit = Annotated[IntParam, Field(ge=1, le=100)]
Cursor = Annotated[str, Field(min_length=1, max_length=2048)]
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
    model_year: IntParam | None = None
    year_min: IntParam | None = None
    year_max: IntParam | None = None
    owner_id: UUID | None = None
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    sort: SortKey = "-created_at"


class AuditQuery(PageQuery):
    """Filters of GET /api/admin/audit."""

    table: Literal["vehicles", "maintenance_records", "user_roles"] | None = None
    record_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    actor_id: UUID | None = None


# --- responses (documentation and serialisation) -----------------------------


class Output(BaseModel):
    """Base of response models."""

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
    created_at: str = Field(examples=["2026-11-25T10:00:00Z"])
    updated_at: str = Field(examples=["2026-11-25T10:00:00Z"])


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
    created_at: str


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
    user: SessionUser


class SignupUser(Output):
    """The user created by sign-up."""

    id: UUID
    email: str


class SignupResult(Output):
    """POST /api/auth/signup."""

    user: SignupUser
    session: Session | None


class UserSummary(Output):
    """One row of GET /api/admin/users."""

    id: UUID
    email: str
    role: AppRole
    created_at: str


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
    at: str
    actor_id: UUID | None
    action: Literal["insert", "update", "delete"]
    table: str
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
