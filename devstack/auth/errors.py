"""GoTrue's error answers: ApiError and the errors several endpoints share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = "2024-01-01"


class ApiError(Exception):
    """An error GoTrue would answer with; `AuthService.render_error` shapes the body."""

    def __init__(
        self,
        status: int,
        error_code: str,
        msg: str,
        *,
        extra: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.error_code = error_code
        self.msg = msg
        self.extra = extra or {}
        self.body = body  # a fixed body (GoTrue's OAuth-style errors ignore the API version)
        self.headers = headers or []


def bad_jwt(detail: str) -> ApiError:
    """GoTrue's 403 bad_jwt for a token it cannot parse or verify."""
    return ApiError(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {detail}")


def bad_json(detail: str) -> ApiError:
    """GoTrue's 400 bad_json for a body that is not the JSON expected."""
    return ApiError(400, "bad_json", f"Could not parse request body as JSON: {detail}")


def weak_password(min_length: int) -> ApiError:
    """GoTrue's 422 weak_password, with the reasons supabase-js reads."""
    return ApiError(
        422,
        "weak_password",
        f"Password should be at least {min_length} characters.",
        extra={"weak_password": {"reasons": ["length"]}},
    )


def unexpected() -> ApiError:
    """GoTrue's 500 unexpected_failure, which tells the client nothing more."""
    return ApiError(
        500, "unexpected_failure", "Unexpected failure, please check server logs for more information"
    )


def api_version(header: str | None) -> str | None:
    """GoTrue's DetermineClosestAPIVersion: 2024-01-01 for any valid date on or after it."""
    if not header:
        return None
    try:
        requested = datetime.strptime(header, "%Y-%m-%d").date()
    except ValueError:
        return None
    return API_VERSION_2024_01_01 if requested.isoformat() >= API_VERSION_2024_01_01 else None
