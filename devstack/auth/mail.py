"""Mail: the confirmation, recovery, magic-link and email-change messages, sent to the local inbox."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

from devstack.auth.config import AuthConfig
from devstack.auth.errors import ApiError, unexpected
from devstack.auth.ratelimits import HourlyBudget
from devstack.auth.store import Conn, find_user

_log = logging.getLogger("devstack.auth")


_MAIL_SUBJECTS = {
    "signup": "Confirm your email address",
    "invite": "You've been invited",
    "recovery": "Reset your password",
    "magiclink": "Your sign-in link",
    "email_change": "Confirm your new email address",
}
_MAIL_ACTIONS = {
    "signup": "Follow this link to confirm your email address",
    "invite": "You have been invited to create a user. Follow this link to accept the invite",
    "recovery": "Follow this link to reset the password for your user",
    "magiclink": "Follow this link to sign in",
    "email_change": "Follow this link to confirm the update of your email",
}


@dataclass(frozen=True)
class Mail:
    """One message: its recipient, its kind, the link and the code it carries."""

    to: str
    kind: str  # signup, invite, recovery, magiclink, email_change
    link: str
    otp: str


def post_to_inbox(inbox_url: str | None, mail: Mail) -> None:
    """Hand a message to the local inbox (Mailpit's POST /api/v1/send shape). Raises OSError."""
    subject = _MAIL_SUBJECTS[mail.kind]
    action = _MAIL_ACTIONS[mail.kind]
    text = f"{action}:\n\n{mail.link}\n\nAlternatively, enter the code: {mail.otp}\n"
    link = mail.link.replace("&", "&amp;").replace('"', "&quot;")
    html = f'<h2>{subject}</h2><p>{action}:</p><p><a href="{link}">{link}</a></p><p>Code: {mail.otp}</p>'
    if inbox_url is None:
        _log.info("mail (no inbox configured): %s to %s", mail.kind, mail.to)
        return
    payload = {
        "From": {"Email": "admin@email.com", "Name": "Supabase Auth (local)"},
        "To": [{"Email": mail.to}],
        "Subject": subject,
        "Text": text,
        "HTML": html,
        "Headers": {"X-Supabase-Auth-Email-Action": mail.kind},
    }
    request = urllib.request.Request(  # noqa: S310 (a local URL from our own configuration)
        f"{inbox_url.rstrip('/')}/api/v1/send",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as error:
        error.close()  # a refusal holds its socket; the caller only needs the OSError it is
        raise


def otp_token_hash(email: str, otp: str) -> str:
    """GoTrue's GenerateTokenHash: the hex SHA-224 of address + code."""
    return hashlib.sha224((email + otp).encode()).hexdigest()


def encode_redirect(url: str) -> str:
    """GoTrue's encodeRedirectURL: escaped only when it carries &, = or #."""
    return quote_plus(url) if any(char in url for char in "&=#") else url


def new_otp(length: int) -> str:
    """A random numeric code of `length` digits."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


class Mailer:
    """Sends the links and codes GoTrue emails and stores their hashes on the user."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._email_budget = HourlyBudget(config.rate_limits.email_sent)

    def _check_frequency(self, sent_at: datetime | None, now: datetime) -> None:
        """GoTrue's validateSentWithinFrequencyLimit ([auth.email] max_frequency)."""
        if sent_at is None:
            return
        ready = sent_at + timedelta(seconds=self.config.max_frequency)
        if ready > now:
            left = int((ready - now).total_seconds())
            raise ApiError(
                429,
                "over_email_send_rate_limit",
                f"For security purposes, you can only request this after {left} seconds.",
            )

    def _send(self, mails: Sequence[Mail]) -> None:
        # GoTrue counts mail against RATE_LIMIT_EMAIL_SENT only when confirmations are on.
        if not self.config.mailer_autoconfirm and not self._email_budget.allow():
            raise ApiError(429, "over_email_send_rate_limit", "email rate limit exceeded")
        for mail in mails:
            try:
                post_to_inbox(self.config.inbox_url, mail)
            except OSError as error:
                _log.error("could not deliver %s mail: %s", mail.kind, error)
                raise ApiError(500, "unexpected_failure", "Error sending confirmation email") from None

    def _link(self, token_hash: str, kind: str, redirect_to: str) -> str:
        """GoTrue's confirmation URL: <issuer>/verify?token=…&type=…&redirect_to=…."""
        return (
            f"{self.config.issuer.rstrip('/')}/verify?token={quote_plus(token_hash)}"
            f"&type={kind}&redirect_to={encode_redirect(redirect_to)}"
        )

    def send_confirmation(
        self, conn: Conn, user_id: uuid.UUID, kind: str, redirect_to: str, *, now: datetime
    ) -> None:
        """Send a sign-up (or invite) confirmation link and code; store its hash."""
        user = find_user(conn, user_id)
        if user is None:
            raise unexpected()
        if kind == "signup":
            self._check_frequency(user["confirmation_sent_at"], now)
        code = new_otp(self.config.otp_length)
        token_hash = otp_token_hash(user["email"], code)
        self._send([Mail(user["email"], kind, self._link(token_hash, kind, redirect_to), code)])
        conn.execute(
            "update auth.users set confirmation_token = %s, confirmation_sent_at = %s where id = %s",
            (token_hash, now, user_id),
        )

    def send_link(
        self, conn: Conn, user: Mapping[str, Any], kind: str, redirect_to: str, *, now: datetime
    ) -> None:
        """Send a recovery or magic link (both use the recovery token, as in GoTrue)."""
        self._check_frequency(user["recovery_sent_at"], now)
        code = new_otp(self.config.otp_length)
        token_hash = otp_token_hash(user["email"], code)
        self._send([Mail(user["email"], kind, self._link(token_hash, kind, redirect_to), code)])
        conn.execute(
            "update auth.users set recovery_token = %s, recovery_sent_at = %s where id = %s",
            (token_hash, now, user["id"]),
        )

    def send_email_change(
        self, conn: Conn, user_id: uuid.UUID, new_email: str, redirect_to: str, *, now: datetime
    ) -> None:
        """Send the email-change link to the new address (and, with secure change, to the current one)."""
        user = find_user(conn, user_id)
        if user is None:
            raise unexpected()
        self._check_frequency(user["email_change_sent_at"], now)
        code_new = new_otp(self.config.otp_length)
        hash_new = otp_token_hash(new_email, code_new)
        mails = [Mail(new_email, "email_change", self._link(hash_new, "email_change", redirect_to), code_new)]
        hash_current = ""
        if self.config.secure_email_change and user["email"]:
            code_current = new_otp(self.config.otp_length)
            hash_current = otp_token_hash(user["email"], code_current)
            link = self._link(hash_current, "email_change", redirect_to)
            mails.append(Mail(user["email"], "email_change", link, code_current))
        self._send(mails)
        conn.execute(
            "update auth.users set email_change = %s, email_change_token_new = %s,"
            " email_change_token_current = %s, email_change_sent_at = %s, email_change_confirm_status = 0"
            " where id = %s",
            (new_email, hash_new, hash_current, now, user_id),
        )
