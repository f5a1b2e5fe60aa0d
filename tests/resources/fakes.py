"""Fakes for running handlers and the pipeline with no stack: a PostgREST client, Auth, settings, tokens.

FakeDatabase stands in for every PostgREST client the Deps hand out: it records each
query (the client's token, the table or RPC, the filters) and answers from a function of
that record, so a test says what the database returns and checks what it was asked.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from jose import jwt as jose_jwt

from lib.config import Settings, resolve_settings
from lib.http.request import Incoming, Request
from lib.supabase.caller import Anonymous, Call, Caller
from lib.supabase.deps import Deps
from lib.supabase.ratelimit import Grant, Limiter

JWT_SECRET = "jwt-secret-for-the-resource-unit-tests-32-characters"
SUPABASE_URL = "http://127.0.0.1:54321"
USER_ID = "8d0fd2b3-9ca7-4c9e-a5a2-5b5a1b0f3c11"
OTHER_ID = "0b7a4c1e-3f55-4f59-9a43-0d2b7c1d9f10"
SESSION_ID = "a3c8e1f0-0000-4000-8000-000000000001"
ENV = {
    "APP_ENV": "development",
    "SUPABASE_URL": SUPABASE_URL,
    "SUPABASE_JWT_SECRET": JWT_SECRET,
    "SUPABASE_PUBLISHABLE_KEY": "sb_publishable_unit0001",
    "SUPABASE_SECRET_KEY": "sb_secret_unit0001",
    "ALLOWED_ORIGINS": "https://app.example.com",
}


def settings(**overrides: str) -> Settings:
    """Development settings for the unit tests (no dotenv files are read)."""
    return resolve_settings({**ENV, **overrides}, Path("/nonexistent"))


def token(role: str = "member", user_id: str = USER_ID, **claims: Any) -> str:
    """A valid HS256 access token for `user_id` with `role`, as local Auth signs them."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": user_id,
        "aud": "authenticated",
        "iss": f"{SUPABASE_URL}/auth/v1",
        "role": "authenticated",
        "exp": now + 3600,
        "iat": now - 10,
        "email": "driver@example.com",
        "session_id": SESSION_ID,
        "user_role": role,
        **claims,
    }
    return str(jose_jwt.encode(payload, JWT_SECRET, algorithm="HS256"))


@dataclass
class Query:
    """One PostgREST request as a handler built it."""

    token: str | None  # the user's token; None for the anon or secret-key client
    admin: bool
    target: str  # "rpc:<name>" or the table
    action: str = "select"
    payload: Any = None
    filters: list[tuple[str, str, Any]] = field(default_factory=list)


@dataclass
class Result:
    """What postgrest-py's execute() returns, as far as the handlers read it."""

    data: Any


class _Builder:
    def __init__(self, database: FakeDatabase, query: Query) -> None:
        self._database = database
        self._query = query

    def select(self, *columns: str) -> _Builder:
        self._query.action = "select"
        return self

    def update(self, values: Mapping[str, Any]) -> _Builder:
        self._query.action, self._query.payload = "update", dict(values)
        return self

    def delete(self) -> _Builder:
        self._query.action = "delete"
        return self

    def eq(self, column: str, value: Any) -> _Builder:
        self._query.filters.append(("eq", column, value))
        return self

    def in_(self, column: str, values: Any) -> _Builder:
        self._query.filters.append(("in", column, list(values)))
        return self

    def execute(self) -> Result:
        self._database.queries.append(self._query)
        return Result(self._database.answer(self._query))


class _Client:
    def __init__(self, database: FakeDatabase, token: str | None, admin: bool) -> None:
        self._database, self._token, self._admin = database, token, admin

    def rpc(self, name: str, arguments: Mapping[str, Any], get: bool = False) -> _Builder:
        query = Query(self._token, self._admin, f"rpc:{name}", "call", dict(arguments))
        return _Builder(self._database, query)

    def from_(self, table: str) -> _Builder:
        return _Builder(self._database, Query(self._token, self._admin, table))


class FakeDatabase:
    """Every PostgREST client of a test; `answer(query)` gives each request's data (or raises)."""

    def __init__(self, answer: Callable[[Query], Any] | None = None) -> None:
        self.queries: list[Query] = []
        self.answer: Callable[[Query], Any] = answer or (lambda query: [])

    def user_client(self, access_token: str) -> Any:
        return _Client(self, access_token, admin=False)

    def anon_client(self) -> Any:
        return _Client(self, None, admin=False)

    def admin_client(self) -> Any:
        return _Client(self, None, admin=True)


def no_auth(client_ip: str | None) -> Any:
    raise AssertionError("this test does not call Supabase Auth")


class GenerousCounter:
    """A shared rate-limit counter that grants everything (or nothing, once `spent`)."""

    def __init__(self) -> None:
        self.spent = False
        self.calls = 0

    def take(self, key: str, limit: Any, cost: int) -> Grant:
        self.calls += 1
        if self.spent:
            return Grant(0, 0, 30)
        return Grant(cost, 100, 60)


def deps(
    database: FakeDatabase | None = None,
    *,
    auth: Callable[[str | None], Any] = no_auth,
    counter: GenerousCounter | None = None,
    clock: Callable[[], float] = time.time,
    **overrides: str,
) -> Deps:
    """Deps over fakes: the database, Auth, a limiter over `counter`, these settings."""
    database = database or FakeDatabase()
    limiter = Limiter((counter or GenerousCounter()).take)
    chosen = settings(**overrides)
    return Deps(
        user_client=database.user_client,
        anon_client=database.anon_client,
        admin_client=database.admin_client,
        auth_client=auth,
        settings=lambda: chosen,
        clock=clock,
        limiter=lambda: limiter,
    )


def headers(values: Mapping[str, str] | None = None) -> Message:
    """Request headers as http.server parses them."""
    message = Message()
    for name, value in (values or {}).items():
        message[name] = value
    return message


def incoming(
    method: str, target: str, values: Mapping[str, str] | None = None, body: bytes = b""
) -> Incoming:
    """A request as the server reads it."""
    return Incoming(method, target, headers(values), "192.0.2.10", io.BytesIO(body))


def request(
    method: str = "GET",
    path: str = "/api/vehicles",
    params: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    json_body: dict[str, Any] | None = None,
) -> Request:
    """A parsed request, as the pipeline hands it to a handler."""
    return Request(
        method, path, dict(params or {}), {}, headers(values), "req-1", "192.0.2.10", json_body=json_body
    )


def caller(role: str = "member", user_id: str = USER_ID) -> Caller:
    """An authenticated caller."""
    return Caller(user_id=user_id, email="driver@example.com", role=role, access_token=f"token-of-{user_id}")


def call(
    the_deps: Deps, body: Any = None, query: Any = None, *, role: str = "member", req: Request | None = None
) -> Call[Any, Any]:
    """An authenticated call of a handler."""
    return Call(req or request(), caller(role), body, query, the_deps)


def anonymous(the_deps: Deps, body: Any = None, *, req: Request | None = None) -> Anonymous[Any, None]:
    """An anonymous call of a handler."""
    return Anonymous(req or request(), body, None, the_deps)


def new_id() -> str:
    """A fresh UUID, as the database makes them."""
    return str(uuid.uuid4())
