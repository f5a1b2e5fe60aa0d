"""What the local Auth's tests share: settings, a served instance, and the HTTP and mail calls they make."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from jose import jwt

from devstack import inbox
from devstack.auth import (
    AuthConfig,
    make_server,
)
from devstack.postgres import PostgresServer
from tests.support import served

REPO_ROOT = Path(__file__).resolve().parents[3]
JWT_SECRET = "test-jwt-secret-with-at-least-32-characters-long"
AUTH_ADMIN_PASSWORD = "auth-admin-test-password"
ISSUER = "http://127.0.0.1:54321/auth/v1"
PASSWORD = "correct-horse-battery"
HOOK = "public.custom_access_token_hook"
HOOK_URI = "pg-functions://postgres/public/custom_access_token_hook"
KID = "devstack-test-key"
TIMEOUT = 10
NEW_API = {"X-Supabase-Api-Version": "2024-01-01"}
CLAIM_NAMES = {
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "email",
    "phone",
    "app_metadata",
    "user_metadata",
    "role",
    "aal",
    "amr",
    "session_id",
    "is_anonymous",
}


SITE = "http://127.0.0.1:3000"
CODE = re.compile(r"enter the code: (\d{6})")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def random_email() -> str:
    """A fresh, unique address."""
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def service_jwt(secret: str = JWT_SECRET) -> str:
    """A legacy service_role JWT signed with `secret`."""
    claims = {"role": "service_role", "iss": "supabase-demo", "exp": int(time.time()) + 3600}
    return str(jwt.encode(claims, secret, algorithm="HS256"))


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def decode_claims(token: str) -> dict[str, Any]:
    """The verified claims of an HS256 access token from the test instance."""
    return dict(jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="authenticated", issuer=ISSUER))


def auth_config(postgres: PostgresServer, **overrides: Any) -> AuthConfig:
    """The test instance's AuthConfig on `postgres` (hook configured, cheap bcrypt), with overrides."""
    values: dict[str, Any] = {
        "dsn": postgres.dsn("supabase_auth_admin", AUTH_ADMIN_PASSWORD),
        "jwt_secret": JWT_SECRET,
        "issuer": ISSUER,
        "hook": HOOK,
        "bcrypt_rounds": 4,
    }
    values.update(overrides)
    return AuthConfig(**values)


@contextmanager
def serving(config: AuthConfig) -> Iterator[str]:
    """Serve `config` on a free port in a thread for the block; yields its URL."""
    with served(make_server("127.0.0.1", 0, config)) as url:
        yield url


def post_json(url: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
    """POST `body` as JSON to the service."""
    return requests.post(f"{url}{path}", json=body, timeout=TIMEOUT, **kwargs)


def sign_up(url: str, email: str | None = None, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    """Sign up (a random address unless given); the session. Fails the test unless 200."""
    response = post_json(url, "/signup", {"email": email or random_email(), "password": password, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def sign_in_with_password(url: str, email: str, password: str = PASSWORD) -> requests.Response:
    """The password grant's response."""
    return post_json(url, "/token?grant_type=password", {"email": email, "password": password})


def refresh_session(url: str, refresh_token: str) -> requests.Response:
    """The refresh_token grant's response."""
    return post_json(url, "/token?grant_type=refresh_token", {"refresh_token": refresh_token})


@contextmanager
def inbox_server() -> Iterator[str]:
    """An in-process local inbox for the block; yields its URL."""
    with served(inbox.make_server(0)) as url:
        yield url


def mail_config(server: PostgresServer, mailbox: str, **overrides: Any) -> AuthConfig:
    """An AuthConfig that mails `mailbox`, without hook or frequency limit, with overrides."""
    base = auth_config(server, hook=None, inbox_url=mailbox, max_frequency=0.0, site_url=SITE)
    return replace(base, **overrides)


def latest_mail(mailbox: str, address: str) -> dict[str, Any]:
    """The newest message to `address`. Fails the test if there is none."""
    message = inbox.latest_message(mailbox, address)
    assert message is not None, f"no mail to {address}"
    return message


def mail_count(mailbox: str, address: str) -> int:
    """How many messages went to `address`."""
    found = requests.get(f"{mailbox}/api/v1/search", params={"query": f"to:{address}"}, timeout=TIMEOUT)
    return int(found.json()["messages_count"])


def mail_link(message: dict[str, Any]) -> str:
    """The link in a message. Fails the test if there is none."""
    link = inbox.message_link(message)
    assert link is not None
    return link


def follow_link(service: str, link: str) -> requests.Response:
    """Open an emailed link (its host is the public issuer) on the service, without following the 303."""
    parts = urlsplit(link)
    assert parts.path == "/auth/v1/verify"
    return requests.get(f"{service}/verify?{parts.query}", allow_redirects=False, timeout=TIMEOUT)


def redirect_fragment(response: requests.Response) -> dict[str, str]:
    """The parameters in a 303's Location fragment. Fails the test unless the response is a 303."""
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    return {
        key: values[0]
        for key, values in parse_qs(urlsplit(location).fragment, keep_blank_values=True).items()
    }


def get_user(service: str, token: str) -> requests.Response:
    """GET /user with the token."""
    return requests.get(f"{service}/user", headers=bearer(token), timeout=TIMEOUT)


def put_user(service: str, token: str, body: dict[str, Any]) -> requests.Response:
    """PUT /user with the token."""
    return requests.put(f"{service}/user", json=body, headers=bearer(token), timeout=TIMEOUT)


def admin_headers() -> dict[str, str]:
    """The Authorization header of a service_role caller."""
    return bearer(service_jwt())
