"""What a handler returns: status, headers and an already-encoded body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


def encode_json(data: Any) -> bytes:
    """Compact UTF-8 JSON, the one encoding every response body uses."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Response:
    """An HTTP response before the endpoint adds the common headers."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)
    cache_control: str | None = None  # None: the operation's declared policy applies
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values, one header each


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response of `data`."""
    return Response(status=status, body=encode_json(data), headers=dict(headers or {}))


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    """A response without a body (204, 304)."""
    return Response(status=status, content_type=None, headers=dict(headers or {}))
