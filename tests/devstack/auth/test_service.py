"""The router and the HTTP server: health, unknown paths, concurrency, and `python -m devstack.auth`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from devstack.postgres import PostgresServer
from tests.devstack.auth.harness import (
    AUTH_ADMIN_PASSWORD,
    ISSUER,
    JWT_SECRET,
    PASSWORD,
    REPO_ROOT,
    TIMEOUT,
    post_json,
    random_email,
    refresh_session,
    sign_in_with_password,
    sign_up,
)


def test_health_settings_and_empty_jwks(auth: str) -> None:
    health = requests.get(f"{auth}/health", timeout=TIMEOUT)
    assert health.status_code == 200
    assert health.json() == {
        "version": "devstack",
        "name": "GoTrue",
        "description": "local Auth-compatible service",
    }
    settings = requests.get(f"{auth}/settings", timeout=TIMEOUT).json()
    assert settings["external"]["email"] is True
    assert settings["disable_signup"] is False
    assert settings["mailer_autoconfirm"] is True
    assert requests.get(f"{auth}/.well-known/jwks.json", timeout=TIMEOUT).json() == {"keys": []}


def test_unknown_paths_methods_and_bodies(auth: str) -> None:
    missing = requests.get(f"{auth}/nope", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json() == {"code": 404, "error_code": "not_found", "msg": "Not Found"}
    wrong_method = requests.get(f"{auth}/signup", timeout=TIMEOUT)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert wrong_method.json()["error_code"] == "method_not_allowed"
    assert requests.patch(f"{auth}/admin/users/{uuid.uuid4()}", timeout=TIMEOUT).status_code == 405
    broken = requests.post(
        f"{auth}/signup", data="{", headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert broken.status_code == 400
    assert broken.json()["error_code"] == "bad_json"
    assert broken.json()["msg"].startswith("Could not parse request body as JSON: ")


def test_concurrent_requests_use_separate_connections(auth: str) -> None:
    email = random_email()
    sign_up(auth, email=email)
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: sign_in_with_password(auth, email), range(16)))
    assert [response.status_code for response in responses] == [200] * 16
    assert len({response.json()["refresh_token"] for response in responses}) == 16

    contested = random_email()
    with ThreadPoolExecutor(max_workers=8) as pool:
        signups = list(
            pool.map(
                lambda _: post_json(auth, "/signup", {"email": contested, "password": PASSWORD}), range(8)
            )
        )
    assert sorted(response.status_code for response in signups) == [200] + [422] * 7


def test_main_serves_from_the_environment_and_never_logs_secrets(postgres: PostgresServer) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AUTH_", "SUPABASE_"))}
    env.update(
        {
            "AUTH_DB_DSN": postgres.dsn("supabase_auth_admin", AUTH_ADMIN_PASSWORD),
            "SUPABASE_JWT_SECRET": JWT_SECRET,
            "AUTH_ISSUER": ISSUER,
            "AUTH_BCRYPT_ROUNDS": "4",
            "PYTHONUNBUFFERED": "1",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.auth", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("auth service listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        session = sign_up(url)
        refreshed = refresh_session(url, session["refresh_token"])
        assert refreshed.status_code == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0
    assert "POST /signup 200" in stderr
    assert "POST /token 200" in stderr
    for secret in (
        PASSWORD,
        session["refresh_token"],
        refreshed.json()["refresh_token"],
        session["access_token"],
    ):
        assert secret not in stderr

    missing = subprocess.run(
        [sys.executable, "-m", "devstack.auth"],
        cwd=REPO_ROOT,
        env={key: value for key, value in env.items() if key != "AUTH_DB_DSN"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
        check=False,
    )
    assert missing.returncode == 2
    assert "AUTH_DB_DSN" in missing.stderr
