"""The local Supabase-compatible stack: Postgres, PostgREST, Auth, gateway and the API dev server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import psycopg

from devstack import migrate
from devstack.postgres import PostgresServer
from devstack.postgrest import PostgrestServer
from devstack.processes import die_with_parent, terminate
from devstack.stack_settings import (
    DEMO_USERS,
    SEED_DEMO_PASSWORD,
    StackError,
    StackSettings,
    port_in_use,
)


@contextmanager
def running_stack(settings: StackSettings) -> Iterator[Stack]:
    """Start a disposable stack; stop it and remove its data directory afterwards."""
    stack = Stack(settings)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(settings.data_dir, ignore_errors=True)


def _wait_http(
    url: str, process: subprocess.Popen[bytes], name: str, log: Path, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{name} exited at start; see {log}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (local URL)
                return
        except urllib.error.HTTPError as error:
            error.close()  # it holds the answer's socket
            return  # it answered: it is up
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise StackError(f"{name} did not answer {url} within {timeout:.0f}s; see {log}")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Stack:
    """Start, supervise and stop every process of the local stack."""

    def __init__(self, settings: StackSettings, *, serve_api: bool = True, reload: bool = False) -> None:
        self.settings = settings
        self.serve_api = serve_api
        self.reload = reload
        self.log_dir = settings.data_dir / "logs"
        self.postgres = PostgresServer(
            settings.data_dir / "db",
            settings.db_port,
            settings.db_password,
            durable=settings.durable,
        )
        self.postgrest: PostgrestServer | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.created_database = False

    # -- lifecycle ---------------------------------------------------------

    def ports(self) -> dict[str, int]:
        """Every port this stack listens on, by service."""
        s = self.settings
        ports = {
            "Postgres": s.db_port,
            "API gateway": s.api_port,
            "PostgREST": s.postgrest_port,
            "Auth": s.auth_port,
            "Inbox": s.inbox_port,
        }
        if self.serve_api:
            ports["API dev server"] = s.app_port
        return ports

    def check_ports(self) -> None:
        """Raise StackError naming the first port that is already taken."""
        for service, port in self.ports().items():
            if port_in_use(port):
                raise StackError(
                    f"port {port} ({service}) is already in use: stop whatever holds it, "
                    "or choose another port through the settings (see README)"
                )

    def start(self) -> None:
        """Start every service in dependency order. Raises StackError (everything started is stopped)."""
        self.check_ports()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.created_database = self.postgres.init()
            self.postgres.start()
            self.prepare_database(seed=self.created_database)
            self.start_postgrest()
            self._spawn_inbox()
            self._spawn_auth()
            self._spawn_gateway()
            if self.serve_api:
                self._spawn_api()
        except BaseException:
            self.stop()
            raise

    def prepare_database(self, *, seed: bool) -> list[str]:
        """Bootstrap, migrate with the Supabase CLI and optionally seed; return the versions applied.

        Raises MigrationError.
        """
        s = self.settings
        with psycopg.connect(self.postgres.dsn(), autocommit=True) as conn:
            migrate.bootstrap(
                conn,
                authenticator_password=s.authenticator_password,
                auth_admin_password=s.auth_admin_password,
                cli_login_password=s.cli_login_password,
            )
        url = migrate.cli_db_url(port=s.db_port, password=s.cli_login_password)
        applied = migrate.push(url, s.root, seed=seed)
        with psycopg.connect(self.postgres.dsn(), autocommit=True) as conn:
            if seed and s.demo_password != SEED_DEMO_PASSWORD:
                hashed = bcrypt.hashpw(s.demo_password.encode(), bcrypt.gensalt(10)).decode()
                conn.execute(
                    "update auth.users set encrypted_password = %s where email = any(%s)",
                    (hashed, list(DEMO_USERS)),
                )
            if (write_limit := s.extra_api_env.get("RATE_LIMIT_WRITE")) is not None:
                # The database holds the write limit that binds (db-pre-request): a stack whose API
                # runs with another RATE_LIMIT_WRITE (the fuzzer's, the benchmark's) gets it there too.
                count, _, window = write_limit.partition("/")
                conn.execute(
                    "update private.rate_limit_policies set max_requests = %s, window_seconds = %s"
                    " where policy = 'write'",
                    (int(count), int(window)),
                )
            if applied:
                # Tell a running PostgREST to reload its schema cache.
                conn.execute("notify pgrst, 'reload schema'")
        return applied

    def reset_database(self) -> None:
        """Drop and recreate the `postgres` database, migrate and seed it."""
        with psycopg.connect(self.postgres.dsn(db="template1"), autocommit=True) as conn:
            conn.execute("drop database if exists postgres with (force)")
            conn.execute("create database postgres")
        self.prepare_database(seed=True)

    def start_postgrest(self) -> None:
        """Start (or restart) PostgREST."""
        s = self.settings
        self.postgrest = PostgrestServer(
            s.root,
            port=s.postgrest_port,
            db_port=s.db_port,
            authenticator_password=s.authenticator_password,
            jwt_secret=s.jwt_secret,
            log_path=self.log_dir / "postgrest.log",
            signing_jwk=s.signing_jwk,
        )
        self.postgrest.start()

    def _spawn(self, name: str, args: list[str], env: dict[str, str], ready_url: str) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=self.settings.root,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # noqa: PLW1509 (no threads yet at spawn time)
            )
        self.children[name] = process
        _wait_http(ready_url, process, name, log)

    def _spawn_auth(self) -> None:
        s = self.settings
        env = {
            "AUTH_DB_DSN": self.postgres.dsn("supabase_auth_admin", s.auth_admin_password),
            "SUPABASE_JWT_SECRET": s.jwt_secret,
            "AUTH_ISSUER": f"{s.supabase_url}/auth/v1",
            "AUTH_CONFIG_TOML": str(s.root / "supabase" / "config.toml"),
            "AUTH_INBOX_URL": s.inbox_url,
        }
        if s.auth_email_confirmations is not None:
            env["AUTH_EMAIL_CONFIRMATIONS"] = "true" if s.auth_email_confirmations else "false"
        if s.auth_signing_jwk is not None:
            env["AUTH_SIGNING_JWK"] = s.auth_signing_jwk
        self._spawn(
            "auth",
            ["-m", "devstack.auth", "--host", "127.0.0.1", "--port", str(s.auth_port)],
            env,
            f"http://127.0.0.1:{s.auth_port}/health",
        )

    def _spawn_inbox(self) -> None:
        s = self.settings
        self._spawn(
            "inbox",
            ["-m", "devstack.inbox", "--port", str(s.inbox_port)],
            {},
            f"{s.inbox_url}/api/v1/messages",
        )

    def _spawn_gateway(self) -> None:
        s = self.settings
        self._spawn(
            "gateway",
            [
                "-m",
                "devstack.gateway",
                "--port",
                str(s.api_port),
                "--rest",
                f"127.0.0.1:{s.postgrest_port}",
                "--auth",
                f"127.0.0.1:{s.auth_port}",
            ],
            {
                "GATEWAY_PUBLISHABLE_KEY": s.publishable_key,
                "GATEWAY_SECRET_KEY": s.secret_key,
                "GATEWAY_ANON_JWT": s.anon_jwt,
                "GATEWAY_SERVICE_ROLE_JWT": s.service_role_jwt,
            },
            f"{s.supabase_url}/auth/v1/health",
        )

    def _spawn_api(self) -> None:
        s = self.settings
        args = [
            "-m",
            "devstack.devserver",
            "--root",
            str(s.root),
            "--host",
            "127.0.0.1",
            "--port",
            str(s.app_port),
        ]
        if self.reload:
            args.append("--reload")
        self._spawn("api", args, s.api_environment(), f"{s.api_url}/health")

    def dead_child(self) -> str | None:
        """Name of a service process that has exited, if any."""
        for name, process in self.children.items():
            if process.poll() is not None:
                return name
        if self.postgres.process is not None and self.postgres.process.poll() is not None:
            return "postgres"
        if self.postgrest and self.postgrest.process and self.postgrest.process.poll() is not None:
            return "postgrest"
        return None

    def stop(self) -> None:
        """Stop every process this stack started, in reverse order."""
        for name in reversed(list(self.children)):
            terminate(self.children.pop(name))
        if self.postgrest is not None:
            self.postgrest.stop()
        self.postgres.stop()
