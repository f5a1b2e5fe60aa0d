"""The local stack as `make dev` runs it: keys, gateway rules, start, stop, port clashes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import requests

from devstack.stack import Stack, StackSettings, free_port

PUBLISHED_ANON_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9"
    ".CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)


def test_default_keys_are_the_supabase_cli_ones(stack_settings: StackSettings) -> None:
    assert stack_settings.anon_jwt == PUBLISHED_ANON_JWT
    assert stack_settings.publishable_key == "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
    assert stack_settings.secret_key == "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"


@pytest.mark.parametrize("key_name", ["publishable_key", "anon_jwt", "secret_key", "service_role_jwt"])
def test_gateway_accepts_both_key_styles(stack: Stack, key_name: str) -> None:
    key = getattr(stack.settings, key_name)
    response = requests.get(
        f"{stack.settings.supabase_url}/rest/v1/rpc/healthcheck", headers={"apikey": key}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() is True


def test_gateway_rejects_missing_or_unknown_keys(stack: Stack) -> None:
    url = f"{stack.settings.supabase_url}/rest/v1/rpc/healthcheck"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"apikey": "sb_publishable_nope"}, timeout=5).status_code == 401


def test_secret_key_maps_to_service_role(stack: Stack) -> None:
    # PostgREST reports the role it runs as through auth.role().
    url = f"{stack.settings.supabase_url}/rest/v1/"
    for key, expected in ((stack.settings.secret_key, 200), (stack.settings.publishable_key, 200)):
        assert requests.get(url, headers={"apikey": key}, timeout=5).status_code == expected


def test_port_clash_names_the_port(stack_settings: StackSettings, tmp_path: Path) -> None:
    from dataclasses import replace

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        clashing = Stack(replace(stack_settings, data_dir=tmp_path, db_port=taken))
        with pytest.raises(Exception, match=f"port {taken} \\(Postgres\\) is already in use"):
            clashing.start()


def test_make_dev_starts_serves_and_stops_without_orphans(tmp_path: Path, repo_root: Path) -> None:
    ports = {
        "SUPABASE_DB_PORT": free_port(),
        "SUPABASE_API_PORT": free_port(),
        "API_PORT": free_port(),
        "POSTGREST_PORT": free_port(),
        "AUTH_PORT": free_port(),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "APP_ENV"))}
    env.update({k: str(v) for k, v in ports.items()})
    env["DEVSTACK_DATA_DIR"] = str(tmp_path / "local")
    env["SUPABASE_URL"] = f"http://127.0.0.1:{ports['SUPABASE_API_PORT']}"
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = []
        assert process.stdout is not None
        for line in process.stdout:
            banner.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(banner)
        assert "Local stack is up." in text, text
        assert "member@example.com" in text
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 5
        health = requests.get(f"http://127.0.0.1:{ports['API_PORT']}/api/health", timeout=10)
        assert health.status_code == 200
        rest = requests.get(f"http://127.0.0.1:{ports['SUPABASE_API_PORT']}/rest/v1/", timeout=10)
        assert rest.status_code == 401  # answered (no API key), so it is up
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        deadline = time.monotonic() + 10
        while any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children):
            assert time.monotonic() < deadline, [c for c in children if c.is_running()]
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()


def test_db_reset_and_new_migration_commands(tmp_path: Path, repo_root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "APP_ENV"))}
    env["SUPABASE_DB_PORT"] = str(free_port())
    env["DEVSTACK_DATA_DIR"] = tempfile.mkdtemp(prefix="db-reset-")
    try:
        for _ in range(2):  # from nothing, then over an existing database
            done = subprocess.run(
                [sys.executable, "-m", "devstack", "db-reset"],
                cwd=repo_root,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert "migrations applied and seed loaded" in done.stdout
    finally:
        shutil.rmtree(env["DEVSTACK_DATA_DIR"], ignore_errors=True)
    bad = subprocess.run(
        [sys.executable, "-m", "devstack", "new-migration", "Bad Name"],
        check=False,
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
