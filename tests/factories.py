"""Test data factories, in one place: users with roles, their tokens, vehicles, records.

Every factory creates fresh rows with unique values, so no test depends on
another's data (or on the seed).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import psycopg
from jose import jwt

from devstack.auth import legacy_secret_kid
from devstack.stack_settings import StackSettings

_VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def north_american_vin(wmi: str = "1HG", rng: random.Random | None = None) -> str:
    """A fresh VIN with a valid 49 CFR 565 check digit."""
    rng = rng or random.Random()
    body = wmi + "".join(rng.choice(_VIN_ALPHABET) for _ in range(14 - len(wmi) + 3))
    # Position 10 is the model year code, which never uses U, Z or 0.
    body = body[:8] + "0" + rng.choice("ABCDEFGHJKLMNPRSTVWXY123456789") + body[10:17]
    total = sum(_VIN_VALUES[c] * w for c, w in zip(body, _VIN_WEIGHTS, strict=True)) % 11
    return body[:8] + ("X" if total == 10 else str(total)) + body[9:]


def european_vin(rng: random.Random | None = None) -> str:
    """A fresh well-formed European VIN (no check digit required)."""
    rng = rng or random.Random()
    return "WVWZZZ" + "".join(rng.choice(_VIN_ALPHABET) for _ in range(11))


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """UUIDs as strings, as the API shows them."""
    return {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in row.items()}


@dataclass
class User:
    """A user in auth.users with a role, and a valid access token for them."""

    id: str
    email: str
    role: str
    token: str = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for the API."""
        return {"Authorization": f"Bearer {self.token}"}


def mint_token(
    settings: StackSettings,
    user_id: str,
    *,
    email: str | None = None,
    role: str | None = "member",
    ttl: int = 3600,
    with_kid: bool = True,
    **extra: Any,
) -> str:
    """An access token as the local Auth (with the hook) issues it: HS256 with its kid, or legacy without."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": "authenticated",
        "exp": now + ttl,
        "iat": now,
        "iss": f"{settings.supabase_url}/auth/v1",
        "sub": user_id,
        "email": email,
        "role": "authenticated",
        "aal": "aal1",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        **extra,
    }
    if role is not None:
        claims["user_role"] = role
    headers = {"kid": legacy_secret_kid(settings.jwt_secret)} if with_kid else None
    return str(jwt.encode(claims, settings.jwt_secret, algorithm="HS256", headers=headers))


def create_user(
    db: psycopg.Connection[Any], settings: StackSettings, role: str = "member", *, password: str | None = None
) -> User:
    """Insert an auth user (the sign-up trigger adds profile and member role), set its role.

    With `password`, the user can sign in with it, whatever sign-up's current rules say.
    """
    user_id = str(uuid.uuid4())
    email = f"user-{user_id[:8]}@example.test"
    hashed = "" if password is None else bcrypt.hashpw(password.encode(), bcrypt.gensalt(4, b"2a")).decode()
    # As Supabase Auth writes a user: token columns '' (never NULL), an email identity.
    db.execute(
        "insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at,"
        " raw_app_meta_data, raw_user_meta_data, created_at, updated_at, confirmation_token,"
        " recovery_token, email_change_token_new, email_change)"
        " values (%s, 'authenticated', 'authenticated', %s, %s, now(),"
        " '{\"provider\":\"email\",\"providers\":[\"email\"]}', '{}', now(), now(), '', '', '', '')",
        (user_id, email, hashed),
    )
    db.execute(
        "insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)"
        " values (%s, %s, jsonb_build_object('sub', %s::text, 'email', %s::text), 'email', now(), now())",
        (user_id, user_id, user_id, email),
    )
    if role != "member":
        db.execute("update public.user_roles set role = %s where user_id = %s", (role, user_id))
    return User(user_id, email, role, session_token(db, settings, user_id, email=email, role=role))


def session_token(
    db: psycopg.Connection[Any], settings: StackSettings, user_id: str, *, email: str | None, role: str | None
) -> str:
    """A fresh session in auth.sessions and an access token for it, as a sign-in through Auth gives."""
    session_id = str(uuid.uuid4())
    db.execute(
        "insert into auth.sessions (id, user_id, created_at, updated_at, aal)"
        " values (%s, %s, now(), now(), 'aal1')",
        (session_id, user_id),
    )
    return mint_token(settings, user_id, email=email, role=role, session_id=session_id)


def create_vehicle(db: psycopg.Connection[Any], owner: User, **overrides: Any) -> dict[str, Any]:
    """Insert a vehicle owned by `owner` directly in the database; return the row."""
    values = {
        "vin": north_american_vin(),
        "make": "Honda",
        "model": "Accord",
        "model_year": 2020,
        "plate": None,
        "color": "silver",
        "odometer_km": 1000,
        "status": "active",
        "owner_id": owner.id,
        **overrides,
    }
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    cursor = db.execute(
        f"insert into public.vehicles ({columns}) values ({placeholders}) returning *",
        tuple(values.values()),
    )
    names = [d.name for d in cursor.description or []]
    row = cursor.fetchone()
    assert row is not None
    return _plain(dict(zip(names, row, strict=True)))


def create_record(
    db: psycopg.Connection[Any], vehicle: dict[str, Any], author: User, **overrides: Any
) -> dict[str, Any]:
    """Insert a maintenance record for `vehicle` directly in the database; return the row."""
    values = {
        "vehicle_id": vehicle["id"],
        "performed_at": "2026-01-15",
        "odometer_km": 500,
        "kind": "service",
        "description": "Oil and filter",
        "cost_cents": 8900,
        "currency": "USD",
        "created_by": author.id,
        **overrides,
    }
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    cursor = db.execute(
        f"insert into public.maintenance_records ({columns}) values ({placeholders}) returning *",
        tuple(values.values()),
    )
    names = [d.name for d in cursor.description or []]
    row = cursor.fetchone()
    assert row is not None
    return _plain(dict(zip(names, row, strict=True)))
