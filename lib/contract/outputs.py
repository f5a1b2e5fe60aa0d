"""Response models: each is both the documented shape and what builds the response."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from lib.contract.fields import AppRole, MaintenanceKind, VehicleStatus


def _utc_timestamp(value: Any) -> str:
    """A database timestamp as RFC 3339 UTC with second precision, e.g. 2026-11-25T10:00:00Z.

    Raises ValueError (so a ValidationError) for anything that is not an ISO 8601 timestamp.
    """
    moment = datetime.fromisoformat(str(value)).astimezone(UTC)
    # isoformat, not strftime: a third of the time per row (and %Y would not pad years before 1000).
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# A response's timestamp, built from the database's (any offset, any precision).
Timestamp = Annotated[str, BeforeValidator(_utc_timestamp)]


class Output(BaseModel):
    """Base of response models: each is both the documented shape and what builds the response.

    `Model.model_validate(row)` turns a database row (as PostgREST returns it) into the
    response shape; unknown columns are left out, a missing or malformed one raises
    ValidationError (lib.resources.representation answers 502 for it).
    """

    # Built on first use (defer_build): a cold start builds the models its response uses, no others.
    model_config = ConfigDict(frozen=True, defer_build=True)


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
