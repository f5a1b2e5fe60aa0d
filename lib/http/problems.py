"""Typed API errors and their one mapping to RFC 9457 problem details."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

# code -> (status, title). One `type` URI per code, derived from the code.
CATALOG: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "Malformed request"),
    "invalid_json": (400, "Malformed JSON body"),
    "invalid_query": (400, "Invalid query parameters"),
    "invalid_cursor": (400, "Invalid cursor"),
    "unauthorized": (401, "Authentication required"),
    "forbidden": (403, "Forbidden"),
    "csrf_failed": (403, "CSRF token missing or invalid"),
    "email_not_confirmed": (403, "Email address not confirmed"),
    "current_password_invalid": (403, "Current password missing or wrong"),
    "quota_exceeded": (403, "Storage quota exceeded"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict"),
    "duplicate_vin": (409, "A vehicle with this VIN already exists"),
    "idempotency_in_progress": (409, "A request with this Idempotency-Key is still in progress"),
    "last_admin": (409, "The last admin cannot be demoted"),
    "length_required": (411, "Content-Length required"),
    "precondition_failed": (412, "Precondition failed"),
    "payload_too_large": (413, "Payload too large"),
    "uri_too_long": (414, "URI too long"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "validation_error": (422, "Request validation failed"),
    "odometer_rollback": (422, "Odometer cannot decrease"),
    "idempotency_key_reused": (422, "Idempotency-Key reused with a different request"),
    "rate_limited": (429, "Too many requests"),
    "header_fields_too_large": (431, "Request header fields too large"),
    "internal_error": (500, "Internal server error"),
    "bad_gateway": (502, "Bad gateway"),
    "service_unavailable": (503, "Service unavailable"),
    "gateway_timeout": (504, "Gateway timeout"),
}


def problem_type(code: str) -> str:
    """The `type` URI reference of a problem code."""
    return "/problems/" + code.replace("_", "-")


@dataclass(frozen=True)
class FieldError:
    """One invalid field of a request."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON shape of an `errors[]` entry."""
        return {"field": self.field, "code": self.code, "message": self.message}


class ApiError(Exception):
    """An error the caller is meant to see; subclasses fix the status."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.code = code or self.default_code
        status, title = CATALOG[self.code]
        if status != self.status:
            raise ValueError(f"problem code {self.code} is a {status}, not a {self.status}")
        self.title = title
        self.detail = detail or title
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class BadRequest(ApiError):
    """400: the request is malformed."""

    status = 400
    default_code = "invalid_request"


class Unauthorized(ApiError):
    """401: no usable credentials."""

    status = 401
    default_code = "unauthorized"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": 'Bearer realm="api"'})


class Forbidden(ApiError):
    """403: authenticated but not permitted."""

    status = 403
    default_code = "forbidden"


class NotFound(ApiError):
    """404: absent or invisible to the caller (the same answer either way)."""

    status = 404
    default_code = "not_found"


class MethodNotAllowed(ApiError):
    """405 with the Allow header."""

    status = 405
    default_code = "method_not_allowed"

    def __init__(self, allowed: Sequence[str]) -> None:
        allow = ", ".join(allowed)
        super().__init__(f"Allowed methods: {allow}", headers={"Allow": allow})


class Conflict(ApiError):
    """409: the request conflicts with the current state."""

    status = 409
    default_code = "conflict"


class LengthRequired(ApiError):
    """411: a body without a Content-Length."""

    status = 411
    default_code = "length_required"


class PreconditionFailed(ApiError):
    """412: If-Match did not match."""

    status = 412
    default_code = "precondition_failed"


class PayloadTooLarge(ApiError):
    """413: the body is over the limit."""

    status = 413
    default_code = "payload_too_large"


class UriTooLong(ApiError):
    """414: the request target is over the limit."""

    status = 414
    default_code = "uri_too_long"


class UnsupportedMediaType(ApiError):
    """415: the body is not JSON."""

    status = 415
    default_code = "unsupported_media_type"


class ValidationFailed(ApiError):
    """422: well-formed but invalid; one `errors[]` entry per field."""

    status = 422
    default_code = "validation_error"

    def __init__(
        self, errors: Sequence[FieldError], *, code: str | None = None, detail: str | None = None
    ) -> None:
        count = len(errors)
        plural = f"{count} field is invalid" if count == 1 else f"{count} fields are invalid"
        summary = detail or (plural if count else "The request breaks a data rule")
        super().__init__(summary, code=code, errors=errors)


class RateLimited(ApiError):
    """429 with Retry-After."""

    status = 429
    default_code = "rate_limited"

    def __init__(self, retry_after: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(
            f"Too many requests; retry in {retry_after} s",
            headers={**(headers or {}), "Retry-After": str(max(1, retry_after))},
        )


class HeaderFieldsTooLarge(ApiError):
    """431: too many or too long headers."""

    status = 431
    default_code = "header_fields_too_large"


class InternalError(ApiError):
    """500: generic; the log has the cause under the request id."""

    status = 500
    default_code = "internal_error"


class BadGateway(ApiError):
    """502: an upstream answered nonsense."""

    status = 502
    default_code = "bad_gateway"


# Seconds a 503 asks the caller to wait (Retry-After): an upstream that is down, or degraded health.
UNAVAILABLE_RETRY_AFTER = 5


class ServiceUnavailable(ApiError):
    """503 with Retry-After: an upstream is down."""

    status = 503
    default_code = "service_unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = UNAVAILABLE_RETRY_AFTER) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class GatewayTimeout(ApiError):
    """504: an upstream was too slow."""

    status = 504
    default_code = "gateway_timeout"


def problem_document(error: ApiError, *, instance: str, request_id: str) -> bytes:
    """The problem+json body for `error`; never carries upstream text, traces or secrets."""
    body: dict[str, object] = {
        "type": problem_type(error.code),
        "title": error.title,
        "status": error.status,
        "code": error.code,
        "detail": error.detail,
        "instance": instance,
        "request_id": request_id,
    }
    if error.errors:
        body["errors"] = [entry.as_dict() for entry in error.errors]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
