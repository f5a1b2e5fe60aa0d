"""The newcomer's commands: `make test`'s Chromium check, `make help`, `make dev`, `make db-reset`.

`make dev` and `make db-reset` run `python -m devstack up` / `db-reset` (the Makefile adds
only the dependency install); these tests run those commands on free ports and a
throwaway data directory, never on the developer's own stack.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socketserver
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest
import requests

from devstack.__main__ import banner
from devstack.postgres import PostgresServer
from devstack.stack import Stack
from devstack.stack_settings import free_port, resolve_stack_settings

ROOT = Path(__file__).resolve().parent.parent.parent
FIND_CHROMIUM = ROOT / "devstack" / "bin" / "find-chromium"
SERVICES = (
    "postgres",
    "postgrest",
    "devstack.inbox",
    "devstack.auth",
    "devstack.gateway",
    "devstack.devserver",
)
PORT_VARIABLES = (
    "SUPABASE_DB_PORT",
    "SUPABASE_API_PORT",
    "API_PORT",
    "POSTGREST_PORT",
    "AUTH_PORT",
    "INBOX_PORT",
)


def _clean_environ() -> dict[str, str]:
    """This process's environment without settings that would point the stack elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "APP_ENV", "DEVSTACK_"))}


# --------------------------------------------------------------------- Chromium check


def _run_find_chromium(path: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, **extra}
    return subprocess.run([FIND_CHROMIUM], env=env, capture_output=True, text=True, check=False)


def _fake_browser(directory: Path, name: str = "chromium") -> Path:
    browser = directory / name
    browser.write_text("#!/bin/sh\necho 'Chromium 1.0'\n")
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    return browser


def test_missing_chromium_stops_with_the_install_commands(tmp_path: Path) -> None:
    done = _run_find_chromium(str(tmp_path))  # a PATH with no browser on it
    assert done.returncode == 1
    assert done.stdout == ""
    assert "error: Chromium is required" in done.stderr
    assert "sudo apt-get install chromium" in done.stderr
    assert "brew install --cask" in done.stderr
    assert "SKIP_BROWSER_TESTS=1 make test" in done.stderr


def test_chromium_on_path_is_found(tmp_path: Path) -> None:
    browser = _fake_browser(tmp_path, "chromium-browser")
    done = _run_find_chromium(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(browser)


def test_a_browser_that_does_not_run_is_not_accepted(tmp_path: Path) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'install the snap first' >&2\nexit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    assert _run_find_chromium(str(tmp_path)).returncode == 1


def test_chromium_variable_is_the_only_candidate_when_set(tmp_path: Path) -> None:
    _fake_browser(tmp_path)
    done = _run_find_chromium(str(tmp_path), CHROMIUM=str(tmp_path / "missing"))
    assert done.returncode == 1
    assert f"CHROMIUM={tmp_path / 'missing'}" in done.stderr
    assert _run_find_chromium("/nonexistent", CHROMIUM=str(tmp_path / "chromium")).returncode == 0


def test_skip_browser_tests_lets_make_test_run_without_a_browser(tmp_path: Path) -> None:
    done = _run_find_chromium(str(tmp_path), SKIP_BROWSER_TESTS="1")
    assert done.returncode == 0
    assert "skipped" in done.stderr


def test_make_test_checks_chromium_before_installing_or_linting() -> None:
    # -n prints the commands in order without running them.
    # Without the outer make's variables (CI runs this suite under `make test`), which would add
    # "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert planned[0].startswith("devstack/bin/find-chromium"), planned[:3]
    stopped = subprocess.run(
        ["make", "chromium"],
        cwd=ROOT,
        env={**os.environ, "CHROMIUM": "/nonexistent/chromium"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert stopped.returncode != 0
    assert "sudo apt-get install chromium" in stopped.stderr


# ------------------------------------------------------------------------ make help


def test_make_help_shows_the_resolved_ports() -> None:
    env = {**_clean_environ(), "API_PORT": "43210", "SUPABASE_DB_PORT": "43211"}
    done = subprocess.run(["make", "help"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "make dev" in done.stdout
    assert "http://127.0.0.1:43210/api" in done.stdout
    assert "127.0.0.1:43211" in done.stdout
    for variable in PORT_VARIABLES:
        assert variable in done.stdout


def test_make_help_works_before_the_virtualenv_exists() -> None:
    done = subprocess.run(
        ["make", "help", "VENV=/nonexistent-venv"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "make test" in done.stdout
    assert "make deps" in done.stdout


# ------------------------------------------------------------------------- make dev


@dataclass
class DevStack:
    """`python -m devstack up` running on its own ports and data directory."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    ports: dict[str, int]
    banner: str
    children: list[psutil.Process]

    def wait_for_line(self, text: str) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if text in line:
                return
        pytest.fail(f"{text!r} never printed")

    def processes_left(self, timeout: float = 30.0) -> list[psutil.Process]:
        """The stack's processes still alive after `timeout` seconds (zombies count as gone)."""
        _, alive = psutil.wait_procs(self.children, timeout=timeout)
        left = []
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.status() != psutil.STATUS_ZOMBIE:
                    left.append(child)
        return left


def _describe(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline()[:3])
    return str(process.pid)


@pytest.fixture
def make_dev() -> Iterator[DevStack]:
    """`make dev`'s command, started the way a terminal starts it (its own process group)."""
    ports = {variable: free_port() for variable in PORT_VARIABLES}
    data_dir = tempfile.mkdtemp(prefix="make-dev-")
    env = {
        **_clean_environ(),
        **{k: str(v) for k, v in ports.items()},
        "DEVSTACK_DATA_DIR": data_dir,
        "SUPABASE_URL": f"http://127.0.0.1:{ports['SUPABASE_API_PORT']}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        banner = "".join(lines)
        assert "Local stack is up." in banner, banner
        children = psutil.Process(process.pid).children(recursive=True)
        commands = " | ".join(_describe(child) for child in children)
        for service in SERVICES:
            assert service in commands, commands
        yield DevStack(process, env, ports, banner, children)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_make_dev_banner_prints_every_url_and_the_frontend_host() -> None:
    ports = {variable: free_port() for variable in PORT_VARIABLES}
    env = {**_clean_environ(), **{k: str(v) for k, v in ports.items()}}
    text = banner(Stack(resolve_stack_settings(env)))
    app, gateway = ports["API_PORT"], ports["SUPABASE_API_PORT"]
    for url in (
        f"http://127.0.0.1:{app}/api",
        f"http://127.0.0.1:{app}/api/health",
        f"http://127.0.0.1:{app}/api/docs",
        f"http://127.0.0.1:{gateway}/rest/v1",
        f"http://127.0.0.1:{gateway}/auth/v1",
        f"http://127.0.0.1:{ports['POSTGREST_PORT']}",
        f"http://127.0.0.1:{ports['AUTH_PORT']}",
        f"http://127.0.0.1:{ports['INBOX_PORT']}",
        f"@127.0.0.1:{ports['SUPABASE_DB_PORT']}/postgres",
    ):
        assert url in text
    assert "serve it from http://127.0.0.1:<port>" in text
    assert "not http://localhost:<port>" in text
    assert "member@example.com" in text


def test_db_reset_while_make_dev_runs_reseeds_and_ctrl_c_stops_everything(make_dev: DevStack) -> None:
    api = f"http://127.0.0.1:{make_dev.ports['API_PORT']}/api"
    db_port = make_dev.ports["SUPABASE_DB_PORT"]
    dsn = f"host=127.0.0.1 port={db_port} dbname=postgres user=postgres password=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("delete from public.vehicles")
    reset = subprocess.run(
        [sys.executable, "-m", "devstack", "db-reset"],
        cwd=ROOT,
        env=make_dev.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert reset.returncode == 0, reset.stderr
    assert "seeded 3 demo users and" in reset.stdout
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select count(*) from public.vehicles").fetchone()
    assert row is not None
    assert row[0] > 0
    # PostgREST reloads its schema cache for the new database asynchronously (NOTIFY): until
    # it has, the API answers a passing 503 "try again shortly". Wait for it, within bounds.
    deadline = time.monotonic() + 15
    while True:
        login = requests.post(
            f"{api}/auth/login",
            json={"email": "member@example.com", "password": "demo-password-123"},
            timeout=10,
        )
        if login.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert login.status_code == 200, login.text
    assert requests.get(f"{api}/health", timeout=10).status_code == 200

    os.killpg(make_dev.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert make_dev.process.wait(60) == 0
    assert make_dev.processes_left() == []


def test_sigterm_stops_every_process_make_dev_started(make_dev: DevStack) -> None:
    # `kill -TERM -<pgid>` of `make dev` reaches the stack twice: the group signal
    # itself, then make's own forwarding of it, which lands during the shutdown.
    os.killpg(make_dev.process.pid, signal.SIGTERM)
    make_dev.wait_for_line("stopping")
    with contextlib.suppress(ProcessLookupError):
        os.kill(make_dev.process.pid, signal.SIGTERM)
    assert make_dev.process.wait(60) == 0
    left = make_dev.processes_left()
    assert left == [], [_describe(p) for p in left]


def test_a_killed_supervisor_takes_its_services_along(make_dev: DevStack) -> None:
    make_dev.process.kill()  # no chance to clean up: a crash, an OOM kill
    make_dev.process.wait()
    left = make_dev.processes_left()
    assert left == [], [_describe(p) for p in left]


# --------------------------------------------------------------------- make db-reset


def test_db_reset_from_nothing_and_over_an_existing_database() -> None:
    env = {**_clean_environ(), "SUPABASE_DB_PORT": str(free_port())}
    env["DEVSTACK_DATA_DIR"] = tempfile.mkdtemp(prefix="db-reset-")
    try:
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-m", "devstack", "db-reset"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert "migrations applied; seeded 3 demo users and" in done.stdout
    finally:
        shutil.rmtree(env["DEVSTACK_DATA_DIR"], ignore_errors=True)


def test_db_reset_refuses_a_postgres_that_is_not_this_stacks() -> None:
    # Another cluster on the configured port (another data directory, the Supabase CLI's
    # own stack…) logs in with the same default password: it must not be dropped.
    other_root = Path(tempfile.mkdtemp(prefix="other-postgres-"))
    own_dir = tempfile.mkdtemp(prefix="db-reset-own-")
    other = PostgresServer(other_root / "db", free_port(), "postgres", durable=False)
    try:
        other.init()
        other.start()
        with psycopg.connect(other.dsn(), autocommit=True) as conn:
            conn.execute("create table precious (id int)")
        env = {**_clean_environ(), "SUPABASE_DB_PORT": str(other.port), "DEVSTACK_DATA_DIR": own_dir}
        done = subprocess.run(
            [sys.executable, "-m", "devstack", "db-reset"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1, done.stdout
        assert f"the Postgres on port {other.port} serves" in done.stderr
        assert "nothing was reset" in done.stderr
        with psycopg.connect(other.dsn()) as conn:
            assert conn.execute("select to_regclass('public.precious')").fetchone() == ("precious",)
    finally:
        other.stop()
        shutil.rmtree(other_root, ignore_errors=True)
        shutil.rmtree(own_dir, ignore_errors=True)


def test_db_reset_refuses_a_port_held_by_something_else() -> None:
    env = {**_clean_environ(), "DEVSTACK_DATA_DIR": tempfile.mkdtemp(prefix="db-reset-busy-")}
    # Accepts and hangs up at once: not a Postgres.
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        env["SUPABASE_DB_PORT"] = str(port)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "devstack", "db-reset"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            server.shutdown()
            shutil.rmtree(env["DEVSTACK_DATA_DIR"], ignore_errors=True)
    assert done.returncode == 1
    assert f"port {port} is in use, but not by this stack's Postgres" in done.stderr
    assert "Traceback" not in done.stderr


def test_new_migration_rejects_a_bad_name() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "devstack", "new-migration", "Bad Name"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
