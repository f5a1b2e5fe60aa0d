"""POST /recover, /otp, /magiclink and /resend: the endpoints that email a link and a code."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from devstack.auth.base import ServiceBase
from devstack.auth.errors import ApiError, unexpected
from devstack.auth.protocol import Request, Response, object_field, string_field
from devstack.auth.redirects import referrer
from devstack.auth.store import (
    confirm_email,
    find_user,
    find_user_by_email,
    insert_email_identity,
    insert_user,
)
from devstack.auth.users import validate_email


class LinkRoutes(ServiceBase):
    """Recovery, magic links (sign-in or sign-up) and resent confirmation links."""

    def recover(self, request: Request) -> Response:
        """POST /recover: email a recovery link if the address has an account; always `{}`."""
        body = request.json_object()
        raw = string_field(body, "email").strip()
        if not raw:
            raise ApiError(400, "validation_failed", "Password recovery requires an email")
        email = validate_email(raw)
        conn = self.connection(request)
        now = datetime.now(UTC)
        with conn.transaction():
            user = find_user_by_email(conn, email, lock=True)
            if user is not None:
                self.mailer.send_link(conn, user, "recovery", referrer(self.config, request), now=now)
        return Response(200, {})

    def otp(self, request: Request) -> Response:
        """POST /otp: an email magic link (or, for a new address, a sign-up); `{}`."""
        body = request.json_object()
        email = string_field(body, "email").strip()
        phone = string_field(body, "phone")
        if email and phone:
            raise ApiError(
                400, "validation_failed", "Only an email address or phone number should be provided"
            )
        if email and string_field(body, "channel"):
            raise ApiError(400, "validation_failed", "Channel should only be specified with Phone OTP")
        if phone:
            raise ApiError(400, "phone_provider_disabled", "Unsupported phone provider")
        if not email:
            raise ApiError(400, "validation_failed", "One of email or phone must be set")
        create_user = body.get("create_user", True) is not False
        if not create_user:
            email = validate_email(email)
            if find_user_by_email(self.connection(request), email) is None:
                raise ApiError(422, "otp_disabled", "Signups not allowed for otp")
        return self._magic_link(request, email, object_field(body, "data") or {})

    def magiclink(self, request: Request) -> Response:
        """POST /magiclink (deprecated by /otp, still served by GoTrue)."""
        body = request.json_object()
        email = string_field(body, "email").strip()
        if not email:
            raise ApiError(422, "validation_failed", "Password recovery requires an email")
        return self._magic_link(request, email, object_field(body, "data") or {})

    def _magic_link(self, request: Request, raw_email: str, data: dict[str, Any]) -> Response:
        email = validate_email(raw_email)
        conn = self.connection(request)
        now = datetime.now(UTC)
        redirect_to = referrer(self.config, request)
        with conn.transaction():
            user = find_user_by_email(conn, email, lock=True)
            if user is None or user["email_confirmed_at"] is None:
                if not self.config.enable_signup:
                    raise ApiError(422, "signup_disabled", "Signups not allowed for this instance")
                if user is None:
                    # As GoTrue: a sign-up with a random password the user never learns.
                    user_id = insert_user(conn, email, self._hash(secrets.token_urlsafe(33)), data, now)
                    insert_email_identity(conn, user_id, email, data, now)
                else:
                    user_id = user["id"]
                if not self.config.mailer_autoconfirm:
                    self.mailer.send_confirmation(conn, user_id, "signup", redirect_to, now=now)
                    return Response(200, {})
                confirm_email(conn, user_id, now)
                user = find_user(conn, user_id)
                if user is None:
                    raise unexpected()
            self.mailer.send_link(conn, user, "magiclink", redirect_to, now=now)
        return Response(200, {})

    def resend(self, request: Request) -> Response:
        """POST /resend (type signup or email_change): send the pending link again; `{}`."""
        body = request.json_object()
        kind = string_field(body, "type")
        email = string_field(body, "email").strip()
        phone = string_field(body, "phone")
        if kind not in ("signup", "email_change", "sms", "phone_change"):
            raise ApiError(
                400,
                "validation_failed",
                "Missing one of these types: signup, email_change, sms, phone_change",
            )
        if not email and kind == "signup":
            raise ApiError(400, "validation_failed", "Type provided requires an email address")
        if not phone and kind == "sms":
            raise ApiError(400, "validation_failed", "Type provided requires a phone number")
        if email and phone:
            raise ApiError(
                400, "validation_failed", "Only an email address or phone number should be provided."
            )
        if phone:
            raise ApiError(400, "phone_provider_disabled", "Phone logins are disabled")
        if not email:
            raise ApiError(400, "validation_failed", "Missing email address or phone number")
        email = validate_email(email)
        if kind in ("sms", "phone_change"):
            return Response(200, {})
        conn = self.connection(request)
        now = datetime.now(UTC)
        redirect_to = referrer(self.config, request)
        with conn.transaction():
            user = find_user_by_email(conn, email, lock=True)
            if user is None:
                return Response(200, {})
            if kind == "signup" and user["email_confirmed_at"] is None:
                self.mailer.send_confirmation(conn, user["id"], "signup", redirect_to, now=now)
            elif kind == "email_change" and user["email_change"]:
                self.mailer.send_email_change(conn, user["id"], user["email_change"], redirect_to, now=now)
        return Response(200, {})
