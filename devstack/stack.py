"""The local Supabase-compatible stack: Postgres, PostgREST, Auth, gateway and the API dev server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import bcrypt
import psycopg
from jose import jwt

from devstack import migrate
from devstack.postgres import PostgresServer
from devstack.postgrest import PostgrestServer
from devstack.processes import die_with_parent, terminate
from lib.config import lookup, resolve_settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_USERS = ("admin@example.com", "manager@example.com", "member@example.com")
SEED_DEMO_PASSWORD = "demo-password-123"  # the password the hashes in supabase/seed.sql encode


class StackError(RuntimeError):
    """The stack could not start; the message says what to do."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@dataclass(frozen=True)
class StackSettings:
    """Ports, passwords and keys of one local stack."""

    root: Path
    data_dir: Path
    db_port: int = 54322
    api_port: int = 54321
    app_port: int = 3000
    postgrest_port: int = 54331
    auth_port: int = 54332
    inbox_port: int = 54324  # the local mail inbox, where the Supabase CLI serves Mailpit
    db_password: str = "postgres"
    authenticator_password: str = "authenticator-local-password"
    auth_admin_password: str = "auth-admin-local-password"
    cli_login_password: str = "cli-login-local-password"
    demo_password: str = SEED_DEMO_PASSWORD
    jwt_secret: str = "super-secret-jwt-token-with-at-least-32-characters-long"
    publishable_key: str = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
    secret_key: str = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"
    durable: bool = True
    extra_api_env: Mapping[str, str] = field(default_factory=dict)
    # A private EC P-256 JWK (JSON; an array's first key signs): Auth then issues ES256
    # access tokens with its kid and publishes the public key at /auth/v1/.well-known/jwks.json.
    auth_signing_jwk: str | None = field(default=None, repr=False)
    # Email confirmation for this stack's Auth: None follows supabase/config.toml
    # ([auth.email] enable_confirmations); tests set True or False to run either mode.
    auth_email_confirmations: bool | None = None

    @cached_property
    def anon_jwt(self) -> str:
        """The legacy `anon` key, minted as the Supabase CLI does (its published value by default)."""
        return str(
            jwt.encode(
                {"iss": "supabase-demo", "role": "anon", "exp": 1983812996},
                self.jwt_secret,
                "HS256",
            )
        )

    @cached_property
    def service_role_jwt(self) -> str:
        """The legacy `service_role` key, minted like anon_jwt."""
        claims = {"iss": "supabase-demo", "role": "service_role", "exp": 1983812996}
        return str(jwt.encode(claims, self.jwt_secret, "HS256"))

    @cached_property
    def signing_jwk(self) -> dict[str, Any] | None:
        """auth_signing_jwk parsed (the first key of an array), or None."""
        if self.auth_signing_jwk is None:
            return None
        parsed = json.loads(self.auth_signing_jwk)
        key = parsed[0] if isinstance(parsed, list) and parsed else parsed
        if not isinstance(key, dict):
            raise StackError("auth_signing_jwk must be a JWK object or an array of them")
        return key

    @property
    def supabase_url(self) -> str:
        """The gateway's URL, which callers use as SUPABASE_URL."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def inbox_url(self) -> str:
        """The local inbox (web page at /, Mailpit-style JSON API under /api/v1)."""
        return f"http://127.0.0.1:{self.inbox_port}"

    @property
    def api_url(self) -> str:
        """Base URL of the API dev server."""
        return f"http://127.0.0.1:{self.app_port}/api"

    def api_environment(self) -> dict[str, str]:
        """Environment variables the API needs to talk to this stack."""
        return {
            "APP_ENV": "development",
            "SUPABASE_URL": self.supabase_url,
            "SUPABASE_PUBLISHABLE_KEY": self.publishable_key,
            "SUPABASE_SECRET_KEY": self.secret_key,
            "SUPABASE_JWT_SECRET": self.jwt_secret,
            **self.extra_api_env,
        }


# (field, variable) pairs resolved with the API's own three-tier resolver.
_OVERRIDABLE = (
    ("db_port", "SUPABASE_DB_PORT"),
    ("api_port", "SUPABASE_API_PORT"),
    ("app_port", "API_PORT"),
    ("postgrest_port", "POSTGREST_PORT"),
    ("auth_port", "AUTH_PORT"),
    ("inbox_port", "INBOX_PORT"),
    ("db_password", "SUPABASE_DB_PASSWORD"),
    ("authenticator_password", "AUTHENTICATOR_PASSWORD"),
    ("auth_admin_password", "AUTH_ADMIN_PASSWORD"),
    ("cli_login_password", "CLI_LOGIN_PASSWORD"),
    ("demo_password", "DEMO_PASSWORD"),
)


def resolve_stack_settings(environ: Mapping[str, str] | None = None, root: Path = ROOT) -> StackSettings:
    """Stack settings from the process environment, dotenv files and defaults. Raises StackError."""
    env = dict(os.environ if environ is None else environ)
    env["APP_ENV"] = "development"  # the local stack is development by definition
    api = resolve_settings(env, root)
    values: dict[str, object] = {}
    for name, variable in _OVERRIDABLE:
        found = lookup([variable], environ=env, root=root, environment="development")
        if found is None:
            continue
        raw = found[0]
        if name.endswith("_port"):
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise StackError(f"{variable} must be a TCP port number")
            values[name] = int(raw)
        else:
            values[name] = raw
    if api.jwt_secret is None:
        raise StackError("SUPABASE_JWT_SECRET is required for the local stack")
    data_dir = lookup(["DEVSTACK_DATA_DIR"], environ=env, root=root, environment="development")
    return StackSettings(
        root=root,
        data_dir=Path(data_dir[0]) if data_dir else root / ".local",
        jwt_secret=api.jwt_secret,
        publishable_key=api.publishable_key,
        secret_key=api.secret_key,
        **values,  # type: ignore[arg-type]
    )


def throwaway_settings(prefix: str = "stack-", **overrides: Any) -> StackSettings:
    """Settings for a disposable stack: free ports, a fresh temporary data directory, no fsync.

    For tests, benchmarks and tools that must never touch `make dev`'s stack. The
    data directory lives under the system temp dir, not pytest's tmp_path, whose
    root is 0700 while Postgres runs unprivileged when started as root. The
    caller removes `settings.data_dir` when done.
    """
    import tempfile
    from dataclasses import replace

    base = resolve_stack_settings(
        environ={k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
    )
    names = ("db_port", "api_port", "app_port", "postgrest_port", "auth_port", "inbox_port")
    ports = {name: free_port() for name in names}
    # Sign-ups sign in at once on disposable stacks (tests and benchmarks create users by the
    # hundred); tests of the confirmation flow pass auth_email_confirmations=True.
    fresh = {
        "data_dir": Path(tempfile.mkdtemp(prefix=prefix)),
        "durable": False,
        "auth_email_confirmations": False,
        **ports,
    }
    return replace(base, **{**fresh, **overrides})


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
        except urllib.error.HTTPError:
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
