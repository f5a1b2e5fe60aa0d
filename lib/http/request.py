"""One incoming request: framing and JSON rules of docs/api.md §1.1, parsed once."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from lib.http.problems import (
    BadRequest,
    LengthRequired,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from lib.jsontext import NOT_UTF8, JsonTextError, parse_strict

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def request_id_from(headers: Message | None) -> str:
    """The caller's X-Request-Id when well-formed, else a fresh one."""
    incoming = None if headers is None else headers.get("X-Request-Id")
    if incoming is not None and REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object body under lib.jsontext's strict rules. Raises BadRequest(invalid_json)."""
    if not raw.strip():
        raise BadRequest("The request body is empty", code="invalid_json")
    try:
        value = parse_strict(raw, max_depth=MAX_JSON_DEPTH)
    except JsonTextError as error:
        if error.reason == NOT_UTF8:
            raise BadRequest("The request body is not valid UTF-8", code="invalid_json") from None
        raise BadRequest(
            f"The request body is not valid JSON ({error.reason})", code="invalid_json"
        ) from None
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object", code="invalid_json")
    return value


class Readable(Protocol):
    """What read_body needs of a request stream."""

    def read(self, size: int, /) -> bytes:
        """Read up to `size` bytes."""
        ...


def read_body(headers: Message, stream: Readable) -> bytes:
    """Read a JSON request body under the framing rules. Raises 400/411/413/415 problems."""
    if headers.get("Transfer-Encoding") is not None:
        raise LengthRequired("Chunked request bodies are not supported; send Content-Length")
    lengths = headers.get_all("Content-Length") or []
    if not lengths:
        raise LengthRequired("A request body needs a Content-Length header")
    if len(set(lengths)) != 1 or not lengths[0].strip().isdigit() or not lengths[0].strip().isascii():
        raise BadRequest("Content-Length is malformed")
    length = int(lengths[0])
    if length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body may hold at most {MAX_BODY_BYTES} bytes")
    media_type, _, params = (headers.get("Content-Type") or "").partition(";")
    if media_type.strip().lower() != "application/json":
        raise UnsupportedMediaType("Send the body as Content-Type: application/json")
    charset = _charset(params)
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedMediaType("JSON bodies must be UTF-8")
    try:
        raw = stream.read(length)
    except OSError:
        # The client stalled past the socket timeout (TimeoutError) or dropped the connection
        # mid-body: the body it announced never arrived, as when the connection is half-closed.
        raw = b""
    if len(raw) != length:
        raise BadRequest("The body is shorter than its Content-Length")
    return raw


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def parse_query(raw: str) -> dict[str, str]:
    """Decode a query string. Raises BadRequest(invalid_query) for repeats or bad encoding."""
    if not raw:
        return {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The query string is not valid UTF-8", code="invalid_query") from None
    query: dict[str, str] = {}
    for name, value in pairs:
        if name in query:
            raise BadRequest(f"Query parameter {name!r} is repeated", code="invalid_query")
        query[name] = value
    return query


def _address(value: str | None) -> str | None:
    """`value` as an IP address in canonical form, or None when it is not one."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def client_ip(headers: Message, peer: str, *, behind_vercel: bool) -> str:
    """The caller's address: the socket's peer, or on Vercel the address its edge forwards.

    Vercel's edge overwrites X-Forwarded-For (and sets X-Real-IP) with the address the
    connection came from, so there a client cannot choose it. Anywhere else the headers are
    whatever the client sent, and trusting them would let it rotate into fresh rate-limit
    buckets at will: the socket's peer is the only address it cannot pick.
    """
    if behind_vercel:
        forwarded = (headers.get("X-Forwarded-For") or "").split(",")[0]
        for candidate in (forwarded, headers.get("X-Real-IP")):
            if (address := _address(candidate)) is not None:
                return address
    return _address(peer) or peer


def parse_cookies(headers: Message) -> dict[str, str]:
    """Cookie name -> value; a malformed Cookie header counts as no cookies."""
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Cookie") or []:
        try:
            jar.load(header)
        except CookieError:
            continue
    return {name: morsel.value for name, morsel in jar.items()}


@dataclass(frozen=True)
class Incoming:
    """A request as the server read it, before any route is matched: what the pipeline takes.

    The body is not read yet: the pipeline reads it from `stream` once the route, the
    method and the framing rules allow, so a 404 or 405 never waits for a body.
    """

    method: str
    target: str  # the request line's target: path and query, as sent
    headers: Message
    peer: str  # the socket peer's address
    stream: Readable


@dataclass
class Request:
    """What a handler needs to know about the HTTP request it serves."""

    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Message
    request_id: str
    client_ip: str
    cookies: Mapping[str, str] = field(default_factory=dict)
    json_body: dict[str, Any] | None = None

    def header(self, name: str) -> str | None:
        """One request header, or None."""
        value = self.headers.get(name)
        return None if value is None else str(value)

    def uuid_param(self, name: str) -> str:
        """A path parameter that must be a UUID; anything else is 404 (it cannot exist)."""
        raw = unquote(self.params.get(name, ""))
        if UUID_TEXT.match(raw) is None:
            raise NotFound()
        return raw.lower()
