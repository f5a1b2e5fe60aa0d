"""Rate limits shared by every instance (docs/api.md §6.1).

Counters live in Postgres (public.rate_limit_take): one atomic call per check.
Reads reserve a batch from the shared counter and spend it locally, so most
reads cost no database round trip, and the batches can never make the instances
together admit more than the limit. An instance's first reservation for a key is
small and each refill doubles it (up to the policy's batch), so the units an idle
instance strands are bounded by what it recently spent: on Vercel every function
is its own set of instances, and a user touching twenty of them must not find
their quota gone to reservations.

Writes are counted by the database itself: PostgREST's db-pre-request takes the
unit from the same per-user counter in the write's own transaction, for API
writes and direct /rest/v1 writes with the user's token alike (one budget, and no
extra round trip for the API). The API counts here only the writes that never
get that far or that the database rolls back (counted_in_database).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lib.config import LOGIN_IP, RateLimit, RatePolicy, Settings
from lib.http.log import log_event
from lib.http.problems import ApiError, GatewayTimeout, RateLimited, ServiceUnavailable
from lib.http.request import Request


@dataclass(frozen=True)
class Grant:
    """What the shared counter granted."""

    granted: int
    remaining: int
    reset: int


Take = Callable[[str, RateLimit, int], Grant]


def take_from_database(key: str, limit: RateLimit, cost: int) -> Grant:
    """Take up to `cost` units for `key` from Postgres. Raises on any upstream failure."""
    from lib.supabase.clients import admin_client
    from lib.supabase.upstream import expect_object, upstream_call

    # The secret key: the counter must see every caller (anonymous ones too), and
    # only the service role may touch it, so no caller can spend another's quota.
    arguments: dict[str, Any] = {
        "p_key": key,
        "p_limit": limit.limit,
        "p_window_seconds": limit.window,
        "p_cost": cost,
    }
    with upstream_call():
        result = admin_client().rpc("rate_limit_take", arguments).execute()
    data = expect_object(result.data)
    return Grant(int(data["granted"]), int(data["remaining"]), int(data["reset"]))


_MAX_LOCAL_KEYS = 4096
FIRST_RESERVATION = 4


@dataclass
class _Allowance:
    units: int  # reserved and not spent yet
    remaining: int  # the shared counter's remaining units after the reservation
    resets: float  # when the counter's window ends, as its `reset` said (rounded up)
    size: int  # what was reserved: the next reservation in this window doubles it

    def expired(self, now: float) -> bool:
        """True from a second before the window ends."""
        # `reset` is rounded up to whole seconds, and units reserved in one window must
        # never be spent in the next.
        return now >= self.resets - 1


class Limiter:
    """Checks keys against limits; thread-safe; one per warm instance."""

    def __init__(self, take: Take = take_from_database, clock: Callable[[], float] = time.monotonic) -> None:
        self._take = take
        self._clock = clock
        self._lock = threading.Lock()
        self._allowances: dict[str, _Allowance] = {}
        # An exhausted window stays exhausted until it ends: remember refusals
        # locally so a flood of refused requests costs no database calls.
        self._blocked: dict[str, float] = {}

    def _local(self, key: str) -> tuple[int, int] | None:
        with self._lock:
            allowance = self._allowances.get(key)
            now = self._clock()
            if allowance is None or allowance.expired(now):
                self._allowances.pop(key, None)
                return None
            if allowance.units <= 0:
                return None
            allowance.units -= 1
            return allowance.remaining + allowance.units, max(1, int(allowance.resets - now + 0.999))

    def _sweep(self, now: float) -> None:
        # Called with the lock held: keep a warm instance's memory flat under many keys.
        if len(self._blocked) + len(self._allowances) > _MAX_LOCAL_KEYS:
            self._blocked = {k: until for k, until in self._blocked.items() if until > now}
            self._allowances = {k: a for k, a in self._allowances.items() if not a.expired(now)}

    def _reservation(self, key: str, batch: int) -> int:
        """How many units to reserve: a small first batch, doubling while the window lasts."""
        with self._lock:
            allowance = self._allowances.get(key)
            if allowance is None or allowance.expired(self._clock()):
                return min(batch, FIRST_RESERVATION)
            return min(batch, allowance.size * 2)

    def _still_blocked(self, key: str) -> int | None:
        with self._lock:
            self._sweep(self._clock())
            until = self._blocked.get(key)
            now = self._clock()
            if until is None or until <= now:
                self._blocked.pop(key, None)
                return None
            return max(1, int(until - now + 0.999))

    def blocked_for(self, key: str) -> int | None:
        """Seconds until `key`'s known refusal ends, or None when none is known."""
        return self._still_blocked(key)

    def block(self, key: str, seconds: int) -> None:
        """Remember a refusal the shared counter reported elsewhere (the database's own 429)."""
        with self._lock:
            self._blocked[key] = self._clock() + max(1, seconds)

    def check(self, key: str, limit: RateLimit, batch: int = 1) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds to reset) for one request; `batch` caps a reservation.

        Raises whatever the counter raises (a database failure).
        """
        if (wait := self._still_blocked(key)) is not None:
            return False, 0, wait
        if batch > 1 and (local := self._local(key)) is not None:
            return True, *local
        size = self._reservation(key, batch) if batch > 1 else 1
        grant = self._take(key, limit, size)
        if grant.granted == 0:
            with self._lock:
                self._blocked[key] = self._clock() + grant.reset
            return False, 0, grant.reset
        if size > 1:
            with self._lock:
                self._allowances[key] = _Allowance(
                    grant.granted - 1, grant.remaining, self._clock() + grant.reset, size
                )
        return True, grant.remaining + grant.granted - 1, grant.reset


_LIMITER = Limiter()


def shared_limiter() -> Limiter:
    """The warm instance's one limiter (its reservations and known refusals serve every request)."""
    return _LIMITER


def _digest(*parts: str) -> str:
    # Keys hold hashes, not raw IPs or emails.
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _email(request: Request) -> str:
    email = request.json_body.get("email") if isinstance(request.json_body, dict) else None
    return email.strip().lower() if isinstance(email, str) else ""


def policy_key(policy: str, request: Request, user_id: str | None = None) -> str:
    """The counter key of `policy` for this request of `user_id` (None: anonymous) (docs/api.md §6.1)."""
    if policy == "login":
        return f"login:{_digest(request.client_ip, _email(request))}"
    if policy == LOGIN_IP:
        return f"{LOGIN_IP}:{_digest(request.client_ip)}"
    if policy == "recover":
        return f"recover:{_digest(_email(request))}"
    if policy == "auth":
        return f"auth:{_digest(request.client_ip)}"
    if user_id is not None:
        return f"{policy}:user:{_digest(user_id)}"
    return f"{policy}:ip:{_digest(request.client_ip)}"


def limit_for(policy: str, settings: Settings) -> RateLimit:
    """The configured limit of a policy (a route's, or login's per-IP budget)."""
    return settings.rate_limit(policy)


def headers(policy: str, limit: RateLimit, remaining: int, reset: int) -> dict[str, str]:
    """RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers)."""
    return {
        "RateLimit-Policy": f'"{policy}";q={limit.limit};w={limit.window}',
        "RateLimit": f'"{policy}";r={max(0, remaining)};t={max(1, reset)}',
    }


def _counted(policy: RatePolicy) -> tuple[str, ...]:
    # Login is counted twice: per client IP whatever the email (spraying one password over many
    # accounts), then per IP and email. The IP budget goes first, so a sprayer's refused attempts
    # cost no further database call.
    return (LOGIN_IP, "login") if policy == "login" else (policy,)


def enforce(
    policy: RatePolicy,
    request: Request,
    settings: Settings,
    limiter: Limiter | None = None,
    *,
    user_id: str | None = None,
) -> dict[str, str]:
    """Count this request; return its headers, or raise RateLimited (429) / ServiceUnavailable (503)."""
    result: dict[str, str] = {}
    for counted in _counted(policy):
        limit = limit_for(counted, settings)
        batch = max(1, limit.limit // 20) if counted == "read" else 1
        try:
            allowed, remaining, reset = (limiter or _LIMITER).check(
                policy_key(counted, request, user_id), limit, batch
            )
        except Exception as error:
            log_event("rate_limit_unavailable", level="warning", policy=counted, error=type(error).__name__)
            if isinstance(error, GatewayTimeout):
                # The database is slow, not down: going on would wait for it a second time and could
                # run past the function's maximum duration. Answer 504 now, whatever the policy.
                raise GatewayTimeout("The database service did not answer in time") from None
            if policy in settings.rate_limit_fail_open:
                return {}
            raise ServiceUnavailable("Rate limiting is unavailable; try again shortly") from None
        # Several policies are one list each (draft-ietf-httpapi-ratelimit-headers), the last
        # counted, the one that applies per account, first.
        result = _merged(headers(counted, limit, remaining, reset), result)
        if not allowed:
            raise RateLimited(min(reset, limit.window), result)
    return result


def _merged(first: dict[str, str], then: dict[str, str]) -> dict[str, str]:
    return {name: ", ".join(v for v in (value, then.get(name)) if v) for name, value in first.items()}


# Policies whose requests the database counts (request_hooks.check_request): every route
# with the write policy writes through PostgREST with the caller's token.
COUNTED_IN_DATABASE: frozenset[str] = frozenset({"write"})


@contextmanager
def counted_in_database(
    policy: RatePolicy,
    request: Request,
    settings: Settings,
    sent: dict[str, str],
    limiter: Limiter | None = None,
    *,
    user_id: str | None = None,
) -> Iterator[None]:
    """Run a write that the database counts; put its RateLimit headers into `sent`.

    A refusal the database reported for this key earlier in its window is 429 at once, with
    no database call. A write that fails before reaching the database (validation,
    permission, lookup), or that the database rolls back together with its unit, is counted
    here instead, so the contract's order of checks holds: a caller whose budget is spent
    gets 429 whatever else is wrong with the request. Raises RateLimited, what enforce
    raises, or whatever the write raises. Upstream failures (5xx) are not counted: the
    database is not asked again.
    """
    from lib.supabase.clients import database_rate_headers

    chosen = limiter or _LIMITER
    key = policy_key(policy, request, user_id)
    if (wait := chosen.blocked_for(key)) is not None:
        limit = limit_for(policy, settings)
        sent.update(headers(policy, limit, 0, wait))
        raise RateLimited(min(wait, limit.window), sent)
    with database_rate_headers() as counted:
        try:
            yield
        except RateLimited as refused:
            # The database's own 429 (the only RateLimited a write raises).
            sent.update(counted)
            sent.pop("Retry-After", None)
            chosen.block(key, int(refused.headers.get("Retry-After", "1")))
            raise
        except ApiError as error:
            if counted:  # committed with its unit (say, an update that matched no row)
                sent.update(counted)
                sent.pop("Retry-After", None)
            elif error.status < 500:
                sent.update(enforce(policy, request, settings, chosen, user_id=user_id))
            raise
        sent.update(counted)
