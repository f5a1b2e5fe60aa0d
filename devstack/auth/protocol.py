"""A request as the handlers see it, the response they return, and body field parsing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from devstack.auth.errors import bad_json
from devstack.auth.store import Conn

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is a subclass of int
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def json_type(value: Any) -> str:
    """The JSON Schema type name of a decoded JSON value."""
    if isinstance(value, float) and value.is_integer():
        return "integer"  # JSON Schema counts 3600.0 as an integer
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "null")


@dataclass
class Request:
    """A parsed HTTP request, plus the database connection it has claimed (if any)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client_ip: str | None
    conn: Conn | None = None

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, else None."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A request header, else None."""
        return self.headers.get(name)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object. Raises ApiError (400 bad_json)."""
        try:
            value = json.loads(self.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise bad_json(str(error)) from None
        if not isinstance(value, dict):
            raise bad_json(f"expected a JSON object, got {json_type(value)}")
        return value


@dataclass
class Response:
    """What a handler answers: the status, a JSON body (None: empty) and extra headers."""

    status: int
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def string_field(body: Mapping[str, Any], name: str) -> str:
    """A body field as a string ("" when absent or null). Raises ApiError (400 bad_json)."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_json(f"{name} must be a string")
    return value


def object_field(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """A body field as an object (None when absent or null). Raises ApiError (400 bad_json)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_json(f"{name} must be an object")
    return value
