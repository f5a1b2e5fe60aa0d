"""The benchmark's own throwaway stack, its actors and the peer processes (naive peer, floor function)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from devstack.processes import terminate
from devstack.stack import Stack
from devstack.stack_settings import StackSettings, free_port, throwaway_settings
from tests.factories import User, create_user

ROOT = Path(__file__).resolve().parent.parent
# A dev server root holding only the floor function (api/vehicles/[id].py), no vercel.json.
FLOOR_ROOT = ROOT / "bench" / "peers" / "floor"

# Throughput runs must measure the API, not its limiter: the ceilings are the
# highest the settings accept (1,000,000 per window). Reads then reserve up to
# 50,000 units per limiter round trip. Writes are counted by the database in their own
# statement; the stack copies RATE_LIMIT_WRITE into the database's limit.
BENCH_LIMITS = {"RATE_LIMIT_READ": "1000000/60", "RATE_LIMIT_WRITE": "1000000/60"}


def bench_settings(extra_api_env: Mapping[str, str] | None = None) -> StackSettings:
    """Free ports, a temporary data directory and a non-durable Postgres, as the tests do."""
    return throwaway_settings("api-bench-stack-", extra_api_env=dict(extra_api_env or BENCH_LIMITS))


@dataclass
class Actors:
    """Who each scenario acts as.

    fleet: a member who owns 1 in 40 of the bulk-loaded vehicles (25,000 at 1M),
    so RLS really filters and a page 1000 exists; the CRUD scenarios use it.
    admin: sees every row; the scale scenario uses it, so the visible set is the table.
    """

    fleet: User
    admin: User
    others: list[User]


def create_actors(stack: Stack, other_owners: int = 20) -> Actors:
    """Users with roles, inserted directly (the sign-up trigger adds profiles and roles)."""
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as db:
        fleet = create_user(db, stack.settings, "member")
        admin = create_user(db, stack.settings, "admin")
        others = [create_user(db, stack.settings, "member") for _ in range(other_owners)]
        # The fleet member owns 25,000 vehicles at 1M rows, beyond the default per-user quota
        # (10,000): lift it, as an operator would for such a customer. Enforcing it stays one
        # counter upsert per insert, whatever the quota.
        db.execute("update private.quotas set max_rows = 100000000")
    return Actors(fleet, admin, others)


def wait_http(url: str, process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Wait until `url` answers anything at all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


@dataclass(frozen=True)
class Peer:
    """A running peer process."""

    url: str
    pid: int


@contextmanager
def naive_peer(settings: StackSettings) -> Iterator[Peer]:
    """Run bench.peers.naive in its own process (its own interpreter and GIL)."""
    port = free_port()
    log = settings.data_dir / "logs" / "naive-peer.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SUPABASE_URL": settings.supabase_url,
        "SUPABASE_KEY": settings.publishable_key,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.peers.naive", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", process)
        yield Peer(f"http://127.0.0.1:{port}", process.pid)
    finally:
        terminate(process)


@contextmanager
def floor_peer(settings: StackSettings) -> Iterator[Peer]:
    """Serve bench/peers/floor with a second API dev server, started as the stack starts the API's.

    Same module, arguments and environment as the API's dev server (devstack/stack.py), only
    `--root` differs: the request path through the server is the same, the function is not.
    Raises RuntimeError if it does not answer.
    """
    port = free_port()
    log = settings.data_dir / "logs" / "floor-peer.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = ["-m", "devstack.devserver", "--root", str(FLOOR_ROOT), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **settings.api_environment()},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/", process)  # the router's own 404 once it listens
        yield Peer(f"http://127.0.0.1:{port}", process.pid)
    finally:
        terminate(process)
