"""An isolated stack for the reliability tests: distinctive secrets, a short upstream read timeout.

Fault tests stop, pause and restart its processes and change its database roles, which the shared
`stack` must never see; the secrets test then searches everything this stack said and logged for its
secret values. Its read timeout is 2 s (8 s in production) so that "too slow" costs 2 s, not 8.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import requests

from devstack.stack import Stack, running_stack
from devstack.stack_settings import throwaway_settings
from tests.api.conftest import actors  # noqa: F401 (the route tests' fresh users, shared here)
from tests.factories import User, create_user
from tests.support import ApiClient, Gateway

READ_TIMEOUT = 2.0  # the isolated stack's UPSTREAM_READ_TIMEOUT, in seconds
MAX_DURATION = 15.0  # vercel.json functions.maxDuration

# Fragments of what PostgREST, Postgres, Auth or the gateway say: never part of an API answer.
UPSTREAM_TEXT = (
    "PGRST",
    "PostgREST",
    "postgres",
    "psycopg",
    "SQLSTATE",
    "57014",
    "canceling statement",
    "statement timeout",
    "upstream unavailable",
    "name resolution failed",
    "<html",
    "Bad Gateway</title>",
    "Traceback",
    "no Route matched",
)

# Request ids (32 hex digits) and UUIDs are random: "57014" turns up inside one now and then.
_RANDOM_IDS = re.compile(r"[0-9a-f-]{32,}")


def upstream_text_in(text: str) -> list[str]:
    """The UPSTREAM_TEXT fragments found in an answer, ignoring the random ids it carries."""
    scanned = _RANDOM_IDS.sub("", text.lower())
    return [fragment for fragment in UPSTREAM_TEXT if fragment.lower() in scanned]


@dataclass(frozen=True)
class Secrets:
    """The isolated stack's secret values (each distinctive, so any occurrence is a leak)."""

    jwt_secret: str
    secret_key: str
    db_password: str
    authenticator_password: str
    auth_admin_password: str
    demo_password: str
    service_role_jwt: str

    def values(self) -> dict[str, str]:
        """Secret name -> value."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _distinctive(label: str) -> str:
    return f"{label}-{secrets.token_hex(16)}"


@pytest.fixture(scope="package")
def isolated_stack() -> Iterator[Stack]:
    """A second stack on free ports with distinctive secrets and UPSTREAM_READ_TIMEOUT=2."""
    settings = throwaway_settings(
        "api-reliability-stack-",
        jwt_secret=_distinctive("reliability-jwt-secret"),
        publishable_key="sb_publishable_" + secrets.token_hex(16),
        secret_key="sb_secret_" + secrets.token_hex(16),
        db_password=_distinctive("db-password"),
        authenticator_password=_distinctive("authenticator-password"),
        auth_admin_password=_distinctive("auth-admin-password"),
        demo_password=_distinctive("demo-password"),
        extra_api_env={"UPSTREAM_READ_TIMEOUT": str(READ_TIMEOUT)},
    )
    with running_stack(settings) as running:
        yield running


@pytest.fixture(scope="package")
def stack_secrets(isolated_stack: Stack) -> Secrets:
    """The isolated stack's secrets."""
    s = isolated_stack.settings
    return Secrets(
        jwt_secret=s.jwt_secret,
        secret_key=s.secret_key,
        db_password=s.db_password,
        authenticator_password=s.authenticator_password,
        auth_admin_password=s.auth_admin_password,
        demo_password=s.demo_password,
        service_role_jwt=s.service_role_jwt,
    )


@pytest.fixture(scope="package")
def iapi(isolated_stack: Stack) -> ApiClient:
    """An HTTP client for the isolated stack's API."""
    return ApiClient(isolated_stack.settings.api_url)


@pytest.fixture
def igateway(isolated_stack: Stack) -> Iterator[Gateway]:
    """The isolated stack's gateway controls; faults are cleared after each test."""
    control = Gateway(isolated_stack.settings.supabase_url)
    try:
        yield control
    finally:
        control.clear_faults()


@pytest.fixture
def idb(isolated_stack: Stack) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A superuser connection to the isolated stack's database (autocommit)."""
    with psycopg.connect(isolated_stack.postgres.dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def member(idb: psycopg.Connection[Any], isolated_stack: Stack) -> User:
    """A fresh member of the isolated stack (their own rate-limit buckets)."""
    return create_user(idb, isolated_stack.settings, "member")


def assert_clean_problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """A problem+json answer with this status and code that repeats nothing an upstream said."""
    from tests.support import assert_problem

    body = assert_problem(response, status, code)
    assert not upstream_text_in(response.text), response.text
    assert set(body) <= {"type", "title", "status", "code", "detail", "instance", "request_id", "errors"}
    return body
