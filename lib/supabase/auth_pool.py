"""The httpx client Supabase Auth's library is given: imported only by the flows that call Auth.

supabase_auth needs an httpx.Client; the data path uses lib.supabase.transport instead,
so a data request never imports httpx (about 180 ms of a cold start without bytecode).
"""

from __future__ import annotations

import functools

import httpx

from lib.config import get_settings
from lib.supabase.clients import GATEWAY_FAILURES, KEEPALIVE_EXPIRY, MAX_IDLE_PER_ORIGIN


def _raise_gateway_failures(response: httpx.Response) -> None:
    # A gateway or proxy failure is not an answer from Auth: raise it as such, before
    # supabase_auth mistakes its body for Auth's error JSON (it reads a 502/503/504
    # HTTPStatusError as a retryable outage).
    if response.status_code in GATEWAY_FAILURES:
        response.read()
        raise httpx.HTTPStatusError("upstream unavailable", request=response.request, response=response)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Ignore Set-Cookie."""


_NO_COOKIES = _NoCookies()


class _SharedPool(httpx.Client):
    """An httpx.Client without a cookie jar.

    The pool serves every caller, so nothing an upstream sets may outlive its
    response (a cookie stored here would be sent on the next caller's
    requests). Skipping the jar also skips httpx's per-response cookie
    bookkeeping (a urllib Request built and parsed for every response).
    """

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty."""
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Ignored: httpx's constructor sets the (absent) client cookies."""


@functools.cache
def auth_http_client() -> httpx.Client:
    """The instance's keep-alive httpx pool for Supabase Auth, with the configured connect/read timeouts."""
    settings = get_settings()
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_read_timeout,
        write=settings.upstream_read_timeout,
        pool=settings.upstream_connect_timeout,
    )
    return _SharedPool(
        timeout=timeout,
        limits=httpx.Limits(
            max_connections=32,
            max_keepalive_connections=MAX_IDLE_PER_ORIGIN,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
        follow_redirects=False,
        http2=False,
        event_hooks={"response": [_raise_gateway_failures]},
    )
