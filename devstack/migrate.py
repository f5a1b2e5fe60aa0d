"""Bootstrap, migrate and seed the local database the way the Supabase CLI does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

BOOTSTRAP_SQL = Path(__file__).with_name("bootstrap.sql")
MIGRATION_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
PLACEHOLDER = re.compile(r":'(?P<name>[a-z_]+)'")


class MigrationError(RuntimeError):
    """A migration, the bootstrap or the seed failed; the message names the file."""


@dataclass(frozen=True)
class Migration:
    """One file of supabase/migrations."""

    version: str
    name: str
    path: Path


def migration_files(directory: Path) -> list[Migration]:
    """Migrations in apply order. Raises MigrationError for a file not named YYYYMMDDHHMMSS_name.sql."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files must be named YYYYMMDDHHMMSS_name.sql")
        found.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version timestamp")
    return found


def _describe(error: psycopg.Error, source: str) -> str:
    diag = error.diag
    text = diag.message_primary or str(error)
    position = diag.statement_position
    if position:
        line = source[: int(position)].count("\n") + 1
        text += f" (line {line})"
    if diag.message_detail:
        text += f"\nDETAIL: {diag.message_detail}"
    if diag.context:
        text += f"\nCONTEXT: {diag.context}"
    return text


def run_script(conn: psycopg.Connection[object], path: Path, variables: dict[str, str] | None = None) -> None:
    """Run one SQL file in its own transaction. Raises MigrationError naming the file."""
    source = path.read_text()
    script = source
    if variables:
        values = variables

        def literal(match: re.Match[str]) -> str:
            return sql.Literal(values[match["name"]]).as_string(conn)

        script = PLACEHOLDER.sub(literal, source)
    try:
        with conn.transaction():
            conn.execute(script.encode())
    except psycopg.Error as error:
        raise MigrationError(f"{path.name} failed: {_describe(error, source)}") from None


def bootstrap(
    conn: psycopg.Connection[object], *, authenticator_password: str, auth_admin_password: str
) -> None:
    """Create the roles, auth schema and grants hosted Supabase provides. Idempotent."""
    run_script(
        conn,
        BOOTSTRAP_SQL,
        {
            "authenticator_password": authenticator_password,
            "auth_admin_password": auth_admin_password,
        },
    )


def applied_versions(conn: psycopg.Connection[object]) -> set[str]:
    """Versions recorded in supabase_migrations.schema_migrations."""
    rows = conn.execute("select version from supabase_migrations.schema_migrations").fetchall()
    return {str(row[0]) for row in rows}  # type: ignore[index]


def apply_migrations(conn: psycopg.Connection[object], directory: Path) -> list[Migration]:
    """Apply the migrations not yet recorded, each in its own transaction; return them.

    Raises MigrationError with the file name and the Postgres error at the first failure.
    """
    done = applied_versions(conn)
    applied = []
    for migration in migration_files(directory):
        if migration.version in done:
            continue
        source = migration.path.read_text()
        try:
            with conn.transaction():
                conn.execute(source.encode())
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements)"
                    " values (%s, %s, %s)",
                    (migration.version, migration.name, [source]),
                )
        except psycopg.Error as error:
            raise MigrationError(f"{migration.path.name} failed: {_describe(error, source)}") from None
        applied.append(migration)
    if applied:
        # Tell a running PostgREST to reload its schema cache.
        conn.execute("notify pgrst, 'reload schema'")
    return applied
