"""POST /signup and POST /invite: new email accounts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg

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
    user_payload,
)
from devstack.auth.users import AUDIENCE, timestamp, validate_email


class SignupRoutes(ServiceBase):
    """Sign-ups (confirmed at once or by email) and service-role invites."""

    def signup(self, request: Request) -> Response:
        """POST /signup: a session (autoconfirm), or the user and a confirmation email."""
        email, password, data = self._signup_params(request)
        hashed = self._hash(password)
        now = datetime.now(UTC)
        conn = self.connection(request)
        redirect_to = referrer(self.config, request)
        try:
            with conn.transaction():
                user = find_user_by_email(conn, email, lock=True)
                if user is None:
                    user_id = insert_user(conn, email, hashed, data, now)
                    insert_email_identity(conn, user_id, email, data, now)
                elif user["email_confirmed_at"] is None:
                    # GoTrue never changes an unconfirmed account on a repeated sign-up:
                    # the claimant's identity is not proven yet.
                    user_id = user["id"]
                elif self.config.mailer_autoconfirm:
                    raise ApiError(422, "user_already_exists", "User already registered")
                else:
                    return Response(200, self._obfuscated_user(email, data, now))
                if self.config.mailer_autoconfirm:
                    confirm_email(conn, user_id, now)
                    return Response(200, self.sessions.issue(conn, request, user_id, now))
                self.mailer.send_confirmation(conn, user_id, "signup", redirect_to, now=now)
                found = find_user(conn, user_id)
                if found is None:
                    raise unexpected()
                return Response(200, user_payload(conn, found))
        except psycopg.errors.UniqueViolation:
            # A concurrent sign-up with the same address won the race.
            raise ApiError(422, "user_already_exists", "User already registered") from None

    def _signup_params(self, request: Request) -> tuple[str, str, dict[str, Any]]:
        """The validated email, password and data of a sign-up, in GoTrue's order of checks."""
        body = request.json_object()
        email = string_field(body, "email").strip()
        phone = string_field(body, "phone")
        password = string_field(body, "password")
        data = object_field(body, "data") or {}
        if not email and not phone:
            raise ApiError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled")
        self._rate_limit(request, self._signup_limiter)
        if not self.config.enable_signup:
            raise ApiError(422, "signup_disabled", "Signups not allowed for this instance")
        if not password:
            raise ApiError(400, "validation_failed", "Signup requires a valid password")
        self._check_password(password)
        if email and phone:
            raise ApiError(
                400,
                "validation_failed",
                "Only an email address or phone number should be provided on signup.",
            )
        if phone:
            raise ApiError(400, "phone_provider_disabled", "Phone signups are disabled")
        return validate_email(email), password, data

    @staticmethod
    def _obfuscated_user(email: str, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """GoTrue's sanitizeUser: what a repeated sign-up of a confirmed address gets (no enumeration)."""
        stamp = timestamp(now)
        return {
            "id": str(uuid.uuid4()),
            "aud": AUDIENCE,
            "role": "",
            "email": email,
            "phone": "",
            "confirmation_sent_at": stamp,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": dict(data),
            "identities": [],
            "created_at": stamp,
            "updated_at": stamp,
            "is_anonymous": False,
        }

    def invite(self, request: Request) -> Response:
        """POST /invite (service role): create the user if needed and email an invite link."""
        self._require_admin(request)
        body = request.json_object()
        email = validate_email(string_field(body, "email").strip())
        data = object_field(body, "data") or {}
        conn = self.connection(request)
        now = datetime.now(UTC)
        with conn.transaction():
            user = find_user_by_email(conn, email, lock=True)
            if user is not None and user["email_confirmed_at"] is not None:
                raise ApiError(
                    422, "email_exists", "A user with this email address has already been registered"
                )
            if user is None:
                user_id = insert_user(conn, email, None, data, now)
                insert_email_identity(conn, user_id, email, data, now)
            else:
                user_id = user["id"]
            conn.execute(
                "update auth.users set invited_at = coalesce(invited_at, %s) where id = %s", (now, user_id)
            )
            self.mailer.send_confirmation(conn, user_id, "invite", referrer(self.config, request), now=now)
            found = find_user(conn, user_id)
            if found is None:
                raise unexpected()
            payload = user_payload(conn, found)
        return Response(200, payload)
