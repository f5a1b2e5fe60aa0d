"""A small PostgREST client over `requests`, acting as one actor through the local gateway.

Every method returns the `requests.Response` unchanged (never raises on HTTP
errors), so tests can assert the exact status and PostgREST error `code`.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from devstack.stack_settings import StackSettings
from tests.factories import User


class Rest:
    """PostgREST at `{supabase_url}/rest/v1` as one actor (a user's token, anon or the service role)."""

    def __init__(
        self,
        supabase_url: str,
        apikey: str,
        token: str | None = None,
        *,
        name: str = "",
        session: requests.Session | None = None,
    ) -> None:
        self.base = supabase_url.rstrip("/") + "/rest/v1"
        self.apikey = apikey
        self.token = token
        self.name = name
        # A fresh connection per request by default: kept-alive connections through the local
        # gateway hit the 40 ms delayed-ACK stall, which would make the suite ten times slower.
        self.session = session

    @classmethod
    def for_user(
        cls, supabase_url: str, settings: StackSettings, user: User, session: requests.Session | None = None
    ) -> Rest:
        """The user's access token plus the publishable key."""
        return cls(supabase_url, settings.publishable_key, user.token, name=user.role, session=session)

    @classmethod
    def anon(
        cls, supabase_url: str, settings: StackSettings, session: requests.Session | None = None
    ) -> Rest:
        """The publishable key only."""
        return cls(supabase_url, settings.publishable_key, name="anon", session=session)

    @classmethod
    def service(
        cls, supabase_url: str, settings: StackSettings, session: requests.Session | None = None
    ) -> Rest:
        """The secret key only (the gateway maps it to the service_role JWT)."""
        return cls(supabase_url, settings.secret_key, name="service_role", session=session)

    def __repr__(self) -> str:
        return f"Rest({self.name or 'actor'})"

    # -- plumbing -------------------------------------------------------------

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """apikey, Authorization (when a token is set) and any extra headers."""
        headers = {"apikey": self.apikey}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One request to `/rest/v1/{path}`."""
        extra = dict(headers or {})
        data = None
        if body is not None:
            extra.setdefault("Content-Type", "application/json")
            data = json.dumps(body, default=str)
        send = self.session.request if self.session is not None else requests.request
        return send(
            method,
            f"{self.base}/{path.lstrip('/')}",
            params=params,
            data=data,
            headers=self.headers(extra),
            timeout=30,
            allow_redirects=False,
        )

    # -- table verbs ------------------------------------------------------------

    def select(
        self, table: str, params: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """GET /rest/v1/{table}?select=*&…"""
        return self.request("GET", table, params={"select": "*", **(params or {})}, headers=headers)

    def insert(
        self,
        table: str,
        body: Any,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """POST /rest/v1/{table} returning the inserted rows."""
        return self.request(
            "POST",
            table,
            params=params,
            body=body,
            headers={"Prefer": "return=representation", **(headers or {})},
        )

    def update(
        self, table: str, body: Any, params: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """PATCH /rest/v1/{table}?<filters> returning the updated rows."""
        return self.request(
            "PATCH",
            table,
            params=params,
            body=body,
            headers={"Prefer": "return=representation", **(headers or {})},
        )

    def delete(
        self, table: str, params: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """DELETE /rest/v1/{table}?<filters> returning the deleted rows."""
        return self.request(
            "DELETE", table, params=params, headers={"Prefer": "return=representation", **(headers or {})}
        )

    def rpc(
        self, function: str, args: dict[str, Any] | None = None, *, get: bool = False
    ) -> requests.Response:
        """POST /rest/v1/rpc/{function} with a JSON body, or GET with query arguments (read-only)."""
        if get:
            params = {k: v for k, v in (args or {}).items() if v is not None}
            return self.request("GET", f"rpc/{function}", params=params)
        return self.request("POST", f"rpc/{function}", body=args or {})


def error_code(response: requests.Response) -> str | None:
    """The PostgREST/Postgres error `code` of a response, or None when it has none."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert a PostgREST error with `status` (and `code`); return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message", "details", "hint"}, body
    if code is not None:
        assert body["code"] == code, body
    return body


def rows(response: requests.Response, status: int = 200) -> list[dict[str, Any]]:
    """Assert `status` and return the JSON array body."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, list), body
    return body


def anon_denied(response: requests.Response) -> None:
    """Assert that the publishable key alone was refused: anon holds no privilege on the table (401 42501).

    Hosted projects grant the API roles nothing by default since 2026, and the
    migrations grant anon nothing but the health check.
    """
    assert_error(response, 401, "42501")
