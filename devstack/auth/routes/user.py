"""GET and PUT /user: the signed-in user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from psycopg.types.json import Jsonb

from devstack.auth.base import ServiceBase
from devstack.auth.errors import ApiError, bad_json, unexpected
from devstack.auth.protocol import Request, Response, object_field, string_field
from devstack.auth.redirects import referrer
from devstack.auth.store import Conn, find_user, find_user_by_email, logout_everywhere, user_payload
from devstack.auth.users import ADMIN_ROLES, merge_metadata, password_matches, validate_email


class UserRoutes(ServiceBase):
    """The bearer token's user: reading it and changing its password, email or data."""

    def get_user(self, request: Request) -> Response:
        """GET /user: the user the bearer token belongs to."""
        user, _ = self._current_user(request)
        return Response(200, user_payload(self.connection(request), user))

    def update_user(self, request: Request) -> Response:
        """PUT /user: password, email (by confirmation link), data; the user as it is now."""
        body = request.json_object()
        user, session_id = self._current_user(request)
        email = string_field(body, "email").strip()
        if email:
            email = validate_email(email)
        password = body.get("password")
        if password is not None and not isinstance(password, str):
            raise bad_json("password must be a string")
        if password is not None:
            self._check_password(password)
        data = object_field(body, "data")
        if object_field(body, "app_metadata") is not None and user["role"] not in ADMIN_ROLES:
            raise ApiError(403, "not_admin", "Updating app_metadata requires admin privileges")
        if string_field(body, "phone"):
            raise ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
        conn = self.connection(request)
        user_id = user["id"]
        changing_email = bool(email) and email != (user["email"] or "").lower()
        if changing_email and find_user_by_email(conn, email, exclude=user_id) is not None:
            raise ApiError(422, "email_exists", "A user with this email address has already been registered")
        hashed: str | None = None
        if password:
            if password_matches(password, user["encrypted_password"]):
                raise ApiError(
                    422, "same_password", "New password should be different from the old password."
                )
            hashed = self._hash(password)
        now = datetime.now(UTC)
        with conn.transaction():
            if hashed is not None:
                self._store_password(conn, user_id, hashed, keep_session=session_id)
            if data is not None:
                merged = merge_metadata(user["raw_user_meta_data"], data)
                conn.execute(
                    "update auth.users set raw_user_meta_data = %s where id = %s", (Jsonb(merged), user_id)
                )
            if changing_email:
                self.mailer.send_email_change(conn, user_id, email, referrer(self.config, request), now=now)
            conn.execute("update auth.users set updated_at = %s where id = %s", (now, user_id))
            updated = find_user(conn, user_id)
            if updated is None:
                raise unexpected()
            payload = user_payload(conn, updated)
        return Response(200, payload)

    def _store_password(
        self, conn: Conn, user_id: uuid.UUID, hashed: str, *, keep_session: uuid.UUID | None
    ) -> None:
        """GoTrue's UpdatePassword: outstanding links die and every other session ends."""
        conn.execute(
            "update auth.users set encrypted_password = %s, confirmation_token = '',"
            " confirmation_sent_at = null,"
            " recovery_token = '', recovery_sent_at = null, email_change_token_current = '',"
            " email_change_token_new = '', email_change_sent_at = null where id = %s",
            (hashed, user_id),
        )
        if keep_session is None:
            logout_everywhere(conn, user_id)
        else:
            conn.execute("delete from auth.sessions where user_id = %s and id <> %s", (user_id, keep_session))
