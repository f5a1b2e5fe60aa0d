"""Typed API errors and their one mapping to RFC 9457 problem details."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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
    """An error the caller is meant to see; a subclass names its default code, which fixes its status.

    `class NotFound(ApiError, code="not_found")` answers 404, the status CATALOG gives not_found;
    an instance may carry another code of the same status (`NotFound(code=...)`), never one of another.
    """

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: Any) -> None:
        """Set the subclass's default code and, from CATALOG, its status (KeyError: no such code)."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.default_code = code
            cls.status = CATALOG[code][0]

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


class BadRequest(ApiError, code="invalid_request"):
    """400: the request is malformed."""


class Unauthorized(ApiError, code="unauthorized"):
    """401: no usable credentials."""

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": 'Bearer realm="api"'})


class Forbidden(ApiError, code="forbidden"):
    """403: authenticated but not permitted."""


class NotFound(ApiError, code="not_found"):
    """404: absent or invisible to the caller (the same answer either way)."""


class MethodNotAllowed(ApiError, code="method_not_allowed"):
    """405 with the Allow header."""

    def __init__(self, allowed: Sequence[str]) -> None:
        allow = ", ".join(allowed)
        super().__init__(f"Allowed methods: {allow}", headers={"Allow": allow})


class Conflict(ApiError, code="conflict"):
    """409: the request conflicts with the current state."""


class LengthRequired(ApiError, code="length_required"):
    """411: a body without a Content-Length."""


class PreconditionFailed(ApiError, code="precondition_failed"):
    """412: If-Match did not match."""


class PayloadTooLarge(ApiError, code="payload_too_large"):
    """413: the body is over the limit."""


class UriTooLong(ApiError, code="uri_too_long"):
    """414: the request target is over the limit."""


class UnsupportedMediaType(ApiError, code="unsupported_media_type"):
    """415: the body is not JSON."""


class ValidationFailed(ApiError, code="validation_error"):
    """422: well-formed but invalid; one `errors[]` entry per field."""

    def __init__(
        self, errors: Sequence[FieldError], *, code: str | None = None, detail: str | None = None
    ) -> None:
        count = len(errors)
        plural = f"{count} field is invalid" if count == 1 else f"{count} fields are invalid"
        summary = detail or (plural if count else "The request breaks a data rule")
        super().__init__(summary, code=code, errors=errors)


class RateLimited(ApiError, code="rate_limited"):
    """429 with Retry-After."""

    def __init__(self, retry_after: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(
            f"Too many requests; retry in {retry_after} s",
            headers={**(headers or {}), "Retry-After": str(max(1, retry_after))},
        )


class HeaderFieldsTooLarge(ApiError, code="header_fields_too_large"):
    """431: too many or too long headers."""


class InternalError(ApiError, code="internal_error"):
    """500: generic; the log has the cause under the request id."""


class BadGateway(ApiError, code="bad_gateway"):
    """502: an upstream answered nonsense."""


# Seconds a 503 asks the caller to wait (Retry-After): an upstream that is down, or degraded health.
UNAVAILABLE_RETRY_AFTER = 5


class ServiceUnavailable(ApiError, code="service_unavailable"):
    """503 with Retry-After: an upstream is down."""

    def __init__(self, detail: str | None = None, *, retry_after: int = UNAVAILABLE_RETRY_AFTER) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class GatewayTimeout(ApiError, code="gateway_timeout"):
    """504: an upstream was too slow."""


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
