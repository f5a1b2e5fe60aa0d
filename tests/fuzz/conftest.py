"""Fixtures for the schemathesis run: a stack with raised rate limits and real users signed in through it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest
import requests

from devstack.stack import Stack
from devstack.stack_settings import StackSettings
from tests.factories import User
from tests.support import random_ip

# The fuzzer sends thousands of requests a minute as one user from one address; the limiter's
# exactness is proven elsewhere (tests/supabase/test_ratelimit.py, tests/reliability/test_concurrency.py).
UNLIMITED = "1000000/60"  # the most RATE_LIMIT_* accepts


@pytest.fixture(scope="session")
def stack_settings(stack_settings: StackSettings) -> StackSettings:
    """The root stack settings, with every rate limit out of the fuzzer's way."""
    return replace(
        stack_settings,
        extra_api_env={
            **stack_settings.extra_api_env,
            "RATE_LIMIT_READ": UNLIMITED,
            "RATE_LIMIT_WRITE": UNLIMITED,
            "RATE_LIMIT_AUTH": UNLIMITED,
            "RATE_LIMIT_LOGIN": UNLIMITED,
        },
    )


@dataclass(frozen=True)
class World:
    """Who the fuzzer acts as, and a database connection to give them fresh vehicles."""

    base_url: str
    alice: User  # the caller of every non-admin operation
    bob: User  # her peer: nothing of his may ever reach her
    admin: User  # the caller of the admin operations
    db: psycopg.Connection[Any]
    settings: StackSettings

    def tokens(self) -> dict[str, str]:
        """Access token by account name."""
        return {"alice": self.alice.token, "bob": self.bob.token, "admin": self.admin.token}


def sign_up(api_url: str, name: str, db: psycopg.Connection[Any], role: str = "member") -> User:
    """A real user: signed up and signed in through the API, so the token is one Auth issued."""
    body = {"email": f"fuzz-{name}-{uuid.uuid4().hex[:8]}@example.test", "password": f"pw-{uuid.uuid4().hex}"}
    headers = {"X-Forwarded-For": random_ip()}
    signup = requests.post(f"{api_url}/auth/signup", json=body, headers=headers, timeout=30)
    assert signup.status_code == 201, signup.text
    user_id = signup.json()["user"]["id"]
    if role != "member":
        db.execute("update public.user_roles set role = %s where user_id = %s", (role, user_id))
    login = requests.post(f"{api_url}/auth/login", json=body, headers=headers, timeout=30)
    assert login.status_code == 200, login.text
    session = login.json()
    assert session["user"] == {"id": user_id, "email": body["email"], "role": role}
    return User(user_id, body["email"], role, session["access_token"])


@pytest.fixture(scope="session")
def world(stack: Stack) -> Iterator[World]:
    """Alice, Bob and an admin, signed in through the API."""
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as db:
        api_url = stack.settings.api_url
        yield World(
            base_url=api_url.removesuffix("/api"),
            alice=sign_up(api_url, "alice", db),
            bob=sign_up(api_url, "bob", db),
            admin=sign_up(api_url, "admin", db, role="admin"),
            db=db,
            settings=stack.settings,
        )
