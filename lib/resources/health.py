"""GET /api/health: is this function alive, and can it reach the database?"""

from __future__ import annotations

from lib.config import get_settings
from lib.http.problems import UNAVAILABLE_RETRY_AFTER, ApiError
from lib.http.request import Request
from lib.http.response import Response, json_response
from lib.supabase.clients import anon_client
from lib.supabase.upstream import upstream_call

_STATUS_BY_PROBLEM = {503: "unavailable", 504: "timeout"}


def database_status() -> str:
    """`ok` when PostgREST reaches Postgres, else `unavailable`, `timeout` or `error`."""
    try:
        with upstream_call():
            # A read-only RPC (GET) that touches Postgres, not only PostgREST's cache.
            result = anon_client().rpc("healthcheck", {}, get=True).execute()
    except ApiError as error:
        return _STATUS_BY_PROBLEM.get(error.status, "error")
    return "ok" if result.data is True else "error"


def check_health(request: Request) -> Response:
    """200 with status ok, or 503 with status degraded and Retry-After; never shows configuration values."""
    settings = get_settings()
    database = database_status()
    healthy = database == "ok"
    body = {
        "status": "ok" if healthy else "degraded",
        "version": settings.app_version,
        "environment": settings.environment,
        "checks": {"database": database},
    }
    if healthy:
        return json_response(body)
    # Degraded is a 503 like any other: it says when to ask again.
    return json_response(body, 503, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})
