"""The httpx client Supabase Auth's library is given: imported only by the flows that call Auth.

supabase_auth needs an httpx.Client; the data path uses lib.supabase.transport instead,
so a data request never imports httpx (about 180 ms of a cold start without bytecode).
"""

from __future__ import annotations

import functools
import sys

from lib.config import get_settings
from lib.supabase.clients import GATEWAY_FAILURES, KEEPALIVE_EXPIRY, MAX_IDLE_PER_ORIGIN

# httpcore imports its HTTP/2 connection when it is imported and `h2` is installed (supabase-auth
# requires httpx[http2]): h2, hpack and hyperframe, about 0.15 s of an Auth cold start compiled
# from source, for a protocol this pool never speaks (http2=False). A None in sys.modules makes
# `import h2` raise ImportError, which httpcore takes for a missing h2 while it loads. The
# entry is removed right after: httpcore imports HTTP/2 again, lazily, if a client made with
# http2=True ever negotiates it, so nothing else in the process loses it.
_REFUSE_H2 = "h2" not in sys.modules and "httpcore" not in sys.modules
if _REFUSE_H2:
    sys.modules["h2"] = None  # type: ignore[assignment]  # the import system's "not importable"
try:
    import httpcore  # noqa: F401  # httpx imports it only when the first client is built
    import httpx
finally:
    if _REFUSE_H2:
        del sys.modules["h2"]  # our None: while it stands, `import h2` cannot load the real one


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
