"""Bootstrap the local database like a hosted project, then migrate and seed it with the real Supabase CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

BOOTSTRAP_SQL = Path(__file__).with_name("bootstrap.sql")
MIGRATION_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
PLACEHOLDER = re.compile(r":'(?P<name>[a-z_]+)'")
NEW_NAME = re.compile(r"^[a-z0-9_]+$")
APPLYING = re.compile(r"^Applying migration (\d{14})_[a-z0-9_]+\.sql", re.MULTILINE)
CLI_LOGIN_ROLE = "cli_login_postgres"


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
    conn: psycopg.Connection[object],
    *,
    authenticator_password: str,
    auth_admin_password: str,
    cli_login_password: str,
) -> None:
    """Create the roles and auth schema a hosted Supabase project has before any migration. Idempotent."""
    run_script(
        conn,
        BOOTSTRAP_SQL,
        {
            "authenticator_password": authenticator_password,
            "auth_admin_password": auth_admin_password,
            "cli_login_password": cli_login_password,
        },
    )


def applied_versions(conn: psycopg.Connection[object]) -> set[str]:
    """Versions recorded in supabase_migrations.schema_migrations (empty before the first push)."""
    exists = conn.execute("select to_regclass('supabase_migrations.schema_migrations')").fetchone()
    if exists is None or exists[0] is None:  # type: ignore[index]
        return set()
    rows = conn.execute("select version from supabase_migrations.schema_migrations").fetchall()
    return {str(row[0]) for row in rows}  # type: ignore[index]


def supabase_cli(root: Path) -> Path:
    """The pinned Supabase CLI from node_modules. Raises MigrationError when it is not installed."""
    cli = root / "node_modules" / ".bin" / "supabase"
    if not cli.exists():
        raise MigrationError(f"{cli} is missing: run `npm ci` (make does) to install the pinned Supabase CLI")
    return cli


def cli_db_url(*, port: int, password: str, db: str = "postgres", host: str = "127.0.0.1") -> str:
    """The URL for `supabase db push`: a temporary login role acting as postgres, as on a hosted project."""
    return (
        f"postgresql://{CLI_LOGIN_ROLE}:{quote(password, safe='')}@{host}:{port}/{db}"
        "?sslmode=disable&options=-c%20role%3Dpostgres"
    )


def push(db_url: str, workdir: Path, *, seed: bool = False, cli_root: Path | None = None) -> list[str]:
    """Apply `workdir/supabase/migrations` with the real `supabase db push`; return the versions applied.

    Each migration runs in its own transaction and is recorded in the CLI's own
    history table. With seed, the config's seed files run too (the CLI records
    them and runs each once). Raises MigrationError with the CLI's output on failure.
    """
    migration_files(workdir / "supabase" / "migrations")  # refuse badly named files first
    args = [str(supabase_cli(cli_root or workdir)), "db", "push", "--db-url", db_url]
    args += ["--workdir", str(workdir), "--include-all", "--yes", *(["--include-seed"] if seed else [])]
    env = {**os.environ, "SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1", "NO_COLOR": "1"}
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env, timeout=300)
    output = (done.stdout + done.stderr).replace(db_url, "<db-url>")
    if done.returncode != 0:
        raise MigrationError(f"supabase db push failed:\n{output.strip()}")
    return APPLYING.findall(output)


def new_migration(root: Path, name: str) -> Path:
    """Create an empty migration with `supabase migration new`. Raises MigrationError."""
    if NEW_NAME.match(name) is None:
        raise MigrationError("the name may hold only a-z, 0-9 and _")
    before = set((root / "supabase" / "migrations").glob("*.sql"))
    done = subprocess.run(
        [str(supabase_cli(root)), "migration", "new", name, "--workdir", str(root)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SUPABASE_TELEMETRY_DISABLED": "1", "NO_COLOR": "1"},
        timeout=120,
    )
    created = sorted(set((root / "supabase" / "migrations").glob("*.sql")) - before)
    if done.returncode != 0 or len(created) != 1:
        raise MigrationError(f"supabase migration new failed:\n{(done.stdout + done.stderr).strip()}")
    return created[0]


def advisors(db_url: str, root: Path) -> list[dict[str, object]]:
    """Supabase's Security and Performance Advisor lints for a database (`supabase db advisors`).

    Returns every finding, INFO included. Raises MigrationError when the CLI fails.
    """
    done = subprocess.run(
        [
            str(supabase_cli(root)),
            "db",
            "advisors",
            "--db-url",
            db_url,
            "--level",
            "info",
            "--workdir",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SUPABASE_TELEMETRY_DISABLED": "1", "NO_COLOR": "1"},
        timeout=300,
    )
    output = done.stdout
    if done.returncode != 0 or "[" not in output:
        if "No issues found" in output + done.stderr:
            return []
        raise MigrationError(
            f"supabase db advisors failed:\n{(output + done.stderr).replace(db_url, '<db-url>')}"
        )
    findings: list[dict[str, object]] = json.loads(output[output.index("[") :])
    return findings
