"""Shared fixtures: one real local stack (Postgres, PostgREST, Auth, gateway, API) per test run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import requests

from devstack.stack import Stack, StackSettings, free_port, resolve_stack_settings
from tests.support import ApiClient, Gateway


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[StackSettings]:
    """Free ports and a throwaway data directory, so tests never touch `make dev`'s stack."""
    base = resolve_stack_settings(
        environ={k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
    )
    # Not pytest's tmp_path: pytest keeps its root 0700, and Postgres runs as an
    # unprivileged user when the tests run as root.
    data_dir = Path(tempfile.mkdtemp(prefix="api-test-stack-"))
    yield replace(
        base,
        data_dir=data_dir,
        db_port=free_port(),
        api_port=free_port(),
        app_port=free_port(),
        postgrest_port=free_port(),
        auth_port=free_port(),
        durable=False,
    )
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(stack_settings: StackSettings) -> Iterator[Stack]:
    """The running stack; stopped when the session ends."""
    running = Stack(stack_settings)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> ApiClient:
    """An HTTP client for the API dev server (base URL …/api)."""
    return ApiClient(stack.settings.api_url)


@pytest.fixture(scope="session")
def supabase_url(stack: Stack) -> str:
    """The gateway URL (what SUPABASE_URL points to)."""
    return stack.settings.supabase_url


@pytest.fixture
def gateway(stack: Stack) -> Iterator[Gateway]:
    """Control the gateway's counters and faults; faults are cleared after the test."""
    control = Gateway(stack.settings.supabase_url)
    try:
        yield control
    finally:
        control.clear_faults()


@pytest.fixture
def db(stack: Stack) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A superuser connection to the test database (autocommit)."""
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """A plain requests session for calls outside the API (gateway, PostgREST)."""
    with requests.Session() as session:
        yield session
