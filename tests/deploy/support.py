"""Helpers for the conformance tests: one request to a function and to the dev server, compared."""

from __future__ import annotations

import http.client
import itertools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from devstack.stack import Stack
from tests.deploy.functions import PROXY_HEADERS, Answer, Deployment, FunctionInstance
from tests.factories import User

HONDA_VIN = "1HGCM82633A004352"
RATE_COUNTER = re.compile(r";r=\d+;t=\d+")
# 198.19.0.0/16 (benchmarking range): other suites draw their client IPs from 198.18/16.
_CLIENT_IPS = (f"198.19.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@dataclass(frozen=True)
class World:
    """Users and rows the representative requests need; a module's tests share it, so none may change it."""

    member: User
    admin: User
    vehicle: dict[str, Any]
    record: dict[str, Any]


class Caller:
    """Sends one request to a function instance or to the dev server, with identical headers."""

    def __init__(self, deployment: Deployment, runtime: str, stack: Stack) -> None:
        self.deployment = deployment
        self.runtime = runtime
        self.dev = urlsplit(stack.settings.api_url)

    def function(self, name: str) -> FunctionInstance:
        """The warm instance of `name` under this caller's runtime."""
        return self.deployment.warm(name, self.runtime)

    def dev_server(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        raw_body: bytes | None = None,
    ) -> Answer:
        """The same request to the dev server (http.client adds nothing but Accept-Encoding: identity)."""
        sent = {**PROXY_HEADERS, **(headers or {})}
        body = raw_body
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.setdefault("content-type", "application/json")
        connection = http.client.HTTPConnection(self.dev.hostname or "127.0.0.1", self.dev.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
            received: dict[str, list[str]] = {}
            for key, value in response.getheaders():
                received.setdefault(key, []).append(value)
            return Answer(response.status, received, data)
        finally:
            connection.close()


def request_headers(user: User | None = None, **extra: str) -> dict[str, str]:
    """One request's headers: its own request id (both sides echo it) and client IP, and a token."""
    ip = next(_CLIENT_IPS)
    headers = {"x-request-id": "conformance-" + uuid.uuid4().hex, "x-forwarded-for": ip, "x-real-ip": ip}
    if user is not None:
        headers["authorization"] = f"Bearer {user.token}"
    return {**headers, **extra}


def comparable(answer: Answer) -> dict[str, Any]:
    """Status, headers (names lower-cased) and body, with only call-to-call differences masked."""
    headers: dict[str, list[str]] = {}
    for key, values in answer.headers.items():
        name = key.lower()
        if name == "date":
            continue
        kept = [RATE_COUNTER.sub(";r=*;t=*", v) for v in values] if name == "ratelimit" else values
        headers.setdefault(name, []).extend(kept)
    return {"status": answer.status, "headers": headers, "body": answer.body}


def assert_same(function: Answer, dev: Answer) -> None:
    """The function's answer equals the dev server's."""
    assert comparable(function) == comparable(dev)


def with_params(path: str, **params: str) -> str:
    """The path as Vercel hands it to a dynamic route's function: segments repeated as query parameters."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{path}&{query}" if "?" in path else f"{path}?{query}"
