"""Cross-origin rules of docs/api.md §5.4: who may call from a browser."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from lib.config import Settings

ALLOW_HEADERS = (
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-CSRF-Token, X-Request-Id"
)
EXPOSE_HEADERS = "ETag, Location, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id, Idempotent-Replayed"
MAX_AGE = "600"
_LOCAL_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?$")


@functools.lru_cache(maxsize=8)
def allowed_origins(settings: Settings) -> frozenset[str]:
    """ALLOWED_ORIGINS plus this deployment's own Vercel URLs (so every branch preview works)."""
    # Cached per Settings (hashable): a process has one, so this is computed once.
    hosts = (settings.vercel_url, settings.vercel_branch_url, settings.vercel_project_production_url)
    own = {f"https://{host.lower()}" for host in hosts if host}
    return frozenset({origin.lower() for origin in settings.allowed_origins} | own)


def is_allowed(origin: str | None, settings: Settings) -> bool:
    """True when a browser on `origin` may read our responses."""
    if not origin:
        return False
    if origin.lower() in allowed_origins(settings):
        return True
    return settings.environment == "development" and _LOCAL_ORIGIN.match(origin) is not None


def response_headers(origin: str | None, settings: Settings) -> dict[str, str]:
    """CORS headers for an actual (non-preflight) response."""
    if origin is None or not is_allowed(origin, settings):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": EXPOSE_HEADERS,
    }


def preflight_headers(origin: str, methods: Iterable[str]) -> dict[str, str]:
    """Headers of a 204 preflight answer to an allowed origin."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": MAX_AGE,
    }
