"""GET and POST /verify: the emailed links and codes."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from devstack.auth.base import ServiceBase
from devstack.auth.errors import ApiError
from devstack.auth.mail import otp_token_hash
from devstack.auth.protocol import Request, Response, string_field
from devstack.auth.redirects import error_redirect, redirect, referrer
from devstack.auth.store import USER_COLUMNS, Conn, confirm_email
from devstack.auth.users import is_banned, validate_email


class VerifyRoutes(ServiceBase):
    """Turns a link or a code into a session (or the first half of an email change)."""

    def verify(self, request: Request) -> Response:
        """GET /verify (an emailed link: 303 to redirect_to with the session or the error in
        the fragment) and POST /verify (token_hash + type, or email + token + type: a session)."""
        if request.method == "GET":
            return self._verify_link(request)
        body = request.json_object()
        kind = string_field(body, "type")
        token = string_field(body, "token")
        token_hash = string_field(body, "token_hash")
        email = string_field(body, "email").strip()
        phone = string_field(body, "phone")
        if not kind:
            raise ApiError(400, "validation_failed", "Verify requires a verification type")
        if bool(token) == bool(token_hash):
            raise ApiError(400, "validation_failed", "Verify requires either a token or a token hash")
        lookup_email: str | None = None
        if token:
            if email and not phone:
                try:
                    lookup_email = validate_email(email)
                except ApiError:
                    raise ApiError(422, "validation_failed", "Invalid email format") from None
                token_hash = otp_token_hash(lookup_email, token)
            elif phone and not email:
                raise ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
            else:
                raise ApiError(
                    400,
                    "validation_failed",
                    "Only an email address or phone number should be provided on verify",
                )
        elif email or phone or string_field(body, "redirect_to"):
            raise ApiError(400, "validation_failed", "Only the token_hash and type should be provided")
        if kind in ("sms", "phone_change"):
            raise ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
        result = self._verify(request, kind, token_hash=token_hash, email=lookup_email)
        if isinstance(result, str):
            return Response(200, {"msg": result, "code": "200"})
        return Response(200, result)

    def _verify_link(self, request: Request) -> Response:
        """GET /verify: GoTrue's verifyGet for the implicit flow."""
        token = request.param("token") or ""
        kind = request.param("type") or ""
        redirect_to = referrer(self.config, request)
        if not kind:
            raise ApiError(400, "validation_failed", "Verify requires a verification type")
        if not token:
            raise ApiError(400, "validation_failed", "Verify requires a token or a token hash")
        try:
            result = self._verify(request, kind, token_hash=token, email=None)
        except ApiError as error:
            return redirect(error_redirect(redirect_to, error))
        if isinstance(result, str):
            fragment = urlencode({"message": result, "sb": ""})
            return redirect(f"{redirect_to.split('#')[0]}#{fragment}")
        params = {
            "access_token": result["access_token"],
            "expires_at": str(result["expires_at"]),
            "expires_in": str(result["expires_in"]),
            "refresh_token": result["refresh_token"],
            "sb": "",
            "token_type": result["token_type"],
            "type": kind,
        }
        return redirect(f"{redirect_to}#{urlencode(sorted(params.items()))}")

    _VERIFY_TYPES = ("signup", "invite", "recovery", "magiclink", "email_change", "email")

    def _verify(
        self, request: Request, kind: str, *, token_hash: str, email: str | None
    ) -> dict[str, Any] | str:
        """A session for a valid link or code, or the message of a half-confirmed email change.

        Raises ApiError (403 otp_expired, 403 user_banned, 400 validation_failed).
        """
        if kind not in self._VERIFY_TYPES:
            message = "Invalid email verification type" if email is None else "Unsupported verification type"
            raise ApiError(400, "validation_failed", message)
        conn = self.connection(request)
        now = datetime.now(UTC)
        invalid = (
            "Email link is invalid or has expired" if email is None else "Token has expired or is invalid"
        )
        with conn.transaction():
            user = self._user_for_token(conn, kind, token_hash, email)
            if user is None:
                raise ApiError(403, "otp_expired", invalid)
            if is_banned(user, now):
                raise ApiError(403, "user_banned", "User is banned")
            if kind == "email":
                kind = "signup" if user["confirmation_token"] == token_hash else "magiclink"
            sent_at = {
                "signup": user["confirmation_sent_at"],
                "invite": user["confirmation_sent_at"],
                "recovery": user["recovery_sent_at"],
                "magiclink": user["recovery_sent_at"],
                "email_change": user["email_change_sent_at"],
            }[kind]
            if sent_at is None or now > sent_at + timedelta(seconds=self.config.otp_expiry):
                raise ApiError(403, "otp_expired", invalid)
            user_id = user["id"]
            if kind in ("signup", "invite"):
                if kind == "invite" and not user["encrypted_password"]:
                    # GoTrue gives an invited user a random password until they set their own.
                    conn.execute(
                        "update auth.users set encrypted_password = %s where id = %s",
                        (self._hash(secrets.token_urlsafe(48)), user_id),
                    )
                confirm_email(conn, user_id, now)
            elif kind in ("recovery", "magiclink"):
                conn.execute("update auth.users set recovery_token = '' where id = %s", (user_id,))
                if user["email_confirmed_at"] is None:
                    confirm_email(conn, user_id, now)
            else:
                pending = self._confirm_email_change(conn, user, token_hash, now)
                if pending is not None:
                    return pending
            return self.sessions.issue(conn, request, user_id, now, method="otp")

    def _user_for_token(self, conn: Conn, kind: str, token_hash: str, email: str | None) -> DictRow | None:
        columns = {
            "signup": ("confirmation_token",),
            "invite": ("confirmation_token",),
            "recovery": ("recovery_token",),
            "magiclink": ("recovery_token",),
            "email": ("confirmation_token", "recovery_token"),
            "email_change": ("email_change_token_new", "email_change_token_current"),
        }[kind]
        if not token_hash:
            return None
        match = sql.SQL(" or ").join(
            sql.SQL("{} = %(hash)s").format(sql.Identifier(column)) for column in columns
        )
        query = sql.SQL("select {} from auth.users where ({}) and deleted_at is null").format(
            sql.SQL(USER_COLUMNS), match
        )
        params: dict[str, Any] = {"hash": token_hash}
        if email is not None:
            if kind == "email_change":
                query += sql.SQL(
                    " and ((lower(email_change) = %(email)s and email_change_token_new = %(hash)s)"
                    " or (lower(email) = %(email)s and email_change_token_current = %(hash)s))"
                )
            else:
                query += sql.SQL(" and lower(email) = %(email)s")
            params["email"] = email
        return conn.execute(query + sql.SQL(" limit 1 for update"), params).fetchone()

    def _confirm_email_change(
        self, conn: Conn, user: Mapping[str, Any], token_hash: str, now: datetime
    ) -> str | None:
        """Apply a confirmed email change; with secure change, the first of two links only counts."""
        user_id = user["id"]
        if (
            not self.config.mailer_autoconfirm
            and self.config.secure_email_change
            and user["email_change_confirm_status"] == 0
            and user["email"]
        ):
            column = (
                "email_change_token_current"
                if token_hash == user["email_change_token_current"]
                else "email_change_token_new"
            )
            conn.execute(
                sql.SQL(
                    "update auth.users set email_change_confirm_status = 1, {} = '' where id = %s"
                ).format(sql.Identifier(column)),
                (user_id,),
            )
            return "Confirmation link accepted. Please proceed to confirm link sent to the other email"
        new_email = user["email_change"]
        conn.execute(
            "update auth.users set email = %s, email_change = '', email_change_token_new = '',"
            " email_change_token_current = '', email_change_sent_at = null, email_change_confirm_status = 0,"
            " email_confirmed_at = coalesce(email_confirmed_at, %s), updated_at = %s where id = %s",
            (new_email, now, now, user_id),
        )
        conn.execute(
            "update auth.identities set identity_data = identity_data || %s, updated_at = %s"
            " where user_id = %s and provider = 'email'",
            (Jsonb({"email": new_email, "email_verified": True}), now, user_id),
        )
        return None
