"""Fixtures for the local Auth's tests: one throwaway Postgres for the package, services and clients on it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient

from devstack.migrate import bootstrap
from devstack.postgres import PostgresServer
from tests.devstack.auth.harness import (
    AUTH_ADMIN_PASSWORD,
    KID,
    auth_config,
    bearer,
    free_port,
    inbox_server,
    mail_config,
    service_jwt,
    serving,
)


@pytest.fixture(scope="package")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway Postgres with Supabase's roles and auth schema."""
    # Not under tmp_path_factory: every pytest start re-tightens /tmp/pytest-of-<user> to 0700,
    # which locks the unprivileged postgres account (used when running as root) out of its
    # data directory whenever another pytest session starts concurrently.
    root = Path(tempfile.mkdtemp(prefix="auth-service-"))
    server = PostgresServer(root / "db", free_port(), "postgres", durable=False)
    try:
        server.init()
        server.start()
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            bootstrap(
                conn,
                authenticator_password="authenticator-test-password",
                auth_admin_password=AUTH_ADMIN_PASSWORD,
                cli_login_password="cli-login-test-password",
            )
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def auth(postgres: PostgresServer) -> Iterator[str]:
    """The service URL (HS256, hook configured but only present while a test installs it)."""
    with serving(auth_config(postgres)) as url:
        yield url


@pytest.fixture(scope="module")
def es256(postgres: PostgresServer) -> Iterator[tuple[str, dict[str, Any]]]:
    """A second instance signing with a generated P-256 key, and that private JWK."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = {**jwk.construct(pem, "ES256").to_dict(), "kid": KID}
    with serving(auth_config(postgres, signing_jwk=key, hook=None)) as url:
        yield url, key


@pytest.fixture
def db(postgres: PostgresServer) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A superuser connection for setup and checks."""
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def client(auth: str) -> Iterator[SyncGoTrueClient]:
    """supabase-py's auth client pointed at the service."""
    gotrue = SyncGoTrueClient(url=auth, headers={}, auto_refresh_token=False, persist_session=False)
    try:
        yield gotrue
    finally:
        gotrue.close()


@pytest.fixture
def admin(auth: str) -> Iterator[SyncGoTrueAdminAPI]:
    """supabase-py's admin API with a service_role JWT."""
    api = SyncGoTrueAdminAPI(url=auth, headers=bearer(service_jwt()))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def install_hook(db: psycopg.Connection[tuple[Any, ...]]) -> Iterator[Callable[[str], None]]:
    """Create public.custom_access_token_hook with a given plpgsql body; dropped afterwards."""

    def install(body: str) -> None:
        db.execute(
            "create or replace function public.custom_access_token_hook(event jsonb)"
            f" returns jsonb language plpgsql as $$ {body} $$"
        )
        # Supabase's documented grants: only the Auth server may run the hook.
        db.execute("revoke execute on function public.custom_access_token_hook from public")
        db.execute("grant execute on function public.custom_access_token_hook to supabase_auth_admin")

    try:
        yield install
    finally:
        db.execute("drop function if exists public.custom_access_token_hook(jsonb)")


@pytest.fixture(scope="module")
def mailbox() -> Iterator[str]:
    """An in-process local inbox."""
    with inbox_server() as url:
        yield url


@pytest.fixture(scope="module")
def confirm(postgres: PostgresServer, mailbox: str) -> Iterator[str]:
    """A service with [auth.email] enable_confirmations = true."""
    with serving(mail_config(postgres, mailbox, mailer_autoconfirm=False)) as url:
        yield url


@pytest.fixture(scope="module")
def auto(postgres: PostgresServer, mailbox: str) -> Iterator[str]:
    """A service with confirmations off (autoconfirm), as disposable test stacks run."""
    with serving(mail_config(postgres, mailbox)) as url:
        yield url
