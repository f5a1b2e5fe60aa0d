"""Settings of one local stack: ports, passwords, keys and where its data lives."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jose import jwt

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
