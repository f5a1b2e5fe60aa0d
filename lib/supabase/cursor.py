"""Opaque, server-signed keyset cursors.

A cursor carries the sort key and id of the last row of a page, signed with a
key derived from the project's secret key and bound to the list it came from
(route, sort and filters), so an edited, forged or transplanted cursor is
rejected as `400 invalid_cursor`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any

from lib.config import get_settings
from lib.contract.validation import invalid_cursor

_SIGNATURE_BYTES = 16


@functools.cache
def _key() -> bytes:
    return hmac.new(get_settings().secret_key.encode(), b"api-cursor-v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(context: str, payload: bytes) -> bytes:
    return hmac.new(_key(), context.encode() + b"\x00" + payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def list_context(route: str, **filters: Any) -> str:
    """A canonical description of one list (route + sort + filters) that cursors are bound to."""
    return route + "?" + json.dumps(filters, sort_keys=True, default=str, separators=(",", ":"))


def encode_cursor(context: str, position: list[Any]) -> str:
    """Sign `position` (the last row's sort values) for this list."""
    payload = json.dumps(position, separators=(",", ":"), default=str).encode()
    return _b64(payload) + "." + _b64(_signature(context, payload))


def decode_cursor(context: str, cursor: str) -> list[Any]:
    """The position inside a cursor this server issued for this list. Raises BadRequest(invalid_cursor)."""
    invalid = invalid_cursor()
    encoded_payload, dot, encoded_signature = cursor.partition(".")
    if not dot or not encoded_payload or not encoded_signature:
        raise invalid
    try:
        payload = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except (ValueError, TypeError):
        raise invalid from None
    if not hmac.compare_digest(signature, _signature(context, payload)):
        raise invalid
    try:
        position = json.loads(payload)
    except ValueError:
        raise invalid from None
    if not isinstance(position, list):
        raise invalid
    return position


def decode_position(context: str, cursor: str, types: Sequence[type]) -> list[Any]:
    """The cursor's position, checked to hold exactly `types`. Raises BadRequest(invalid_cursor)."""
    position = decode_cursor(context, cursor)
    if len(position) != len(types) or not all(
        isinstance(value, kind) and not isinstance(value, bool)
        for value, kind in zip(position, types, strict=True)
    ):
        raise invalid_cursor()
    return position


def next_page(
    rows: list[dict[str, Any]], limit: int, context: str, position: Callable[[dict[str, Any]], list[Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    """Split `limit + 1` fetched rows into the page and the cursor of the next one (None: last page)."""
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor(context, position(page[-1]))
