"""lib.http.request: the JSON depth limit and body reads that never complete."""

from __future__ import annotations

import io
from collections.abc import Callable
from email.message import Message

import pytest

from lib.http.problems import BadRequest
from lib.http.request import MAX_JSON_DEPTH, client_ip, parse_json_object, read_body


def arrays(levels: int, inner: str) -> bytes:
    """`levels` containers: the top-level object and arrays nested inside it, around `inner`."""
    return ('{"x": ' + "[" * (levels - 1) + inner + "]" * (levels - 1) + "}").encode()


def objects(levels: int, inner: str) -> bytes:
    """`levels` nested objects; the innermost holds `inner` (or nothing)."""
    innermost = '{"x": ' + inner + "}" if inner else "{}"
    return ('{"x": ' * (levels - 1) + innermost + "}" * (levels - 1)).encode()


@pytest.mark.parametrize("build", [arrays, objects])
@pytest.mark.parametrize("inner", ["1", '"text"', "null", "false", ""])
def test_the_depth_limit_counts_containers_only(build: Callable[[int, str], bytes], inner: str) -> None:
    assert MAX_JSON_DEPTH == 32
    parse_json_object(build(MAX_JSON_DEPTH, inner))  # 32 levels, whatever the innermost holds
    with pytest.raises(BadRequest) as refused:
        parse_json_object(build(MAX_JSON_DEPTH + 1, inner))
    assert refused.value.code == "invalid_json"


def test_every_branch_counts_on_its_own() -> None:
    branch = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)  # 31 arrays: 32 levels under "a"
    parse_json_object(f'{{"a": {branch}, "b": {branch}, "c": 1}}'.encode())
    with pytest.raises(BadRequest):
        parse_json_object(f'{{"a": {branch}, "b": [1, {branch}]}}'.encode())


def headers(length: int) -> Message:
    message = Message()
    message["Content-Type"] = "application/json"
    message["Content-Length"] = str(length)
    return message


class Stalled(io.RawIOBase):
    """A stream that hands out `data` and then fails the way a socket does."""

    def __init__(self, data: bytes, error: OSError) -> None:
        self.data = data
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self.data:
            raise self.error
        size = min(len(buffer), len(self.data))
        buffer[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


@pytest.mark.parametrize(
    "error", [TimeoutError("timed out"), ConnectionResetError("reset by peer")], ids=["timeout", "reset"]
)
def test_a_body_read_that_fails_midway_is_a_400(error: OSError) -> None:
    stream = io.BufferedReader(Stalled(b"{}", error))
    with pytest.raises(BadRequest) as refused:
        read_body(headers(50), stream)
    assert refused.value.code == "invalid_request"
    assert refused.value.detail == "The body is shorter than its Content-Length"


def test_a_body_that_ends_early_is_a_400() -> None:
    with pytest.raises(BadRequest) as refused:
        read_body(headers(50), io.BytesIO(b"{}"))
    assert refused.value.detail == "The body is shorter than its Content-Length"
    assert read_body(headers(2), io.BytesIO(b"{}")) == b"{}"


def _headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def test_off_vercel_the_client_ip_is_the_socket_peer_whatever_the_headers_say() -> None:
    spoofed = _headers(X_Forwarded_For="203.0.113.9, 10.0.0.1", X_Real_IP="198.51.100.2")
    assert client_ip(spoofed, "192.0.2.7", behind_vercel=False) == "192.0.2.7"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X_Forwarded_For": "203.0.113.9, 10.0.0.1"}, "203.0.113.9"),
        ({"X_Forwarded_For": " 2001:DB8::1 "}, "2001:db8::1"),
        ({"X_Real_IP": "198.51.100.2"}, "198.51.100.2"),
        ({"X_Forwarded_For": "'; drop table x; --, ::1", "X_Real_IP": "198.51.100.2"}, "198.51.100.2"),
        ({"X_Forwarded_For": "not an address"}, "192.0.2.7"),
        ({}, "192.0.2.7"),
    ],
)
def test_on_vercel_the_client_ip_is_the_forwarded_address(headers: dict[str, str], expected: str) -> None:
    # Vercel's edge overwrites X-Forwarded-For with the connection's address: there it is the platform's.
    assert client_ip(_headers(**headers), "192.0.2.7", behind_vercel=True) == expected
