"""Where a flow sends the browser: GoTrue's redirect_to checks and its redirect answers."""

from __future__ import annotations

import contextlib
from fnmatch import fnmatchcase
from ipaddress import ip_address
from urllib.parse import urlencode, urlsplit

from devstack.auth.config import AuthConfig
from devstack.auth.errors import ApiError
from devstack.auth.protocol import Request, Response


def referrer(config: AuthConfig, request: Request) -> str:
    """GoTrue's GetReferrer: redirect_to (query, header) or Referer when allowed, else the site URL."""
    candidates = [request.header("redirect_to"), request.param("redirect_to"), request.header("Referer")]
    for candidate in candidates:
        if candidate and redirect_allowed(config, candidate):
            return candidate
    return config.site_url


def redirect_allowed(config: AuthConfig, url: str) -> bool:
    """GoTrue's IsRedirectURLValid: the site's origin, a loopback address, or an allow-list glob."""
    try:
        base, target = urlsplit(config.site_url), urlsplit(url)
        target_port, base_port = target.port, base.port
    except ValueError:
        return False
    host = target.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ip_address(host).is_loopback
    if host == base.hostname and target.scheme == base.scheme and (target_port == base_port or loopback):
        return True
    if loopback and target.scheme in ("http", "https"):
        return True
    without_fragment = url.split("#", maxsplit=1)[0]
    return any(fnmatchcase(without_fragment, pattern) for pattern in config.additional_redirect_urls)


def redirect(location: str) -> Response:
    """A 303 to `location`."""
    return Response(303, None, [("Location", location)])


def error_redirect(redirect_to: str, error: ApiError) -> str:
    """GoTrue's prepErrorRedirectURL for the implicit flow: the error in the fragment."""
    oauth_errors = {
        400: "invalid_request",
        401: "unauthorized_client",
        403: "access_denied",
        500: "server_error",
        503: "temporarily_unavailable",
    }
    params = {"error_code": error.error_code, "error_description": error.msg, "sb": ""}
    if error.status in oauth_errors:
        params["error"] = oauth_errors[error.status]
    return f"{redirect_to.split('#', maxsplit=1)[0]}#{urlencode(sorted(params.items()))}"
