"""GET /api/health: is this function alive, and can it reach the database?"""

from __future__ import annotations

from lib.http.problems import UNAVAILABLE_RETRY_AFTER, ApiError
from lib.http.response import Response, json_response
from lib.supabase.caller import Anonymous
from lib.supabase.deps import Deps
from lib.supabase.upstream import upstream_call

_STATUS_BY_PROBLEM = {503: "unavailable", 504: "timeout"}


def database_status(deps: Deps) -> str:
    """`ok` when PostgREST reaches Postgres, else `unavailable`, `timeout` or `error`."""
    try:
        with upstream_call():
            # A read-only RPC (GET) that touches Postgres, not only PostgREST's cache.
            result = deps.anon_client().rpc("healthcheck", {}, get=True).execute()
    except ApiError as error:
        return _STATUS_BY_PROBLEM.get(error.status, "error")
    return "ok" if result.data is True else "error"


def check_health(call: Anonymous[None, None]) -> Response:
    """200 with status ok, or 503 with status degraded and Retry-After; never shows configuration values.

    The body is the contract's Health, built by hand: a liveness probe loads no model
    (tests/resources/test_health.py checks it against the model).
    """
    settings = call.deps.settings()
    database = database_status(call.deps)
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
