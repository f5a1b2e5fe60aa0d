"""Secrets never leak: not in any answer (body or header), not in the API's log, not from `lib.config`.

The isolated stack runs with distinctive values for every secret (JWT secret, secret key, the
database, authenticator and Auth admin passwords, the demo users' password; the service-role JWT
derives from the JWT secret). A sweep drives every route on its success and error paths, with the
upstreams failing in each way, and every response is searched; then the logs of everything the
isolated stack ran (this module, and tests/reliability/test_faults.py before it) are searched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from devstack.stack import Stack
from devstack.stack_settings import DEMO_USERS
from tests.factories import create_user, create_vehicle, mint_token, north_american_vin
from tests.reliability.conftest import Secrets
from tests.support import ApiClient, Gateway, random_ip

ROOT = Path(__file__).resolve().parent.parent.parent


def fragments(secrets: Secrets) -> dict[str, str]:
    """What would betray each secret: the whole value, and its random part alone."""
    found: dict[str, str] = {}
    for name, value in secrets.values().items():
        found[name] = value
        tail = value.rsplit("-", 1)[-1].removeprefix("sb_secret_")
        if len(tail) >= 16 and tail != value:
            found[f"{name} (random part)"] = tail[:16]
    return found


class Recorder:
    """Every response of the sweep, for the search."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.responses: list[requests.Response] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("headers", {})
        kwargs["headers"].setdefault("X-Forwarded-For", random_ip())
        response = self.api.request(method, path, **kwargs)
        self.responses.append(response)
        return response

    def text(self, response: requests.Response) -> str:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        return f"{response.status_code} {response.url}\n{headers}\n\n{response.text}"


@pytest.fixture(scope="module")
def sweep(isolated_stack: Stack, iapi: ApiClient) -> Recorder:
    """Drive every route, on its success and failure paths; yield the recorder with the responses."""
    settings = isolated_stack.settings
    call = Recorder(iapi)
    gateway = Gateway(settings.supabase_url)
    with psycopg.connect(isolated_stack.postgres.dsn(), autocommit=True) as db:
        member = create_user(db, settings)
        other = create_user(db, settings)
        admin = create_user(db, settings, "admin")
        auth = member.headers
        _public_routes(call)
        _auth_routes(call, settings.demo_password)
        _vehicle_routes(call, db, member, other)
        _admin_routes(call, admin, member)
        _broken_credentials(call, settings, member.id)
        _malformed_requests(call, auth)
        _upstream_failures(call, gateway, db, member)
    return call


def _public_routes(call: Recorder) -> None:
    call("GET", "health")
    call("HEAD", "health")
    call("GET", "vin/1HGCM82633A004352")
    call("GET", "vin/1HGCM82633A004353")
    call("GET", "vin/nope")
    call("GET", "openapi.json")
    call("GET", "docs")
    call("GET", "nope")
    call("DELETE", "health")
    call(
        "OPTIONS",
        "vehicles",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
    )
    call(
        "OPTIONS",
        "vehicles",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )


def _auth_routes(call: Recorder, demo_password: str) -> None:
    email = f"secrets-{uuid.uuid4().hex[:8]}@example.test"
    call("POST", "auth/signup", json={"email": email, "password": "sweep-password-1"})
    call("POST", "auth/signup", json={"email": email, "password": "sweep-password-1"})  # 409
    call("POST", "auth/signup", json={"email": email, "password": "short"})  # 422
    ip = {"X-Forwarded-For": random_ip()}
    login = call("POST", "auth/login", json={"email": DEMO_USERS[0], "password": demo_password}, headers=ip)
    assert login.status_code == 200, login.text
    session = login.json()
    call("POST", "auth/refresh", json={"refresh_token": session["refresh_token"]})
    call("POST", "auth/refresh", json={"refresh_token": "not-a-refresh-token"})
    call("POST", "auth/refresh", cookies={"sb-refresh-token": session["refresh_token"]})  # 403: no CSRF
    call("GET", "me", headers={"Authorization": f"Bearer {session['access_token']}"})
    call("GET", "me", cookies={"sb-access-token": session["access_token"]})
    call("POST", "auth/logout", headers={"Authorization": f"Bearer {session['access_token']}"})
    wrong = {"email": DEMO_USERS[1], "password": "wrong-password-123"}
    for _ in range(6):  # 401 five times, then 429
        call("POST", "auth/login", json=wrong, headers=ip)


def _vehicle_routes(call: Recorder, db: psycopg.Connection[Any], member: Any, other: Any) -> None:
    auth = member.headers
    body = {"vin": north_american_vin(), "make": "Honda", "model": "Accord", "model_year": 2003}
    created = call("POST", "vehicles", json=body, headers={**auth, "Idempotency-Key": "sweep-1"})
    call("POST", "vehicles", json=body, headers={**auth, "Idempotency-Key": "sweep-1"})  # replay
    call("POST", "vehicles", json={**body, "make": "Ford"}, headers={**auth, "Idempotency-Key": "sweep-1"})
    call("POST", "vehicles", json=body, headers=auth)  # 409
    call("POST", "vehicles", json={**body, "vin": "1HGCM82633A004353"}, headers=auth)  # 422
    call("POST", "vehicles", json={**body, "owner_id": other.id}, headers=auth)  # 403
    vehicle = created.json()
    url = f"vehicles/{vehicle['id']}"
    etag = call("GET", url, headers=auth).headers["ETag"]
    call("GET", url, headers={**auth, "If-None-Match": etag})
    call("GET", url, headers=other.headers)  # 404
    call("GET", "vehicles", headers=auth, params={"q": "Hon", "sort": "-make", "limit": "1"})
    call("GET", "vehicles", headers=auth, params={"cursor": "forged.cursor"})
    call("PATCH", url, json={"odometer_km": 500}, headers={**auth, "If-Match": etag})
    call("PATCH", url, json={"odometer_km": 100}, headers=auth)  # rollback
    call("PATCH", url, json={"color": "red"}, headers={**auth, "If-Match": etag})  # 412
    call(
        "POST",
        f"{url}/maintenance",
        json={"performed_at": "2026-01-02", "odometer_km": 900, "kind": "tires"},
        headers=auth,
    )
    call("GET", f"{url}/maintenance", headers=auth)
    call("DELETE", url, headers=other.headers)  # 404
    call("DELETE", url, headers=auth)
    for _ in range(3):
        call("GET", f"vehicles/{create_vehicle(db, member)['id']}", headers=auth)


def _admin_routes(call: Recorder, admin: Any, member: Any) -> None:
    call("GET", "admin/users", headers=admin.headers)
    call("GET", "admin/users", headers=member.headers)  # 403
    call("PUT", f"admin/users/{member.id}/role", json={"role": "manager"}, headers=admin.headers)
    call("PUT", f"admin/users/{admin.id}/role", json={"role": "member"}, headers=admin.headers)
    call("GET", "admin/audit", headers=admin.headers, params={"table": "vehicles"})


def _broken_credentials(call: Recorder, settings: Any, user_id: str) -> None:
    call(
        "GET", "me", headers={"Authorization": "Bearer " + mint_token(settings, user_id, ttl=-10)}
    )  # expired
    forged = settings.__class__.__new__(settings.__class__)
    forged.__dict__.update(settings.__dict__)
    object.__setattr__(forged, "jwt_secret", "x" * 40)
    call("GET", "me", headers={"Authorization": "Bearer " + mint_token(forged, user_id)})  # wrong key
    call("GET", "me", headers={"Authorization": f"Bearer {settings.service_role_jwt}"})
    call("GET", "me", headers={"Authorization": f"Bearer {settings.secret_key}"})
    call("GET", "vehicles", headers={"apikey": settings.secret_key})


def _malformed_requests(call: Recorder, auth: dict[str, str]) -> None:
    json_headers = {**auth, "Content-Type": "application/json"}
    call("POST", "vehicles", data=b"{bad json", headers=json_headers)
    call("POST", "vehicles", data=b'{"a": 1, "a": 2}', headers=json_headers)
    call("POST", "vehicles", data=b"x" * 70_000, headers=json_headers)
    call("POST", "vehicles", data=b"{}", headers={**auth, "Content-Type": "text/plain"})
    call("GET", "vehicles", headers=auth, params={"select": "*", "owner_id": "neq.x"})


def _upstream_failures(call: Recorder, gateway: Gateway, db: psycopg.Connection[Any], member: Any) -> None:
    vehicle = create_vehicle(db, member)
    url = f"vehicles/{vehicle['id']}"
    body = {"vin": north_american_vin(), "make": "Honda", "model": "Accord", "model_year": 2003}
    try:
        for mode in ("down", "html", "truncate", "drop"):
            gateway.fault("/rest/v1", mode)
            call("GET", url, headers=member.headers)
            call("POST", "vehicles", json=body, headers=member.headers)
            call("GET", "health")
            gateway.clear_faults()
            gateway.fault("/auth/v1", mode)
            call("POST", "auth/login", json={"email": DEMO_USERS[2], "password": "whatever-password"})
            gateway.clear_faults()
        gateway.fault("/rest/v1", "delay", seconds=3.0, remaining=1, match="/vehicles?")
        call("GET", url, headers=member.headers)
    finally:
        gateway.clear_faults()


def test_the_sweep_reached_every_kind_of_answer(sweep: Recorder) -> None:
    statuses = {response.status_code for response in sweep.responses}
    expected = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 502, 503, 504}
    assert expected <= statuses, expected - statuses


def test_no_secret_in_any_response(sweep: Recorder, stack_secrets: Secrets) -> None:
    leaks = [
        f"{name} in {sweep.text(response)[:300]}"
        for response in sweep.responses
        for name, value in fragments(stack_secrets).items()
        if value in sweep.text(response)
    ]
    assert not leaks, "\n".join(leaks)


def test_no_secret_in_the_logs(sweep: Recorder, isolated_stack: Stack, stack_secrets: Secrets) -> None:
    time.sleep(0.2)  # the last log lines are flushed per request; let the API finish writing
    logs = sorted(isolated_stack.log_dir.glob("*.log"))
    api_log = isolated_stack.log_dir / "api.log"
    assert api_log in logs
    assert '"event":"request"' in api_log.read_text()  # the log is the one the API writes
    leaks = [
        f"{name} in {log.name}"
        for log in logs
        for name, value in fragments(stack_secrets).items()
        if value in log.read_text(errors="replace")
    ]
    assert not leaks, leaks


def _lib_config(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SUPABASE_", "NEXT_PUBLIC_", "APP_", "VERCEL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "lib.config"],
        cwd=ROOT,
        env={**base, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_lib_config_masks_every_secret(stack_secrets: Secrets, isolated_stack: Stack) -> None:
    settings = isolated_stack.settings
    for environment, secret_key_variable, secret_key in (
        ("production", "SUPABASE_SECRET_KEY", settings.secret_key),
        ("preview", "SUPABASE_SERVICE_ROLE_KEY", settings.service_role_jwt),
        ("development", "SUPABASE_SECRET_KEY", settings.secret_key),
    ):
        result = _lib_config(
            {
                "APP_ENV": environment,
                "SUPABASE_URL": "https://project-ref.supabase.co",
                "SUPABASE_PUBLISHABLE_KEY": settings.publishable_key,
                secret_key_variable: secret_key,
                "SUPABASE_JWT_SECRET": settings.jwt_secret,
            }
        )
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        for name, value in fragments(stack_secrets).items():
            assert value not in output, (environment, name)
        rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
        assert "****" in rows["secret_key"]
        assert "****" in rows["jwt_secret"]
        assert secret_key_variable in rows["secret_key"]


def test_lib_config_failure_names_settings_not_values(stack_secrets: Secrets, isolated_stack: Stack) -> None:
    settings = isolated_stack.settings
    result = _lib_config(
        {
            "APP_ENV": "production",
            "SUPABASE_URL": "not a url " + settings.secret_key,
            "SUPABASE_SECRET_KEY": settings.secret_key,
            "SUPABASE_JWT_SECRET": settings.jwt_secret,
        }
    )
    assert result.returncode == 1
    assert "SUPABASE_URL" in result.stderr
    for name, value in fragments(stack_secrets).items():
        assert value not in result.stdout + result.stderr, name
