"""GoTrue's rules for users: its constants, address validation, password checks and User JSON."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import bcrypt

from devstack.auth.errors import ApiError

AUDIENCE = "authenticated"
DEFAULT_ROLE = "authenticated"
ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})
NIL_UUID = uuid.UUID(int=0)


BCRYPT_MAX_BYTES = 72
INVALID_LOGIN = "Invalid login credentials"


# GoTrue validates addresses with this pattern (badoux/checkmail).
EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)


def timestamp(value: datetime | None) -> str | None:
    """A timestamp the way Go marshals a UTC time.Time (None stays None)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def identity_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """GoTrue's Identity object (its `id` is the provider's id, `identity_id` the row's)."""
    identity: dict[str, Any] = {
        "identity_id": str(row["id"]),
        "id": row["provider_id"],
        "user_id": str(row["user_id"]),
        "identity_data": row["identity_data"] or {},
        "provider": row["provider"],
    }
    if row["last_sign_in_at"] is not None:
        identity["last_sign_in_at"] = timestamp(row["last_sign_in_at"])
    identity["created_at"] = timestamp(row["created_at"]) or "0001-01-01T00:00:00Z"
    identity["updated_at"] = timestamp(row["updated_at"]) or "0001-01-01T00:00:00Z"
    if row["email"]:
        identity["email"] = row["email"]
    return identity


def user_json(row: Mapping[str, Any], identities: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """GoTrue's User object: nil timestamps are omitted, strings default to ""."""
    user: dict[str, Any] = {
        "id": str(row["id"]),
        "aud": row["aud"] or "",
        "role": row["role"] or "",
        "email": row["email"] or "",
    }
    optional = {
        "email_confirmed_at": row["email_confirmed_at"],
        "invited_at": row["invited_at"],
    }
    user.update({key: timestamp(value) for key, value in optional.items() if value is not None})
    user["phone"] = row["phone"] or ""
    optional = {
        "phone_confirmed_at": row["phone_confirmed_at"],
        "confirmation_sent_at": row["confirmation_sent_at"],
        "confirmed_at": row["confirmed_at"],
        "recovery_sent_at": row["recovery_sent_at"],
    }
    user.update({key: timestamp(value) for key, value in optional.items() if value is not None})
    if row.get("email_change"):
        user["new_email"] = row["email_change"]
    if row.get("email_change_sent_at") is not None:
        user["email_change_sent_at"] = timestamp(row["email_change_sent_at"])
    if row["last_sign_in_at"] is not None:
        user["last_sign_in_at"] = timestamp(row["last_sign_in_at"])
    user["app_metadata"] = row["raw_app_meta_data"] or {}
    user["user_metadata"] = row["raw_user_meta_data"] or {}
    user["identities"] = [identity_json(identity) for identity in identities]
    # Go marshals a zero time.Time this way; seeds sometimes leave these NULL.
    user["created_at"] = timestamp(row["created_at"]) or "0001-01-01T00:00:00Z"
    user["updated_at"] = timestamp(row["updated_at"]) or "0001-01-01T00:00:00Z"
    if row["banned_until"] is not None:
        user["banned_until"] = timestamp(row["banned_until"])
    if row["deleted_at"] is not None:
        user["deleted_at"] = timestamp(row["deleted_at"])
    user["is_anonymous"] = bool(row["is_anonymous"])
    return user


def is_banned(row: Mapping[str, Any], now: datetime) -> bool:
    """Whether the user's ban is still in force at `now`."""
    banned_until = row["banned_until"]
    return banned_until is not None and banned_until > now


def password_matches(password: str, hashed: str | None) -> bool:
    """Whether `password` matches the stored bcrypt hash (never for a missing or bad hash)."""
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        # Over-long passwords and malformed stored hashes simply do not match.
        return False


def merge_metadata(current: Any, updates: dict[str, Any]) -> dict[str, Any]:
    """GoTrue's UpdateAppMetaData/UpdateUserMetaData: null deletes a key, anything else sets it."""
    if not isinstance(current, dict):
        return dict(updates)
    merged = dict(current)
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def validate_email(email: str) -> str:
    """The address, lower-cased, if GoTrue accepts it. Raises ApiError (400 validation_failed)."""
    if not email:
        raise ApiError(400, "validation_failed", "An email address is required")
    if len(email) > 255:
        raise ApiError(400, "validation_failed", "An email address is too long")
    if not EMAIL.match(email):
        raise ApiError(400, "validation_failed", "Unable to validate email address: invalid format")
    return email.lower()
