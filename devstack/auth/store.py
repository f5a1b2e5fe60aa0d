"""SQL on the `auth` schema that several endpoints share: finding, creating and confirming users."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from devstack.auth.errors import ApiError
from devstack.auth.users import AUDIENCE, DEFAULT_ROLE, NIL_UUID, user_json

USER_COLUMNS = (
    "id, aud, role, email, encrypted_password, email_confirmed_at, invited_at, "
    "confirmation_sent_at, recovery_sent_at, last_sign_in_at, raw_app_meta_data, "
    "raw_user_meta_data, created_at, updated_at, phone, phone_confirmed_at, confirmed_at, "
    "banned_until, deleted_at, is_anonymous, confirmation_token, recovery_token, email_change, "
    "email_change_sent_at, email_change_token_new, email_change_token_current, email_change_confirm_status"
)

# Columns Supabase Auth reads into Go strings: a NULL in any of them fails every lookup of
# that user ("Database error querying schema", 500). Seeds that insert users by hand must
# write '' (as supabase/seed.sql does); the local service refuses NULL the same way.
_STRING_COLUMNS = ("confirmation_token", "recovery_token", "email_change_token_new", "email_change")


def require_scannable(user: Mapping[str, Any] | None) -> None:
    """Raise GoTrue's 500 for a user row it could not read."""
    if user is not None and any(user[column] is None for column in _STRING_COLUMNS):
        raise ApiError(500, "unexpected_failure", "Database error querying schema")


Conn = psycopg.Connection[DictRow]


def user_payload(conn: Conn, row: Mapping[str, Any]) -> dict[str, Any]:
    """The user's JSON with its identities, as every GoTrue answer carries them."""
    identities = conn.execute(
        "select id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at,"
        " updated_at, email from auth.identities where user_id = %s order by created_at, id",
        (row["id"],),
    ).fetchall()
    return user_json(row, identities)


def find_user_by_email(
    conn: Conn, email: str, *, lock: bool = False, exclude: uuid.UUID | None = None
) -> DictRow | None:
    """The live, non-SSO user with this (lower-case) address, optionally row-locked, else None."""
    query = (
        f"select {USER_COLUMNS} from auth.users where lower(email) = %s and aud = %s"
        " and is_sso_user = false and deleted_at is null and id is distinct from %s"
    )
    return conn.execute(query + (" for update" if lock else ""), (email, AUDIENCE, exclude)).fetchone()


def insert_user(
    conn: Conn,
    email: str,
    hashed: str | None,
    data: Mapping[str, Any],
    now: datetime,
    *,
    user_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert an unconfirmed email user; returns its id."""
    user_id = user_id or uuid.uuid4()
    conn.execute(
        "insert into auth.users (instance_id, id, aud, role, email, encrypted_password,"
        " confirmation_token, recovery_token, email_change_token_new, email_change, raw_app_meta_data,"
        " raw_user_meta_data, created_at, updated_at, is_anonymous)"
        " values (%s, %s, %s, %s, %s, %s, '', '', '', '', %s, %s, %s, %s, false)",
        (
            NIL_UUID,
            user_id,
            AUDIENCE,
            DEFAULT_ROLE,
            email,
            hashed or "",
            Jsonb({"provider": "email", "providers": ["email"]}),
            Jsonb(dict(data)),
            now,
            now,
        ),
    )
    return user_id


def insert_email_identity(
    conn: Conn, user_id: uuid.UUID, email: str, data: Mapping[str, Any], now: datetime
) -> None:
    """The user's `email` identity, its data shaped like GoTrue's provider.Claims."""
    identity_data: dict[str, Any] = {
        "sub": str(user_id),
        "email": email,
        "email_verified": False,
        "phone_verified": False,
    }
    for key, value in data.items():
        identity_data.setdefault(key, value)
    conn.execute(
        "insert into auth.identities"
        " (provider_id, user_id, identity_data, provider, created_at, updated_at)"
        " values (%s, %s, %s, 'email', %s, %s)",
        (str(user_id), user_id, Jsonb(identity_data), now, now),
    )


def confirm_email(conn: Conn, user_id: uuid.UUID, now: datetime) -> None:
    """Mark the user's address (and its email identity) as confirmed."""
    conn.execute(
        "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, %s),"
        " confirmation_token = '' where id = %s",
        (now, user_id),
    )
    conn.execute(
        "update auth.identities set identity_data = identity_data || '{\"email_verified\": true}'::jsonb"
        " where user_id = %s and provider = 'email' and email = (select lower(email) from auth.users"
        " where id = %s)",
        (user_id, user_id),
    )


def logout_everywhere(conn: Conn, user_id: uuid.UUID) -> None:
    """End every session of the user, and its tokens that predate sessions."""
    conn.execute("delete from auth.sessions where user_id = %s", (user_id,))
    # Tokens from before sessions existed have no session to cascade from.
    conn.execute("delete from auth.refresh_tokens where user_id = %s and session_id is null", (str(user_id),))


def find_user(conn: Conn, user_id: uuid.UUID) -> DictRow | None:
    """The user row with this id (deleted ones included), else None."""
    return conn.execute(f"select {USER_COLUMNS} from auth.users where id = %s", (user_id,)).fetchone()
