"""The service-role admin endpoints: /admin/users and /admin/users/{id}."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from devstack.auth.base import ServiceBase
from devstack.auth.config import parse_go_duration
from devstack.auth.errors import ApiError, bad_json, unexpected
from devstack.auth.protocol import Request, Response, object_field, string_field
from devstack.auth.store import (
    USER_COLUMNS,
    Conn,
    find_user,
    find_user_by_email,
    insert_email_identity,
    insert_user,
    logout_everywhere,
    user_payload,
)
from devstack.auth.users import AUDIENCE, BCRYPT_MAX_BYTES, NIL_UUID, merge_metadata, validate_email


@dataclass
class _AdminUpdate:
    """The validated body of PUT /admin/users/{id}."""

    email: str | None = None
    role: str | None = None
    app_metadata: dict[str, Any] | None = None
    user_metadata: dict[str, Any] | None = None
    email_confirm: bool = False
    password_hash: str | None = None
    ban: bool = False
    banned_until: datetime | None = None


class AdminRoutes(ServiceBase):
    """Listing, reading, creating, updating and deleting users with a service-role token."""

    def admin_list_users(self, request: Request) -> Response:
        """GET /admin/users?page=&per_page=: newest first, with X-Total-Count and Link headers."""
        self._require_admin(request)
        page = self._uint_param(request, "page", 1)
        per_page = self._uint_param(request, "per_page", 50)
        if per_page == 0:
            raise ApiError(
                400, "validation_failed", "Bad Pagination Parameters: per_page must be greater than 0"
            )
        conn = self.connection(request)
        count_row = conn.execute(
            "select count(*) as total from auth.users where aud = %s", (AUDIENCE,)
        ).fetchone()
        total = int(count_row["total"]) if count_row else 0
        rows = conn.execute(
            f"select {USER_COLUMNS} from auth.users where aud = %s"
            " order by created_at desc, id limit %s offset %s",
            (AUDIENCE, per_page, (max(page, 1) - 1) * per_page),
        ).fetchall()
        headers = [("Link", self._link_header(request, page, per_page, total)), ("X-Total-Count", str(total))]
        users = [user_payload(conn, row) for row in rows]
        return Response(200, {"users": users, "aud": AUDIENCE}, headers)

    def admin_get_user(self, request: Request, raw_id: str) -> Response:
        """GET /admin/users/{id}."""
        self._require_admin(request)
        user = self._load_admin_target(request, raw_id)
        return Response(200, user_payload(self.connection(request), user))

    def admin_create_user(self, request: Request) -> Response:
        """POST /admin/users: create a user (no email is sent); email_confirm confirms it."""
        self._require_admin(request)
        body = request.json_object()
        email, hashed, user_id = self._parse_admin_create(body)
        conn = self.connection(request)
        if find_user_by_email(conn, email) is not None:
            raise ApiError(422, "email_exists", "A user with this email address has already been registered")
        now = datetime.now(UTC)
        update = self._parse_admin_update(
            {
                key: body[key]
                for key in ("role", "app_metadata", "ban_duration", "email_confirm")
                if key in body
            },
            now,
        )
        try:
            with conn.transaction():
                insert_user(
                    conn, email, hashed, object_field(body, "user_metadata") or {}, now, user_id=user_id
                )
                insert_email_identity(conn, user_id, email, {}, now)
                created = find_user(conn, user_id)
                if created is None:
                    raise unexpected()
                self._apply_admin_update(conn, created, update, now)
                found = find_user(conn, user_id)
                if found is None:
                    raise unexpected()
                payload = user_payload(conn, found)
        except psycopg.errors.UniqueViolation:
            raise ApiError(500, "unexpected_failure", "Database error creating new user") from None
        return Response(200, payload)

    def _parse_admin_create(self, body: Mapping[str, Any]) -> tuple[str, str, uuid.UUID]:
        """The email, password hash and id of POST /admin/users (GoTrue checks no password strength here)."""
        email = string_field(body, "email").strip()
        if string_field(body, "phone"):
            raise ApiError(422, "validation_failed", "phone is not supported by the local auth service")
        if not email:
            raise ApiError(400, "validation_failed", "Cannot create a user without either an email or phone")
        email = validate_email(email)
        password = body.get("password")
        password_hash = string_field(body, "password_hash")
        if password is not None and not isinstance(password, str):
            raise bad_json("password must be a string")
        if password is not None and password_hash:
            raise ApiError(400, "validation_failed", "Only a password or a password hash should be provided")
        if password_hash:
            if not password_hash.startswith(("$2a$", "$2b$", "$2y$")):
                raise ApiError(400, "validation_failed", "Invalid password hash format")
            hashed = password_hash
        else:
            if password is not None and len(password.encode()) > BCRYPT_MAX_BYTES:
                raise ApiError(400, "validation_failed", "bcrypt: password length exceeds 72 bytes")
            hashed = self._hash(password or secrets.token_urlsafe(48))
        raw_id = string_field(body, "id")
        if not raw_id:
            return email, hashed, uuid.uuid4()
        try:
            user_id = uuid.UUID(raw_id)
        except ValueError:
            raise ApiError(400, "validation_failed", "ID must conform to the uuid v4 format") from None
        if user_id == NIL_UUID:
            raise ApiError(400, "validation_failed", "ID cannot be a nil uuid")
        return email, hashed, user_id

    def admin_delete_user(self, request: Request, raw_id: str) -> Response:
        """DELETE /admin/users/{id} (body `should_soft_delete`): `{}`."""
        self._require_admin(request)
        user = self._load_admin_target(request, raw_id)
        body = request.json_object() if request.body.strip() else {}
        soft = body.get("should_soft_delete") is True
        conn = self.connection(request)
        with conn.transaction():
            if not soft:
                conn.execute("delete from auth.users where id = %s", (user["id"],))
            elif user["deleted_at"] is None:
                # GoTrue's SoftDeleteUser: the row stays, anonymised, and can no longer sign in.
                suffix = hashlib.sha256(str(user["id"]).encode()).hexdigest()[:16]
                conn.execute(
                    "update auth.users set deleted_at = now(), email = null, phone = null,"
                    " encrypted_password = '', raw_user_meta_data = '{}'::jsonb,"
                    " raw_app_meta_data = '{}'::jsonb, confirmation_token = '', recovery_token = '',"
                    " email_change = '', email_change_token_new = '', email_change_token_current = ''"
                    " where id = %s",
                    (user["id"],),
                )
                conn.execute(
                    "update auth.identities set provider_id = provider_id || ':' || %s,"
                    " identity_data = '{}'::jsonb where user_id = %s",
                    (suffix, user["id"]),
                )
                logout_everywhere(conn, user["id"])
        return Response(200, {})

    def admin_update_user(self, request: Request, raw_id: str) -> Response:
        """PUT /admin/users/{id}: metadata merge, ban, password, e-mail, role."""
        self._require_admin(request)
        user = self._load_admin_target(request, raw_id)
        now = datetime.now(UTC)
        update = self._parse_admin_update(request.json_object(), now)
        conn = self.connection(request)
        with conn.transaction():
            self._apply_admin_update(conn, user, update, now)
            updated = find_user(conn, user["id"])
            if updated is None:
                raise ApiError(404, "user_not_found", "User not found")
            payload = user_payload(conn, updated)
        return Response(200, payload)

    def _parse_admin_update(self, body: Mapping[str, Any], now: datetime) -> _AdminUpdate:
        for unsupported in ("phone", "phone_confirm"):
            if body.get(unsupported):
                raise ApiError(
                    422, "validation_failed", f"{unsupported} is not supported by the local auth service"
                )
        email = string_field(body, "email").strip()
        ban_duration = string_field(body, "ban_duration")
        password = body.get("password")
        if password is not None and not isinstance(password, str):
            raise bad_json("password must be a string")
        update = _AdminUpdate(
            email=validate_email(email) if email else None,
            role=string_field(body, "role") or None,
            app_metadata=object_field(body, "app_metadata"),
            user_metadata=object_field(body, "user_metadata"),
            email_confirm=body.get("email_confirm") is True,
        )
        if ban_duration:
            try:
                duration = timedelta(0) if ban_duration == "none" else parse_go_duration(ban_duration)
            except ValueError as error:
                raise ApiError(
                    400, "validation_failed", f"invalid format for ban duration: {error}"
                ) from None
            update.ban = True
            update.banned_until = None if duration == timedelta(0) else now + duration
        if password is not None:
            self._check_password(password)
            update.password_hash = self._hash(password)
        return update

    @staticmethod
    def _apply_admin_update(conn: Conn, user: Mapping[str, Any], update: _AdminUpdate, now: datetime) -> None:
        user_id = user["id"]
        if update.role:
            conn.execute("update auth.users set role = %s where id = %s", (update.role, user_id))
        if update.email_confirm:
            conn.execute(
                "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, %s) where id = %s",
                (now, user_id),
            )
        if update.password_hash is not None:
            conn.execute(
                "update auth.users set encrypted_password = %s where id = %s", (update.password_hash, user_id)
            )
            # GoTrue's UpdatePassword: a new password signs the user out everywhere.
            conn.execute("delete from auth.sessions where user_id = %s", (user_id,))
        if update.email and update.email != (user["email"] or "").lower():
            taken = conn.execute(
                "select 1 from auth.users where lower(email) = %s and id <> %s and is_sso_user = false",
                (update.email, user_id),
            ).fetchone()
            if taken is not None:
                raise ApiError(
                    422, "email_exists", "A user with this email address has already been registered"
                )
            conn.execute("update auth.users set email = %s where id = %s", (update.email, user_id))
            conn.execute(
                "update auth.identities set identity_data = identity_data || %s, updated_at = %s"
                " where user_id = %s and provider = 'email'",
                (Jsonb({"email": update.email}), now, user_id),
            )
        if update.app_metadata is not None:
            merged = merge_metadata(user["raw_app_meta_data"], update.app_metadata)
            conn.execute(
                "update auth.users set raw_app_meta_data = %s where id = %s", (Jsonb(merged), user_id)
            )
        if update.user_metadata is not None:
            merged = merge_metadata(user["raw_user_meta_data"], update.user_metadata)
            conn.execute(
                "update auth.users set raw_user_meta_data = %s where id = %s", (Jsonb(merged), user_id)
            )
        if update.ban:
            conn.execute(
                "update auth.users set banned_until = %s where id = %s", (update.banned_until, user_id)
            )
        conn.execute("update auth.users set updated_at = %s where id = %s", (now, user_id))

    def _load_admin_target(self, request: Request, raw_id: str) -> DictRow:
        try:
            user_id = uuid.UUID(raw_id)
        except ValueError:
            raise ApiError(404, "validation_failed", "user_id must be an UUID") from None
        user = find_user(self.connection(request), user_id)
        if user is None:
            raise ApiError(404, "user_not_found", "User not found")
        return user

    @staticmethod
    def _uint_param(request: Request, name: str, default: int) -> int:
        raw = request.param(name)
        if raw is None or raw == "":
            return default
        if not raw.isascii() or not raw.isdigit():
            raise ApiError(
                400,
                "validation_failed",
                f'Bad Pagination Parameters: strconv.ParseUint: parsing "{raw}": invalid syntax',
            )
        return int(raw)

    @staticmethod
    def _link_header(request: Request, page: int, per_page: int, total: int) -> str:
        """GoTrue's addPaginationHeaders: a `next` link while pages remain, always a `last` link."""
        total_pages = -(-total // per_page)
        query = dict(request.query)

        def link(target: int, rel: str) -> str:
            query["page"] = [str(target)]
            # Go's url.Values.Encode sorts by key.
            encoded = urlencode(sorted(query.items()), doseq=True)
            return f'<{request.path}?{encoded}>; rel="{rel}"'

        parts = [link(page + 1, "next")] if total_pages > page else []
        parts.append(link(total_pages, "last"))
        return ", ".join(parts)
