"""Sessions and refresh tokens: issuing, rotating, and the access token each answer carries."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from devstack.auth.config import AuthConfig
from devstack.auth.errors import unexpected
from devstack.auth.hook import run_hook
from devstack.auth.protocol import Request
from devstack.auth.store import Conn, find_user, user_payload
from devstack.auth.tokens import Keys
from devstack.auth.users import AUDIENCE, NIL_UUID


class Sessions:
    """Creates sessions and rotates their refresh tokens, in the caller's transaction."""

    def __init__(self, config: AuthConfig, keys: Keys) -> None:
        self.config = config
        self.keys = keys
        self._lock = threading.Lock()
        # GoTrue keeps each session's sign-in method (mfa_amr_claims) for the amr claim.
        self._session_amr: dict[uuid.UUID, str] = {}

    def issue(
        self, conn: Conn, request: Request, user_id: uuid.UUID, now: datetime, method: str = "password"
    ) -> dict[str, Any]:
        """Create a session and its first refresh token; runs inside the caller's transaction."""
        session_id = uuid.uuid4()
        conn.execute(
            "insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)"
            " values (%s, %s, %s, %s, 'aal1', %s, %s::inet)",
            (session_id, user_id, now, now, request.header("User-Agent"), request.client_ip),
        )
        refresh_token = self._new_refresh_token(conn, user_id, session_id, now, parent=None)
        conn.execute("update auth.users set last_sign_in_at = %s where id = %s", (now, user_id))
        conn.execute(
            "update auth.identities set last_sign_in_at = %s where user_id = %s and provider = 'email'",
            (now, user_id),
        )
        user = find_user(conn, user_id)
        if user is None:
            raise unexpected()
        return self.respond(
            conn,
            user=user,
            session_id=session_id,
            session_created_at=now,
            refresh_token=refresh_token,
            method=method,
        )

    @staticmethod
    def _new_refresh_token(
        conn: Conn, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime, *, parent: str | None
    ) -> str:
        token = secrets.token_urlsafe(16)
        conn.execute(
            "insert into auth.refresh_tokens"
            " (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)"
            " values (%s, %s, %s, false, %s, %s, %s, %s)",
            (NIL_UUID, token, str(user_id), now, now, parent, session_id),
        )
        return token

    def respond(
        self,
        conn: Conn,
        *,
        user: Mapping[str, Any],
        session_id: uuid.UUID,
        session_created_at: datetime,
        refresh_token: str,
        method: str,
    ) -> dict[str, Any]:
        """The session answer: a freshly signed access token (through the hook, if any) and the user."""
        issued_at = int(time.time())
        expires_at = issued_at + self.config.access_token_ttl
        amr_method = self._session_method(conn, session_id, method)
        claims: dict[str, Any] = {
            "iss": self.config.issuer,
            "sub": str(user["id"]),
            "aud": user["aud"] or AUDIENCE,
            "exp": expires_at,
            "iat": issued_at,
            "email": user["email"] or "",
            "phone": user["phone"] or "",
            "app_metadata": user["raw_app_meta_data"] or {},
            "user_metadata": user["raw_user_meta_data"] or {},
            "role": user["role"] or "",
            "aal": "aal1",
            # GoTrue keeps the sign-in method and time for the session's lifetime.
            "amr": [{"method": amr_method, "timestamp": int(session_created_at.timestamp())}],
            "session_id": str(session_id),
            "is_anonymous": bool(user["is_anonymous"]),
        }
        if self.config.hook is not None:
            claims = run_hook(conn, self.config.hook, user["id"], claims, method)
        return {
            "access_token": self.keys.sign(claims),
            "token_type": "bearer",
            "expires_in": self.config.access_token_ttl,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
            "user": user_payload(conn, user),
        }

    def _session_method(self, conn: Conn, session_id: uuid.UUID, method: str) -> str:
        with self._lock:
            if method != "token_refresh":
                self._session_amr[session_id] = method
                return method
            return self._session_amr.get(session_id, "password")

    def rotate(
        self, conn: Conn, token: Mapping[str, Any], presented: str, user_id: uuid.UUID, now: datetime
    ) -> str | None:
        """The refresh token to hand out for `presented` (row-locked), or None after revoking its family.

        As GoTrue: a live token is swapped for a child. A rotated one is still honoured when it is
        the parent of the session's active token (the client lost the answer to its refresh: the
        active token is handed back) or within the reuse interval (two tabs refreshing at once: a
        new child); any other reuse revokes every token of the session.
        """
        session_id = token["session_id"]
        if not token["revoked"]:
            conn.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = %s where id = %s",
                (now, token["id"]),
            )
            return self._new_refresh_token(conn, user_id, session_id, now, parent=presented)
        active = conn.execute(
            "select token, parent from auth.refresh_tokens where session_id = %s and not revoked"
            " order by id desc limit 1",
            (session_id,),
        ).fetchone()
        if active is not None and active["parent"] == presented:
            return str(active["token"])
        if now <= token["updated_at"] + timedelta(seconds=self.config.refresh_token_reuse_interval):
            return self._new_refresh_token(conn, user_id, session_id, now, parent=presented)
        conn.execute(
            "update auth.refresh_tokens set revoked = true, updated_at = %s"
            " where session_id = %s and not revoked",
            (now, session_id),
        )
        return None
