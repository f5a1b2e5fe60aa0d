"""What every endpoint shares: settings, keys, per-thread connections, caller identity, limits."""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import bcrypt
import psycopg
from psycopg.rows import DictRow, dict_row

from devstack.auth.config import AuthConfig
from devstack.auth.errors import ApiError, weak_password
from devstack.auth.mail import Mailer
from devstack.auth.protocol import Request
from devstack.auth.ratelimits import TokenBuckets, rate_limit_key
from devstack.auth.sessions import Sessions
from devstack.auth.store import Conn, find_user
from devstack.auth.tokens import Keys
from devstack.auth.users import ADMIN_ROLES, BCRYPT_MAX_BYTES, NIL_UUID

_BEARER = re.compile(r"^[Bb]earer (\S+)$")


class ServiceBase:
    """The state and request helpers the endpoint groups (devstack.auth.routes) build on."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self.keys = Keys(config)
        self._local = threading.local()
        self._connections: set[Conn] = set()
        self._lock = threading.Lock()
        # Unknown e-mails are checked against this so they cost as much as real ones.
        self._dummy_hash = bcrypt.hashpw(
            secrets.token_urlsafe(16).encode(), bcrypt.gensalt(config.bcrypt_rounds, prefix=b"2a")
        ).decode()
        self.sessions = Sessions(config, self.keys)
        self.mailer = Mailer(config)
        limits = config.rate_limits
        otp = limits.sign_in_sign_ups
        # One bucket set per GoTrue limiter: each endpoint counts on its own.
        self._limiters: dict[tuple[str, str], TokenBuckets] = {
            ("/recover", "POST"): TokenBuckets(otp),
            ("/resend", "POST"): TokenBuckets(otp),
            ("/magiclink", "POST"): TokenBuckets(otp),
            ("/otp", "POST"): TokenBuckets(otp),
            ("/user", "PUT"): TokenBuckets(otp),
            ("/verify", "GET"): TokenBuckets(limits.token_verifications),
        }
        self._limiters[("/verify", "POST")] = self._limiters[("/verify", "GET")]
        self._signup_limiter = TokenBuckets(otp)
        self._token_limiter = TokenBuckets(limits.token_refresh)

    # -- connections -------------------------------------------------------

    def connection(self, request: Request) -> Conn:
        """This thread's connection, checked once per request and reopened if broken."""
        if request.conn is not None:
            return request.conn
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                if conn.closed or conn.broken:
                    raise psycopg.OperationalError("connection lost")
                conn.execute("select 1")
            except psycopg.OperationalError:
                self.release_thread_connection()
                conn = None
        if conn is None:
            conn = psycopg.connect(
                self.config.dsn,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=10,
                application_name="devstack_auth",
            )
            self._local.conn = conn
            with self._lock:
                self._connections.add(conn)
        request.conn = conn
        return conn

    def release_thread_connection(self) -> None:
        """Close the calling thread's connection, if it has one."""
        conn: Conn | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def close_all(self) -> None:
        """Close every connection still open (server shutdown)."""
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            conn.close()

    def _current_user(self, request: Request) -> tuple[DictRow, uuid.UUID | None]:
        """GoTrue's requireAuthentication: the token's user and live session. Raises ApiError."""
        claims = self._authenticate(request)
        user_id = self._subject(claims)
        conn = self.connection(request)
        user = find_user(conn, user_id)
        if user is None:
            raise ApiError(403, "user_not_found", "User from sub claim in JWT does not exist")
        session_id = self._session_claim(claims)
        if session_id is not None:
            found = conn.execute("select 1 from auth.sessions where id = %s", (session_id,)).fetchone()
            if found is None:
                raise ApiError(
                    403, "session_not_found", "Session from session_id claim in JWT does not exist"
                )
        return user, session_id

    def _rate_limit(self, request: Request, limiter: TokenBuckets) -> None:
        """GoTrue's performRateLimiting: keyed by Sb-Forwarded-For (secret-key callers) or X-Forwarded-For."""
        key = rate_limit_key(request, self.keys)
        if key is not None and not limiter.allow(key):
            raise ApiError(429, "over_request_rate_limit", "Request rate limit reached")

    def _check_password(self, password: str) -> None:
        # GoTrue measures length in bytes (Go's len of a string).
        size = len(password.encode())
        if size < self.config.password_min_length:
            raise weak_password(self.config.password_min_length)
        if size > BCRYPT_MAX_BYTES:
            raise ApiError(
                422, "validation_failed", f"Password cannot be longer than {BCRYPT_MAX_BYTES} characters"
            )

    def _hash(self, password: str) -> str:
        # $2a$ like Go's bcrypt, so hashes stay interchangeable with real GoTrue.
        salt = bcrypt.gensalt(self.config.bcrypt_rounds, prefix=b"2a")
        return bcrypt.hashpw(password.encode(), salt).decode()

    def _authenticate(self, request: Request) -> dict[str, Any]:
        match = _BEARER.match(request.header("Authorization") or "")
        if match is None:
            raise ApiError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        return self.keys.verify(match[1])

    def _require_admin(self, request: Request) -> dict[str, Any]:
        claims = self._authenticate(request)
        if claims.get("role") not in ADMIN_ROLES:
            raise ApiError(403, "not_admin", "User not allowed")
        return claims

    @staticmethod
    def _subject(claims: Mapping[str, Any]) -> uuid.UUID:
        subject = claims.get("sub")
        if not subject:
            raise ApiError(403, "bad_jwt", "invalid claim: missing sub claim")
        try:
            return uuid.UUID(str(subject))
        except ValueError:
            raise ApiError(400, "bad_jwt", "invalid claim: sub claim must be a UUID") from None

    @staticmethod
    def _session_claim(claims: Mapping[str, Any]) -> uuid.UUID | None:
        raw = claims.get("session_id")
        if not raw:
            return None
        try:
            session_id = uuid.UUID(str(raw))
        except ValueError:
            raise ApiError(403, "bad_jwt", "invalid claim: session_id claim must be a UUID") from None
        return None if session_id == NIL_UUID else session_id
