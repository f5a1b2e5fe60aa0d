"""Shared fixtures: one real local stack (Postgres, PostgREST, Auth, gateway, API) per test run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from devstack.stack import Stack
from devstack.stack_settings import StackSettings, throwaway_settings
from tests.support import ApiClient, Gateway


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[StackSettings]:
    """Free ports and a throwaway data directory, so tests never touch `make dev`'s stack."""
    settings = throwaway_settings("api-test-stack-")
    yield settings
    shutil.rmtree(settings.data_dir, ignore_errors=True)


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
