"""GoTrue's rate limiters and the client address they are keyed by."""

from __future__ import annotations

import threading
import time
from ipaddress import ip_address

from devstack.auth.errors import ApiError
from devstack.auth.protocol import Request
from devstack.auth.tokens import Keys
from devstack.auth.users import ADMIN_ROLES


class TokenBuckets:
    """GoTrue's tollbooth limiters: per key, `rate` requests per 5 minutes, a burst of 30, 1 h memory."""

    BURST = 30
    TTL = 3600.0

    def __init__(self, per_five_minutes: int) -> None:
        self._per_second = per_five_minutes / 300.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token for `key`; False when its bucket is empty."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.BURST), now))
            tokens = min(float(self.BURST), tokens + (now - last) * self._per_second)
            if len(self._buckets) > 10_000:
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self.TTL}
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True


class HourlyBudget:
    """GoTrue's interval limiter for sent mail: `limit` events per hour, project-wide."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._window_start = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Count one event; False once this hour's budget is spent."""
        if self._limit is None:
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= 3600.0:
                self._window_start, self._count = now, 0
            if self._count >= self._limit:
                return False
            self._count += 1
            return True


def rate_limit_key(request: Request, keys: Keys) -> str | None:
    """The address a request is rate-limited by, else None (not limited)."""
    sbff = (request.header("Sb-Forwarded-For") or "").split(",")[0].strip()
    if sbff and _carries_secret_key(request, keys):
        try:
            return str(ip_address(sbff))
        except ValueError:
            pass  # GoTrue logs an invalid value and falls back to the header below
    # GOTRUE_RATE_LIMIT_HEADER=X-Forwarded-For: without it GoTrue does not limit at all.
    forwarded = (request.header("X-Forwarded-For") or "").split(",")[0].strip()
    return forwarded or None


def _carries_secret_key(request: Request, keys: Keys) -> bool:
    # Supabase's gateway passes Sb-Forwarded-For on only with a secret (service_role) key.
    apikey = request.header("apikey") or ""
    if apikey.startswith("sb_secret_"):
        return True
    try:
        return bool(apikey) and keys.verify(apikey).get("role") in ADMIN_ROLES
    except ApiError:
        return False
