"""Supabase client factory: stateless per-request clients over one warm connection pool.

Nothing about a caller survives the request: each call builds a fresh client
object carrying that request's credentials. Only the connection pools are shared,
which is what makes a warm function fast: PostgREST (and the JWKS) go through
lib.supabase.transport's pool over http.client, Supabase Auth through the httpx
client of lib.supabase.auth_pool (supabase_auth needs one), imported only by the
flows that call Auth.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from lib.config import get_settings
from lib.supabase.rest import RestClient
from lib.supabase.transport import GatewayFailed, Pool, Response

if TYPE_CHECKING:
    from supabase_auth import SyncGoTrueClient


GATEWAY_FAILURES = frozenset({502, 503, 504, 520, 521, 522, 523, 524, 530})
API_KEY_PREFIXES = ("sb_publishable_", "sb_secret_")
KEEPALIVE_EXPIRY = 30.0  # seconds an idle connection is kept
MAX_IDLE_PER_ORIGIN = 16


def _raise_gateway_failures(response: Response) -> None:
    # A gateway or proxy failure is not an answer from PostgREST: raise it as such,
    # before the client mistakes its body for an API error.
    if response.status in GATEWAY_FAILURES:
        raise GatewayFailed(response.status)


# The database's write limit answers in PostgREST's response headers (its db-pre-request
# sets them), which a client's execute() does not return. A response check copies them
# into the request's sink: each request of a function runs in its own context.
RATE_LIMIT_HEADERS = ("RateLimit-Policy", "RateLimit", "Retry-After")
_RATE_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("database_rate_headers", default=None)


def _capture_rate_headers(response: Response) -> None:
    sink = _RATE_HEADERS.get()
    if sink is None or response.header("RateLimit") is None or "/rest/v1/" not in response.path:
        return
    # The latest counted response is the current state of the caller's budget.
    sink.clear()
    for name in RATE_LIMIT_HEADERS:
        value = response.header(name)
        if value is not None:
            sink[name] = value


@contextmanager
def database_rate_headers() -> Iterator[dict[str, str]]:
    """Collect the RateLimit headers of the last PostgREST response (made inside) that carries them."""
    sink: dict[str, str] = {}
    token = _RATE_HEADERS.set(sink)
    try:
        yield sink
    finally:
        _RATE_HEADERS.reset(token)


def captured_rate_headers() -> dict[str, str]:
    """A copy of what database_rate_headers() has collected so far (empty outside it)."""
    return dict(_RATE_HEADERS.get() or {})


@functools.cache
def upstream_pool() -> Pool:
    """The instance's keep-alive pool for PostgREST and the JWKS, with the configured timeouts."""
    settings = get_settings()
    return Pool(
        connect_timeout=settings.upstream_connect_timeout,
        read_timeout=settings.upstream_read_timeout,
        max_idle=MAX_IDLE_PER_ORIGIN,
        idle_expiry=KEEPALIVE_EXPIRY,
        checks=(_raise_gateway_failures, _capture_rate_headers),
    )


def upstream_headers(api_key: str, access_token: str | None = None) -> dict[str, str]:
    """`apikey` plus `Authorization: Bearer` for a user's token or a legacy JWT key; ValueError: sb_ token."""
    headers = {"apikey": api_key}
    if access_token is not None:
        if access_token.startswith(API_KEY_PREFIXES):
            # Supabase's gateway refuses an sb_ key in Authorization unless it is the
            # apikey itself; a user's slot never holds one.
            raise ValueError("an API key is not an access token")
        headers["Authorization"] = f"Bearer {access_token}"
    elif not api_key.startswith(API_KEY_PREFIXES):
        # A legacy anon/service_role key is a JWT, and PostgREST only sees its role
        # in Authorization. A new sb_ key is not a JWT: the gateway swaps in its role's
        # JWT from `apikey` alone, so it is never sent as a Bearer token (which
        # supabase-py's own client would do).
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _rest(headers: dict[str, str]) -> RestClient:
    # lib.supabase.rest, not postgrest-py: the same requests without its import cost
    # (docs/coldstart.md). It never retries a request that may have been processed: that
    # is the caller's decision (writes are retried only with an Idempotency-Key).
    return RestClient(f"{get_settings().supabase_url}/rest/v1", headers, upstream_pool())


def user_client(access_token: str) -> RestClient:
    """A PostgREST client as the caller (publishable key + their JWT: RLS applies); ValueError for a key."""
    return _rest(upstream_headers(get_settings().publishable_key, access_token))


def anon_client() -> RestClient:
    """A PostgREST client with only the publishable key (role `anon`)."""
    return _rest(upstream_headers(get_settings().publishable_key))


def admin_client() -> RestClient:
    """A PostgREST client with the secret key: bypasses RLS. Every call site says why it needs it."""
    return _rest(upstream_headers(get_settings().secret_key))


FORWARDED_FOR = "Sb-Forwarded-For"


def auth_headers(client_ip: str | None) -> dict[str, str]:
    """Headers of every Auth call: the secret key as `apikey`, and the caller's IP as `Sb-Forwarded-For`.

    Every Auth call leaves from the function's egress address, so Auth's per-IP limits
    (sign-ins, verifications, emails) would bind all callers together. Supabase then takes
    the first address of `Sb-Forwarded-For` as the client's, but only on a request whose
    `apikey` is a secret key (`sb_secret_…`) and with IP Address Forwarding on: the
    publishable key is public, and a header anyone could send would let anyone pick their
    rate-limit bucket. The key goes in `apikey` only, never as a Bearer token (see
    upstream_headers); calls made for a user add their access token per call.
    """
    headers = {"apikey": get_settings().secret_key}
    if client_ip:
        headers[FORWARDED_FOR] = client_ip
    return headers


def auth_client(client_ip: str | None = None) -> SyncGoTrueClient:
    """A Supabase Auth client for one caller (their IP forwarded); no session storage or refresh."""
    # auth_pool first: it imports httpx without HTTP/2, before supabase_auth would import it.
    from lib.supabase.auth_pool import auth_http_client  # isort: skip
    from supabase_auth import SyncGoTrueClient

    settings = get_settings()
    return SyncGoTrueClient(
        url=f"{settings.supabase_url}/auth/v1",
        # No Authorization: the Auth calls that act for a user pass their token per call.
        headers=auth_headers(client_ip),
        auto_refresh_token=False,
        persist_session=False,
        http_client=auth_http_client(),
    )
