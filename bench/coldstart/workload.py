"""Representative requests against a throwaway local stack, and the environment a measured function gets."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any

from bench.coldstart.variants import Request, log

PASSWORD = "cold-start-password-1"


@dataclass(frozen=True)
class Actors:
    """One round's users: a member with a vehicle, and an admin."""

    member_email: str
    member: str
    vehicle: str
    admin: str


class Requests:
    """Representative requests against a throwaway local stack, with fresh users for every round.

    Each cold instance reserves its own first batch (4 units) of a user's shared read
    counter, and hundreds of cold starts a minute would spend a user's quota: each round of
    the benchmark gets its own users.
    """

    def __init__(self, stack: Any) -> None:
        import requests

        self.stack = stack
        self.http = requests.Session()
        self.api = stack.settings.api_url.rstrip("/")
        self._ips = (f"198.19.{n // 250 % 250}.{n % 250 + 1}" for n in count(1000))
        self._actors: dict[int, Actors] = {}

    def _ip(self) -> dict[str, str]:
        return {"X-Forwarded-For": next(self._ips)}

    def _post(self, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = self._ip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.post(f"{self.api}/{path}", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def _signup(self) -> tuple[str, str]:
        email = f"coldstart-{time.time_ns()}@example.test"
        data = self._post("auth/signup", {"email": email, "password": PASSWORD})
        return email, str(data["user"]["id"])

    def _login(self, email: str) -> dict[str, Any]:
        return self._post("auth/login", {"email": email, "password": PASSWORD})

    def actors(self, round_no: int) -> Actors:
        """The users of round `round_no`, created on first use."""
        if round_no not in self._actors:
            import psycopg

            member_email, _ = self._signup()
            member = self._login(member_email)["access_token"]
            admin_email, admin_id = self._signup()
            with psycopg.connect(self.stack.postgres.dsn(), autocommit=True) as db:
                db.execute("update public.user_roles set role = 'admin' where user_id = %s", (admin_id,))
            admin = self._login(admin_email)["access_token"]
            vin = "WVWZZZ3CZWE" + f"{round_no:06d}"
            vehicle = {"vin": vin, "make": "Volkswagen", "model": "Passat", "model_year": 2020}
            vehicle_id = self._post("vehicles", vehicle, token=member)["id"]
            self._actors[round_no] = Actors(member_email, member, vehicle_id, admin)
        return self._actors[round_no]

    def environment(self) -> dict[str, str]:
        """The API settings pointing at this stack."""
        return dict(self.stack.settings.api_environment())

    def hs256_token(self) -> str:
        """A fresh user access token signed HS256 with the stack's JWT secret (Auth's default)."""
        import uuid

        from jose import jwt

        now = int(time.time())
        claims = {
            "sub": str(uuid.uuid4()),
            "aud": "authenticated",
            "role": "authenticated",
            "iss": f"{self.stack.settings.supabase_url}/auth/v1",
            "iat": now,
            "exp": now + 3600,
        }
        return str(jwt.encode(claims, self.stack.settings.jwt_secret, algorithm="HS256"))

    def for_variant(self, name: str, round_no: int) -> Request:
        """The request `name` serves in round `round_no`; a fresh session or email where it consumes one."""
        a = self.actors(round_no)
        member = {"Authorization": f"Bearer {a.member}"}
        admin = {"Authorization": f"Bearer {a.admin}"}
        vid = a.vehicle
        builders: dict[str, Callable[[], Request]] = {
            "floor": lambda: _get("/"),
            # The card floor verifies a token it can check offline (HS256, the stack's JWT
            # secret) whatever key the stack's Auth signs with; the auth floor asks Auth.
            "floor+card": lambda: _get("/", {"Authorization": f"Bearer {self.hs256_token()}"}),
            "floor+auth": lambda: _get("/", member),
            "naive": lambda: _get("/"),
            "api/health": lambda: _get("/api/health"),
            "api/vin/[vin]": lambda: _get("/api/vin/1HGCM82633A004352?vin=1HGCM82633A004352"),
            "api/vehicles/index": lambda: _get("/api/vehicles?limit=20", member),
            "api/vehicles/[id]/index": lambda: _get(f"/api/vehicles/{vid}?id={vid}", member),
            "api/vehicles/[id]/maintenance": lambda: _get(
                f"/api/vehicles/{vid}/maintenance?id={vid}", member
            ),
            "api/me": lambda: _get("/api/me", member),
            # One representative request per merged function: a sign-in, the user list.
            "api/auth": lambda: _post("/api/auth/login", {"email": a.member_email, "password": PASSWORD}),
            "api/admin": lambda: _get("/api/admin/users?limit=20", admin),
            "api/openapi": lambda: _get("/api/openapi.json"),
            "api/docs": lambda: _get("/api/docs"),
        }
        request = builders[name]()
        request["headers"] = {**self._ip(), **request["headers"]}
        return request


def _get(path: str, headers: Mapping[str, str] | None = None) -> Request:
    return {"method": "GET", "path": path, "headers": dict(headers or {})}


def _post(path: str, body: Any, headers: Mapping[str, str] | None = None) -> Request:
    request: Request = {"method": "POST", "path": path, "headers": dict(headers or {})}
    if body is not None:
        request["body"] = json.dumps(body)
        request["headers"]["Content-Type"] = "application/json"
    return request


# Statuses a representative request must get, so the run measures the path it means to
# (200 unless listed: api/auth's sign-in and api/admin's user list are 200s too).
EXPECTED: dict[str, int] = {}


@contextmanager
def maybe_stack(wanted: bool) -> Iterator[Any]:
    """A throwaway local stack while the block runs when `wanted`, else None."""
    if not wanted:
        yield None
        return
    log("coldstart: starting a throwaway local stack for the first requests")
    from devstack.stack import running_stack
    from devstack.stack_settings import throwaway_settings

    with running_stack(throwaway_settings("coldstart-stack-")) as stack:
        yield stack


def child_environment(requests: Requests | None) -> dict[str, str]:
    """The environment of a measured process: the API settings of the stack, or of `make dev`'s."""
    if requests is not None:
        settings = requests.environment()
    else:
        from devstack.stack_settings import resolve_stack_settings

        environ = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
        settings = dict(resolve_stack_settings(environ=environ).api_environment())
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **settings}
