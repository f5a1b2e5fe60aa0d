"""POST /token (password and refresh_token grants) and POST /logout."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from devstack.auth.base import ServiceBase
from devstack.auth.errors import ApiError
from devstack.auth.protocol import Request, Response, string_field
from devstack.auth.store import USER_COLUMNS, logout_everywhere, require_scannable
from devstack.auth.users import AUDIENCE, INVALID_LOGIN, is_banned, password_matches


class TokenRoutes(ServiceBase):
    """Signing in, refreshing a session and signing out."""

    def token(self, request: Request) -> Response:
        """POST /token?grant_type=password|refresh_token."""
        grant_type = request.param("grant_type")
        if grant_type not in ("password", "refresh_token"):
            raise ApiError(400, "invalid_credentials", "unsupported_grant_type")
        self._rate_limit(request, self._token_limiter)
        if grant_type == "password":
            return self._password_grant(request)
        return self._refresh_grant(request)

    def _password_grant(self, request: Request) -> Response:
        body = request.json_object()
        email = string_field(body, "email").strip().lower()
        phone = string_field(body, "phone")
        password = string_field(body, "password")
        if email and phone:
            raise ApiError(
                400, "validation_failed", "Only an email address or phone number should be provided on login."
            )
        if phone:
            raise ApiError(422, "phone_provider_disabled", "Phone logins are disabled")
        if not email:
            raise ApiError(400, "validation_failed", "missing email or phone")
        conn = self.connection(request)
        user = conn.execute(
            f"select {USER_COLUMNS} from auth.users"
            " where lower(email) = %s and aud = %s and is_sso_user = false and deleted_at is null",
            (email, AUDIENCE),
        ).fetchone()
        require_scannable(user)
        now = datetime.now(UTC)
        if user is None or not user["encrypted_password"]:
            password_matches(password, self._dummy_hash)
            raise ApiError(400, "invalid_credentials", INVALID_LOGIN)
        if is_banned(user, now):
            raise ApiError(400, "user_banned", "User is banned")
        if not password_matches(password, user["encrypted_password"]):
            raise ApiError(400, "invalid_credentials", INVALID_LOGIN)
        if user["email_confirmed_at"] is None:
            raise ApiError(400, "email_not_confirmed", "Email not confirmed")
        with conn.transaction():
            session = self.sessions.issue(conn, request, user["id"], now)
        return Response(200, session)

    def _refresh_grant(self, request: Request) -> Response:
        body = request.json_object()
        presented = string_field(body, "refresh_token")
        if not presented:
            raise ApiError(
                400,
                "validation_failed",
                "refresh_token required",
                body={"error": "invalid_request", "error_description": "refresh_token required"},
            )
        now = datetime.now(UTC)
        conn = self.connection(request)
        reused = False
        session: dict[str, Any] = {}
        with conn.transaction():
            # The row lock serialises concurrent refreshes of the same token.
            token = conn.execute(
                "select rt.id, rt.revoked, rt.updated_at, rt.user_id, rt.session_id,"
                " s.id as live_session_id, s.created_at as session_created_at"
                " from auth.refresh_tokens rt left join auth.sessions s on s.id = rt.session_id"
                " where rt.token = %s for update of rt",
                (presented,),
            ).fetchone()
            if token is None:
                raise ApiError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            user = conn.execute(
                f"select {USER_COLUMNS} from auth.users where id::text = %s and deleted_at is null",
                (token["user_id"],),
            ).fetchone()
            if user is None:
                raise ApiError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            if is_banned(user, now):
                raise ApiError(400, "user_banned", "Invalid Refresh Token: User Banned")
            if token["live_session_id"] is None:
                # Tokens from before sessions existed: GoTrue deletes them and refuses.
                conn.execute("delete from auth.refresh_tokens where id = %s", (token["id"],))
            else:
                issued = self.sessions.rotate(conn, token, presented, user["id"], now)
                if issued is None:
                    reused = True
                else:
                    conn.execute(
                        "update auth.sessions set refreshed_at = %s, updated_at = %s, user_agent = %s,"
                        " ip = %s::inet where id = %s",
                        (
                            now.replace(tzinfo=None),
                            now,
                            request.header("User-Agent"),
                            request.client_ip,
                            token["session_id"],
                        ),
                    )
                    session = self.sessions.respond(
                        conn,
                        user=user,
                        session_id=token["session_id"],
                        session_created_at=token["session_created_at"],
                        refresh_token=issued,
                        method="token_refresh",
                    )
        if token["live_session_id"] is None:
            raise ApiError(400, "session_not_found", "Invalid Refresh Token: No Valid Session Found")
        if reused:
            raise ApiError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
        return Response(200, session)

    def logout(self, request: Request) -> Response:
        """POST /logout?scope=global|local|others: delete sessions; 204."""
        scope = request.param("scope") or "global"
        if scope not in ("global", "local", "others"):
            raise ApiError(400, "validation_failed", f'Unsupported logout scope "{scope}"')
        user, session_id = self._current_user(request)
        user_id = user["id"]
        conn = self.connection(request)
        with conn.transaction():
            if scope == "local" and session_id is not None:
                conn.execute("delete from auth.sessions where id = %s", (session_id,))
            elif scope == "others" and session_id is not None:
                conn.execute(
                    "delete from auth.sessions where user_id = %s and id <> %s", (user_id, session_id)
                )
            else:
                logout_everywhere(conn, user_id)
        return Response(204)
