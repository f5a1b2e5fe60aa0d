"""Request bodies, as docs/api.md §3 and §4 define them (query parameters: lib.contract.queries).

Inputs reject unknown fields and coerce nothing; their field types and rules are in
lib.contract.fields. The same models generate the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lib.contract.fields import (
    MAX_COST_CENTS,
    MAX_LOGIN_EMAIL,
    MAX_LOGIN_PASSWORD,
    AppRole,
    Color,
    Currency,
    Description,
    Email,
    MaintenanceKind,
    ModelYear,
    Name,
    NewPassword,
    Odometer,
    PerformedAt,
    Plate,
    RedirectTo,
    VehicleStatus,
    VerifyType,
    Vin,
)


class Input(BaseModel):
    """Base of request bodies: unknown fields are errors, nothing is coerced."""

    # defer_build: a model's validator is built on its first use, so a cold start builds only the
    # models its request uses, not every route's.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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
