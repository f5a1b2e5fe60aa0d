"""Migrations apply from zero, re-running is a no-op, failures name the file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack import migrate
from devstack.stack import Stack


@pytest.fixture
def scratch_db(stack: Stack) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An empty database in the test cluster, bootstrapped like a fresh Supabase project."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        with psycopg.connect(stack.postgres.dsn(db=name), autocommit=True) as conn:
            migrate.bootstrap(conn, authenticator_password="x", auth_admin_password="y")
            yield conn
    finally:
        with psycopg.connect(stack.postgres.dsn(), autocommit=True) as admin:
            admin.execute(f'drop database "{name}" with (force)')
        # The bootstrap above changed cluster-wide role passwords: put the stack's back.
        with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
            migrate.bootstrap(
                conn,
                authenticator_password=stack.settings.authenticator_password,
                auth_admin_password=stack.settings.auth_admin_password,
            )


def test_every_migration_applies_from_zero_and_twice_is_a_noop(
    scratch_db: psycopg.Connection[tuple[object, ...]], repo_root: Path
) -> None:
    directory = repo_root / "supabase" / "migrations"
    applied = migrate.apply_migrations(scratch_db, directory)
    assert [m.path.name for m in applied] == sorted(p.name for p in directory.glob("*.sql"))
    recorded = scratch_db.execute(
        "select version, name from supabase_migrations.schema_migrations order by version"
    ).fetchall()
    assert recorded == [(m.version, m.name) for m in applied]
    assert migrate.apply_migrations(scratch_db, directory) == []


def test_bootstrap_is_idempotent(scratch_db: psycopg.Connection[tuple[object, ...]]) -> None:
    migrate.bootstrap(scratch_db, authenticator_password="x", auth_admin_password="y")
    migrate.bootstrap(scratch_db, authenticator_password="x", auth_admin_password="y")


def test_failing_migration_names_file_and_error_and_applies_nothing(
    scratch_db: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    (tmp_path / "20260101000000_good.sql").write_text("create table public.t_good (id int);")
    (tmp_path / "20260101000001_bad.sql").write_text(
        "create table public.t_bad (id int);\nselect * from no_such_table;"
    )
    (tmp_path / "20260101000002_later.sql").write_text("create table public.t_later (id int);")
    with pytest.raises(migrate.MigrationError) as failure:
        migrate.apply_migrations(scratch_db, tmp_path)
    message = str(failure.value)
    assert "20260101000001_bad.sql" in message
    assert 'relation "no_such_table" does not exist' in message
    assert "line 2" in message
    exists = scratch_db.execute(
        "select to_regclass('public.t_good'), to_regclass('public.t_bad'), to_regclass('public.t_later')"
    ).fetchone()
    assert exists == ("t_good", None, None)
    assert migrate.applied_versions(scratch_db) == {"20260101000000"}


def test_badly_named_migration_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "add_things.sql").write_text("select 1;")
    with pytest.raises(migrate.MigrationError, match=r"YYYYMMDDHHMMSS_name\.sql"):
        migrate.migration_files(tmp_path)


def test_migration_file_names_follow_the_convention(repo_root: Path) -> None:
    files = migrate.migration_files(repo_root / "supabase" / "migrations")
    assert files, "no migrations found"
