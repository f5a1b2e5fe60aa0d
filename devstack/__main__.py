"""`python -m devstack up | db-reset | new-migration NAME`: the local stack's command line."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from devstack import migrate
from devstack.migrate import MigrationError
from devstack.postgres import PostgresError
from devstack.postgrest import PostgrestError
from devstack.stack import DEMO_USERS, Stack, StackError, port_in_use, resolve_stack_settings


def _banner(stack: Stack) -> str:
    s = stack.settings
    lines = [
        "",
        "Local stack is up.",
        f"  API            {s.api_url}   (try {s.api_url}/health)",
        f"  Supabase URL   {s.supabase_url}   (/rest/v1, /auth/v1)",
        f"  Postgres       postgresql://postgres:{s.db_password}@127.0.0.1:{s.db_port}/postgres",
        f"  Publishable    {s.publishable_key}",
        f"  Secret key     {s.secret_key}",
        f"  anon JWT       {s.anon_jwt}",
        f"  service_role   {s.service_role_jwt}",
        f"  JWT secret     {s.jwt_secret}",
        "  Demo logins    " + ", ".join(DEMO_USERS) + f"  (password: {s.demo_password})",
        f"  Logs           {stack.log_dir}",
        "Press Ctrl-C to stop everything.",
    ]
    return "\n".join(lines)


def _up() -> int:
    stack = Stack(resolve_stack_settings(), reload=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
        print(_banner(stack), flush=True)
        while (dead := stack.dead_child()) is None:
            time.sleep(0.5)
        print(f"error: {dead} stopped unexpectedly; see {stack.log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        stack.stop()


def _db_reset() -> int:
    stack = Stack(resolve_stack_settings(), serve_api=False)
    running = port_in_use(stack.settings.db_port)
    if not running:
        stack.postgres.init()
        stack.postgres.start()
    try:
        stack.reset_database()
    finally:
        if not running:
            stack.postgres.stop()
    print("database reset: migrations applied and seed loaded")
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
    new = sub.add_parser("new-migration", help="create an empty timestamped migration")
    new.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return _up()
        if args.command == "db-reset":
            return _db_reset()
        return _new_migration(args.name)
    except (StackError, MigrationError, PostgresError, PostgrestError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
