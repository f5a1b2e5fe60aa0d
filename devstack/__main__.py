"""`python -m devstack up | db-reset | ports | new-migration NAME`: the local stack's command line."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import psycopg

from devstack import migrate
from devstack.migrate import MigrationError
from devstack.postgres import PostgresError
from devstack.postgrest import PostgrestError
from devstack.stack import Stack
from devstack.stack_settings import DEMO_USERS, StackError, StackSettings, port_in_use, resolve_stack_settings
from lib.config import ConfigError

# Every signal that means "stop": Ctrl-C, `kill`/`make` on SIGTERM, a closed terminal.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _ports(s: StackSettings) -> list[tuple[str, str, str]]:
    """(service, where, variable that moves it) for every port `make dev` listens on."""
    return [
        ("API", s.api_url, "API_PORT"),
        ("Supabase URL", s.supabase_url, "SUPABASE_API_PORT"),
        ("Postgres", f"127.0.0.1:{s.db_port}", "SUPABASE_DB_PORT"),
        ("PostgREST", f"http://127.0.0.1:{s.postgrest_port}", "POSTGREST_PORT"),
        ("Auth", f"http://127.0.0.1:{s.auth_port}", "AUTH_PORT"),
        ("Inbox", s.inbox_url, "INBOX_PORT"),
    ]


def banner(stack: Stack) -> str:
    """What `make dev` prints once everything is up: every URL, key and login, and the host to use."""
    s = stack.settings
    host = urlsplit(s.api_url).hostname
    other = "localhost" if host == "127.0.0.1" else "127.0.0.1"
    lines = [
        "",
        "Local stack is up.",
        f"  API            {s.api_url}",
        f"                   health   {s.api_url}/health",
        f"                   docs     {s.api_url}/docs   (OpenAPI: {s.api_url}/openapi.json)",
        f"  Supabase URL   {s.supabase_url}   (gateway; use it as SUPABASE_URL)",
        f"                   REST     {s.supabase_url}/rest/v1",
        f"                   Auth     {s.supabase_url}/auth/v1",
        f"  PostgREST      http://127.0.0.1:{s.postgrest_port}   (direct, behind the gateway)",
        f"  Auth service   http://127.0.0.1:{s.auth_port}   (direct, behind the gateway)",
        f"  Inbox          {s.inbox_url}   (every email Auth sent: confirmations, recovery, magic links)",
        f"  Postgres       postgresql://postgres:{s.db_password}@127.0.0.1:{s.db_port}/postgres",
        f"  Publishable    {s.publishable_key}",
        f"  Secret key     {s.secret_key}",
        f"  anon JWT       {s.anon_jwt}",
        f"  service_role   {s.service_role_jwt}",
        f"  JWT secret     {s.jwt_secret}",
        "  Demo logins    " + ", ".join(DEMO_USERS) + f"  (password: {s.demo_password})",
        f"  Logs           {stack.log_dir}",
        "",
        f"Frontend: serve it from http://{host}:<port>, the API's host name, not http://{other}:<port>.",
        f"  A browser treats {host} and {other} as different sites, so the API's login cookies",
        f"  would not be sent. Any http://{host}:<port> origin may call the API (CORS).",
        "Press Ctrl-C to stop everything.",
    ]
    return "\n".join(lines)


def _request_stop(signum: int, frame: FrameType | None) -> None:
    # `make dev` stopped with SIGTERM gets it twice: once sent to the whole process group,
    # once forwarded by make. A second signal must not cut the shutdown short, or the
    # services stopped last (PostgREST, Postgres) outlive it.
    _ignore_stop_signals()
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    for number in _STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def _up() -> int:
    stack = Stack(resolve_stack_settings(), reload=True)
    for number in _STOP_SIGNALS:
        # An inherited "ignore" is a choice (nohup, a background job): keep it.
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, _request_stop)
    try:
        stack.start()
        print(banner(stack), flush=True)
        while (dead := stack.dead_child()) is None:
            time.sleep(0.5)
        print(f"error: {dead} stopped unexpectedly; see {stack.log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        _ignore_stop_signals()
        stack.stop()


def _ensure_own_postgres(stack: Stack) -> None:
    """Raise StackError unless the Postgres on the port serves this stack's data directory."""
    port = stack.settings.db_port
    try:
        with psycopg.connect(stack.postgres.dsn(db="template1"), connect_timeout=5) as conn:
            row = conn.execute("show data_directory").fetchone()
    except psycopg.Error as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StackError(
            f"port {port} is in use, but not by this stack's Postgres ({reason}); nothing was reset. "
            "Stop whatever holds the port, or move this stack with SUPABASE_DB_PORT (see README)"
        ) from None
    serving = Path(str(row[0] if row else "")).resolve()
    if serving != stack.postgres.data_dir:
        raise StackError(
            f"the Postgres on port {port} serves {serving}, not this stack's {stack.postgres.data_dir}; "
            "nothing was reset. Point DEVSTACK_DATA_DIR and SUPABASE_DB_PORT at the same stack"
        )


def _seed_report(stack: Stack) -> tuple[bool, str]:
    """Whether the demo data is there after a reset, and a line saying what is."""
    seed_file = stack.settings.root / "supabase" / "seed.sql"
    if not seed_file.exists():
        return False, f"NOT seeded: {seed_file} does not exist"
    with psycopg.connect(stack.postgres.dsn()) as conn:
        row = conn.execute(
            "select (select count(*) from auth.users where email = any(%s)),"
            " (select count(*) from public.vehicles)",
            (list(DEMO_USERS),),
        ).fetchone()
    users, vehicles = row if row else (0, 0)
    if users != len(DEMO_USERS):
        return False, f"NOT fully seeded: {users} of {len(DEMO_USERS)} demo users exist"
    return True, f"seeded {users} demo users and {vehicles} vehicles"


def _db_reset() -> int:
    stack = Stack(resolve_stack_settings(), serve_api=False)
    running = port_in_use(stack.settings.db_port)
    if running:
        _ensure_own_postgres(stack)
    else:
        stack.postgres.init()
        stack.postgres.start()
    try:
        stack.reset_database()
        seeded, report = _seed_report(stack)
    finally:
        if not running:
            stack.postgres.stop()
    print(f"database reset: migrations applied; {report}", file=sys.stdout if seeded else sys.stderr)
    if running:
        print("The running stack now serves the reset database: log in again (older sessions are gone).")
    return 0 if seeded else 1


def _ports_command() -> int:
    settings = resolve_stack_settings()
    print("Local stack ports (to move one, set its variable in the environment or .env.local):")
    for service, where, variable in _ports(settings):
        print(f"  {service:<14} {where:<32} {variable}")
    return 0


def _new_migration(name: str) -> int:
    settings = resolve_stack_settings()
    if migrate.NEW_NAME.match(name) is None:
        print("error: the name may hold only a-z, 0-9 and _", file=sys.stderr)
        return 2
    path = migrate.new_migration(settings.root, name)
    print(path.relative_to(settings.root))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch the sub-command; exit non-zero with one clear line on failure."""
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start and supervise the local stack")
    sub.add_parser("db-reset", help="drop, migrate and seed the local database")
    sub.add_parser("ports", help="print where each service of the local stack listens")
    new = sub.add_parser("new-migration", help="create an empty timestamped migration")
    new.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return _up()
        if args.command == "db-reset":
            return _db_reset()
        if args.command == "ports":
            return _ports_command()
        return _new_migration(args.name)
    except (StackError, MigrationError, PostgresError, PostgrestError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
