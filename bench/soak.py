"""Soak: five minutes of mixed load at a steady rate against a throwaway local stack (`make soak`).

Reads, writes and logins from many users, at a fixed request rate, with the production rate limits.
Passes when:

* nothing fails: every answer is the one its request was meant to get (the intended 4xx and 429 of
  the deliberately bad requests included), with no 5xx, no timeout and no dropped connection;
* the API process's memory is flat: resident set size at the end within 10% (+16 MiB) of the start,
  measured after a warm-up;
* nothing is lost or doubled: per user, the vehicles and maintenance records in the database are
  exactly the acknowledged creates, and each vehicle's version is 1 + its acknowledged updates.

Prints a summary, rewrites the "Last soak" section of docs/reliability.md, exits 1 on any failure.
Options: --duration SECONDS (300), --rate REQUESTS_PER_SECOND (25), --users N (25), --no-docs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import requests

from devstack.stack import running_stack
from devstack.stack_settings import StackSettings, throwaway_settings
from tests.factories import north_american_vin

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"
WARM_UP = 15.0  # seconds of load before the first memory reading


@dataclass
class Account:
    """A soak user: signed up through the API, with their own vehicles."""

    id: str
    email: str
    password: str
    token: str
    vehicles: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Ledger:
    """What the API acknowledged, per user and vehicle."""

    created: Counter[str] = field(default_factory=Counter)  # user id -> vehicles acknowledged
    records: Counter[str] = field(default_factory=Counter)  # user id -> records acknowledged
    updates: Counter[str] = field(default_factory=Counter)  # vehicle id -> updates acknowledged
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (operation, result)
    failures: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)


class Soak:
    """The load: a weighted mix of operations, each knowing the answer it must get."""

    def __init__(self, api: str, accounts: list[Account], ledger: Ledger) -> None:
        self.api = api
        self.accounts = accounts
        self.ledger = ledger
        self.rng = random.Random(20261125)
        self.rng_lock = threading.Lock()
        # One address and email hammered with a wrong password: 401 five times a minute, then 429.
        self.abuser_ip = "198.51.100.7"
        self.operations: list[tuple[str, int, Callable[[Account], tuple[requests.Response, set[int]]]]] = [
            ("list vehicles", 20, self.list_vehicles),
            ("read vehicle", 20, self.read_vehicle),
            ("read me", 8, self.read_me),
            ("decode VIN", 6, self.decode_vin),
            ("create vehicle", 12, self.create_vehicle),
            ("update vehicle", 12, self.update_vehicle),
            ("add record", 8, self.add_record),
            ("log in", 8, self.log_in),
            ("bad query (400)", 3, self.bad_query),
            ("wrong password (401/429)", 3, self.wrong_password),
        ]

    def pick(self) -> tuple[str, Callable[[Account], tuple[requests.Response, set[int]]], Account]:
        with self.rng_lock:
            name, _, operation = self.rng.choices(
                self.operations, weights=[w for _, w, _ in self.operations]
            )[0]
            return name, operation, self.rng.choice(self.accounts)

    def _vehicle(self, account: Account) -> str:
        with account.lock, self.rng_lock:
            return self.rng.choice(account.vehicles)

    # -- operations: (response, the statuses it may get) --

    def list_vehicles(self, a: Account) -> tuple[requests.Response, set[int]]:
        return requests.get(f"{self.api}/vehicles", params={"limit": 20}, headers=a.headers, timeout=30), {
            200
        }

    def read_vehicle(self, a: Account) -> tuple[requests.Response, set[int]]:
        return requests.get(f"{self.api}/vehicles/{self._vehicle(a)}", headers=a.headers, timeout=30), {200}

    def read_me(self, a: Account) -> tuple[requests.Response, set[int]]:
        return requests.get(f"{self.api}/me", headers=a.headers, timeout=30), {200}

    def decode_vin(self, a: Account) -> tuple[requests.Response, set[int]]:
        return requests.get(f"{self.api}/vin/{north_american_vin()}", timeout=30), {200}

    def create_vehicle(self, a: Account) -> tuple[requests.Response, set[int]]:
        body = {"vin": north_american_vin(), "make": "Soak", "model": "Runner", "model_year": 2020}
        headers = {**a.headers, "Idempotency-Key": str(uuid.uuid4())}
        response = requests.post(f"{self.api}/vehicles", json=body, headers=headers, timeout=30)
        if response.status_code == 201:
            with a.lock:
                a.vehicles.append(response.json()["id"])
            with self.ledger.lock:
                self.ledger.created[a.id] += 1
        return response, {201}

    def update_vehicle(self, a: Account) -> tuple[requests.Response, set[int]]:
        vehicle = self._vehicle(a)
        body = {"color": f"c{random.randint(0, 10**6)}"}
        response = requests.patch(f"{self.api}/vehicles/{vehicle}", json=body, headers=a.headers, timeout=30)
        if response.status_code == 200:
            with self.ledger.lock:
                self.ledger.updates[vehicle] += 1
        return response, {200}

    def add_record(self, a: Account) -> tuple[requests.Response, set[int]]:
        # Odometer 0: at or below the vehicle's, so the vehicle (and its version) stays as it is.
        body = {"performed_at": "2026-01-02", "odometer_km": 0, "kind": "service"}
        headers = {**a.headers, "Idempotency-Key": str(uuid.uuid4())}
        url = f"{self.api}/vehicles/{self._vehicle(a)}/maintenance"
        response = requests.post(url, json=body, headers=headers, timeout=30)
        if response.status_code == 201:
            with self.ledger.lock:
                self.ledger.records[a.id] += 1
        return response, {201}

    def log_in(self, a: Account) -> tuple[requests.Response, set[int]]:
        body = {"email": a.email, "password": a.password}
        headers = {"X-Forwarded-For": f"203.0.113.{random.randint(1, 254)}"}
        return requests.post(f"{self.api}/auth/login", json=body, headers=headers, timeout=30), {200}

    def bad_query(self, a: Account) -> tuple[requests.Response, set[int]]:
        return requests.get(f"{self.api}/vehicles", params={"limit": 0}, headers=a.headers, timeout=30), {400}

    def wrong_password(self, a: Account) -> tuple[requests.Response, set[int]]:
        body = {"email": self.accounts[0].email, "password": "not-the-password"}
        headers = {"X-Forwarded-For": self.abuser_ip}
        return requests.post(f"{self.api}/auth/login", json=body, headers=headers, timeout=30), {401, 429}

    def run_one(self) -> None:
        name, operation, account = self.pick()
        started = time.perf_counter()
        try:
            response, expected = operation(account)
        except requests.RequestException as error:
            with self.ledger.lock:
                self.ledger.outcomes[(name, type(error).__name__)] += 1
                self.ledger.failures.append(f"{name}: {type(error).__name__}")
            return
        elapsed = time.perf_counter() - started
        with self.ledger.lock:
            self.ledger.latencies[name].append(elapsed)
            self.ledger.outcomes[(name, str(response.status_code))] += 1
            if response.status_code not in expected:
                self.ledger.failures.append(f"{name}: {response.status_code} {response.text[:200]}")


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def soak_settings() -> StackSettings:
    """A throwaway stack on free ports with the production rate limits."""
    return throwaway_settings("api-soak-stack-")


def create_accounts(api: str, count: int) -> list[Account]:
    """Users signed up and logged in through the API, each with two vehicles created through it."""
    accounts = []
    for index in range(count):
        email, password = f"soak-{index}-{uuid.uuid4().hex[:6]}@example.test", f"soak-{uuid.uuid4().hex}"
        ip = {"X-Forwarded-For": f"192.0.2.{index % 250 + 1}"}
        body = {"email": email, "password": password}
        requests.post(f"{api}/auth/signup", json=body, headers=ip, timeout=30).raise_for_status()
        session = requests.post(f"{api}/auth/login", json=body, headers=ip, timeout=30)
        session.raise_for_status()
        account = Account(session.json()["user"]["id"], email, password, session.json()["access_token"])
        for _ in range(2):
            vehicle = {"vin": north_american_vin(), "make": "Soak", "model": "Seed", "model_year": 2019}
            created = requests.post(f"{api}/vehicles", json=vehicle, headers=account.headers, timeout=30)
            created.raise_for_status()
            account.vehicles.append(created.json()["id"])
        accounts.append(account)
    return accounts


def verify_rows(dsn: str, accounts: list[Account], ledger: Ledger) -> list[str]:
    """Compare the database with what the API acknowledged."""
    problems = []
    with psycopg.connect(dsn) as db:
        for account in accounts:
            vehicles = db.execute(
                "select id::text, version from public.vehicles where owner_id = %s", (account.id,)
            ).fetchall()
            expected = 2 + ledger.created[account.id]
            if len(vehicles) != expected:
                problems.append(f"{account.email}: {len(vehicles)} vehicles, {expected} acknowledged")
            for vehicle_id, version in vehicles:
                if version != 1 + ledger.updates[vehicle_id]:
                    problems.append(
                        f"vehicle {vehicle_id}: version {version}, {ledger.updates[vehicle_id]} updates"
                    )
            (records,) = db.execute(
                "select count(*) from public.maintenance_records m"
                " join public.vehicles v on v.id = m.vehicle_id where v.owner_id = %s",
                (account.id,),
            ).fetchone() or (0,)
            if records != ledger.records[account.id]:
                problems.append(
                    f"{account.email}: {records} records, {ledger.records[account.id]} acknowledged"
                )
    return problems


def report(result: dict[str, Any]) -> str:
    """The markdown of one soak run."""
    rows = "\n".join(
        f"| {name} | {counts} | {p50} | {p99} |" for name, counts, p50, p99 in result["operations"]
    )
    verdict = "passed" if result["passed"] else "FAILED"
    rows_verdict = (
        "exactly those"
        if not result["row_problems"]
        else "NOT those: " + "; ".join(result["row_problems"][:5])
    )
    return (
        f"Run {result['finished']} on {result['host']}: **{verdict}**. "
        f"{result['duration']:.0f} s at {result['rate']:g} requests/s from {result['users']} users: "
        f"{result['requests']} requests, {result['errors']} errors "
        f"({result['intended_4xx']} intended 4xx/429 answers, counted as successes).\n\n"
        f"- API process RSS: {result['rss_start_mib']:.1f} MiB after {WARM_UP:.0f} s of warm-up, "
        f"{result['rss_end_mib']:.1f} MiB at the end (peak {result['rss_peak_mib']:.1f} MiB).\n"
        f"- Rows: {result['vehicles_acknowledged']} vehicle creates, {result['updates_acknowledged']} "
        f"updates and {result['records_acknowledged']} maintenance records acknowledged; "
        f"the database holds {rows_verdict}.\n\n"
        "| operation | answers (status: count) | p50 ms | p99 ms |\n|---|---|---|---|\n" + rows + "\n"
    )


def update_doc(markdown: str) -> None:
    """Replace the soak section of docs/reliability.md (between its markers)."""
    if not DOC.exists():
        return
    text = DOC.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        DOC.write_text(pattern.sub(lambda _: f"{BEGIN}\n{markdown}{END}", text))


@dataclass
class Run:
    """What one soak observed."""

    soak: Soak
    ledger: Ledger
    elapsed: float
    samples: list[tuple[float, int]]
    row_problems: list[str]


def drive(duration: float, rate: float, users: int) -> Run:
    """Start a stack, load it at `rate` for `duration`, check its rows, stop it."""
    settings = soak_settings()
    print(f"soak: starting a stack in {settings.data_dir}", flush=True)
    with running_stack(settings) as stack:
        accounts = create_accounts(settings.api_url, users)
        ledger = Ledger()
        soak = Soak(settings.api_url, accounts, ledger)
        pid = stack.children["api"].pid
        samples: list[tuple[float, int]] = []
        total = int(duration * rate)
        print(f"soak: {total} requests over {duration:.0f} s from {len(accounts)} users", flush=True)
        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            for index in range(total):
                if (delay := started + index / rate - time.monotonic()) > 0:
                    time.sleep(delay)
                pool.submit(soak.run_one)
                now = time.monotonic() - started
                if not samples or now - samples[-1][0] >= 5:
                    samples.append((now, rss_kib(pid)))
                    if len(samples) % 12 == 1:
                        print(
                            f"soak: {now:4.0f} s, {index} sent, RSS {samples[-1][1] / 1024:.1f} MiB",
                            flush=True,
                        )
        elapsed = time.monotonic() - started
        samples.append((elapsed, rss_kib(pid)))
        return Run(soak, ledger, elapsed, samples, verify_rows(stack.postgres.dsn(), accounts, ledger))


def summarise(run: Run, rate: float) -> dict[str, Any]:
    """The run's result, as report() prints it."""
    ledger = run.ledger
    operations = []
    for name, _, _ in run.soak.operations:
        answers = {result: count for (op, result), count in sorted(ledger.outcomes.items()) if op == name}
        latencies = sorted(ledger.latencies.get(name, [0.0]))
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        counts = ", ".join(f"{result}: {count}" for result, count in answers.items())
        operations.append((name, counts, f"{statistics.median(latencies) * 1000:.0f}", f"{p99 * 1000:.0f}"))
    warm = [kib for at, kib in run.samples if at >= WARM_UP] or [run.samples[0][1]]
    rss_start, rss_end = warm[0], run.samples[-1][1]
    memory_flat = rss_end <= rss_start * 1.10 + 16 * 1024
    return {
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": f"{os.cpu_count()} CPUs",
        "duration": run.elapsed,
        "rate": rate,
        "users": len(run.soak.accounts),
        "requests": sum(ledger.outcomes.values()),
        "errors": len(ledger.failures),
        "intended_4xx": sum(
            c for (op, result), c in ledger.outcomes.items() if op.endswith(")") and result < "5"
        ),
        "rss_start_mib": rss_start / 1024,
        "rss_end_mib": rss_end / 1024,
        "rss_peak_mib": max(kib for _, kib in run.samples) / 1024,
        "memory_flat": memory_flat,
        "vehicles_acknowledged": sum(ledger.created.values()),
        "updates_acknowledged": sum(ledger.updates.values()),
        "records_acknowledged": sum(ledger.records.values()),
        "row_problems": run.row_problems,
        "operations": operations,
        "passed": not ledger.failures and not run.row_problems and memory_flat,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when every criterion holds."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/reliability.md")
    args = parser.parse_args(argv)
    run = drive(args.duration, args.rate, args.users)
    result = summarise(run, args.rate)
    markdown = report(result)
    print(markdown)
    print(json.dumps({k: v for k, v in result.items() if k != "operations"}, indent=2))
    for failure in run.ledger.failures[:20]:
        print(f"soak: failure: {failure}", file=sys.stderr)
    if not result["memory_flat"]:
        print("soak: the API process's memory grew", file=sys.stderr)
    if not args.no_docs:
        update_doc(markdown)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
