"""The scenarios: each route against its baselines, the list at two table sizes, the limiter's cost."""

from __future__ import annotations

import math
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import psutil
import psycopg
import requests

from bench import data, load
from bench.environment import Actors, Peer
from bench.load import Answer, Call
from bench.profile import api_environment
from devstack.stack import Stack
from tests.factories import User, north_american_vin

TARGETS = ("api", "postgrest", "naive")
TARGET_LABELS = {
    "api": "our API",
    "postgrest": "direct PostgREST",
    "naive": "naive peer",
    "offset": "PostgREST, OFFSET",
    "offset_count": "PostgREST, OFFSET + count=exact",
}
CRUD = ("get_one", "list_first", "list_deep", "create", "patch")
CONCURRENCY = (1, 8)
PAGE_SIZE = 20


@dataclass
class World:
    """Everything a scenario needs: the stack, who acts, and where each target listens."""

    stack: Stack
    actors: Actors
    peer: Peer
    targets: dict[str, load.Target] = field(init=False)

    def __post_init__(self) -> None:
        s = self.stack.settings
        self.targets = {
            "api": load.Target(s.api_url.removesuffix("/api")),
            "postgrest": load.Target(s.supabase_url),
            "naive": load.Target(self.peer.url),
        }

    def target(self, name: str) -> load.Target:
        """Where a target listens (the offset baselines are PostgREST queries)."""
        return self.targets["postgrest" if name.startswith("offset") else name]

    @property
    def dsn(self) -> str:
        """Superuser DSN."""
        return self.stack.postgres.dsn()

    def rest_headers(self, user: User) -> dict[str, str]:
        """What a Supabase client sends PostgREST for a signed-in user."""
        return {"apikey": self.stack.settings.publishable_key, "Authorization": f"Bearer {user.token}"}

    # -- the gateway's request counters -----------------------------------

    def reset_counts(self) -> None:
        """Zero the gateway's counters."""
        requests.delete(f"{self.stack.settings.supabase_url}/__devstack/stats", timeout=5).raise_for_status()

    def counts(self) -> dict[str, int]:
        """Requests the gateway forwarded per upstream since the last reset."""
        response = requests.get(f"{self.stack.settings.supabase_url}/__devstack/stats", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    # -- CPU per process ---------------------------------------------------

    def processes(self) -> dict[str, psutil.Process]:
        """The processes whose CPU time a run accounts for."""
        stack = self.stack
        pids = {
            "api": stack.children["api"].pid,
            "gateway": stack.children["gateway"].pid,
            "postgres": stack.postgres.process.pid if stack.postgres.process else None,
            "postgrest": stack.postgrest.process.pid if stack.postgrest and stack.postgrest.process else None,
        }
        pids["naive"] = self.peer.pid
        found = {name: psutil.Process(pid) for name, pid in pids.items() if pid is not None}
        found["client"] = psutil.Process()
        return found


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """User+system CPU seconds of each process and its children (Postgres backends, the peer)."""
    totals: dict[str, float] = {}
    for name, process in processes.items():
        total = 0.0
        family = [process] if name == "client" else [process, *process.children(recursive=True)]
        for member in family:
            try:
                times = member.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        totals[name] = total
    return totals


@dataclass
class Spec:
    """How one target runs one scenario."""

    script: load.Script
    expect: tuple[int, ...] = (200,)
    check: load.Check | None = None


def always(call: Call) -> load.Script:
    """A script that sends the same call for every worker and iteration."""
    return lambda _worker, _i: call


def signed_cursor(world: World, user: User, created_at: str, row_id: str) -> str:
    """The cursor the API would have issued for this position, signed in-process as the API signs it."""
    with api_environment(world.stack.settings.api_environment()):
        from lib.supabase.cursor import encode_cursor, list_context

        context = list_context("/api/vehicles", caller=user.id, sort="-created_at")
        return encode_cursor(context, [created_at, row_id])


@dataclass
class Position:
    """Where a page starts, as every target addresses it."""

    page: int
    cursor: str | None = None  # the API's signed cursor
    after: tuple[str, str] | None = None  # the RPC's p_after, p_after_id
    first_id: str | None = None  # the row the page must start with


def position(world: World, user: User, page: int, *, owner: str | None) -> Position:
    """Page `page` of `user`'s newest-first list (owner: restrict to that owner's rows, as RLS does)."""
    if page == 1:
        return Position(1)
    created_at, row_id, next_id = data.deep_position(
        world.dsn, owner=owner, rows_before=(page - 1) * PAGE_SIZE
    )
    return Position(page, signed_cursor(world, user, created_at, row_id), (created_at, row_id), next_id)


def list_calls(world: World, user: User, where: Position, *, count: bool = False) -> dict[str, Call]:
    """The same page from the API (cursor), PostgREST (the RPC the API calls) and the peers (OFFSET)."""
    api_path = "/api/vehicles"
    rpc = f"/rest/v1/rpc/list_vehicles?p_sort=-created_at&p_limit={PAGE_SIZE + 1}"
    if where.cursor is not None and where.after is not None:
        api_path += f"?cursor={quote(where.cursor)}"
        rpc += f"&p_after={quote(where.after[0])}&p_after_id={where.after[1]}"
    auth = {"Authorization": f"Bearer {user.token}"}
    naive = f"/api/vehicles?page={where.page}&per_page={PAGE_SIZE}"
    # What the naive peer's .order().range() sends PostgREST, sent directly so that the
    # query's cost is not hidden behind the peer's per-request create_client().
    offset = (
        f"/rest/v1/vehicles?select=*&order=created_at.desc,id.desc"
        f"&offset={(where.page - 1) * PAGE_SIZE}&limit={PAGE_SIZE}"
    )
    rest = world.rest_headers(user)
    return {
        "api": Call("GET", api_path, auth),
        "postgrest": Call("GET", rpc, rest),
        "naive": Call("GET", naive, auth),
        "offset": Call("GET", offset, rest),
        "offset_count": Call("GET", offset, {**rest, "Prefer": "count=exact"}),
    }


def first_row_id(target: str, answer: Answer) -> str | None:
    """The id of the first row of a list answer from any target."""
    body = answer.json()
    rows = body if isinstance(body, list) else body.get("data")
    return rows[0]["id"] if rows else None


def verify_page(world: World, calls: dict[str, Call], where: Position) -> None:
    """Every target must return the same first row for the page (and the API a next cursor)."""
    for target, call in calls.items():
        answer = world.target(target).send(call)
        if answer.status not in (200, 206):  # 206: PostgREST's answer to count=exact
            raise RuntimeError(f"{target} {call.path}: {answer.status} {answer.body[:300]!r}")
        got = first_row_id(target, answer)
        if where.first_id is not None and got != where.first_id:
            raise RuntimeError(f"{target} page {where.page} starts at {got}, expected {where.first_id}")


# -- the CRUD matrix --------------------------------------------------------


@dataclass
class PatchState:
    """One vehicle per client thread, its last known version and odometer."""

    rows: list[list[Any]]  # [id, version, odometer_km]
    lock: threading.Lock = field(default_factory=threading.Lock)


def _fleet_rows(world: World, count: int, offset: int) -> list[tuple[str, int, int]]:
    with psycopg.connect(world.dsn, autocommit=True) as db:
        rows = db.execute(
            "select id::text, version, odometer_km from public.vehicles where owner_id = %s"
            " order by created_at, id offset %s limit %s",
            (world.actors.fleet.id, offset, count),
        ).fetchall()
    return [(str(a), int(b), int(c)) for a, b, c in rows]


def crud_specs(world: World, deep_page: int) -> dict[str, dict[str, Spec]]:
    """scenario -> target -> Spec, all acting as the fleet member (RLS: own rows only)."""
    fleet = world.actors.fleet
    auth = {"Authorization": f"Bearer {fleet.token}"}
    rest = world.rest_headers(fleet)
    read_ids = [row[0] for row in _fleet_rows(world, 200, 0)]
    deep = position(world, fleet, deep_page, owner=fleet.id)
    first = Position(1)
    specs: dict[str, dict[str, Spec]] = {name: {} for name in CRUD}

    def get_one(target: str) -> load.Script:
        def script(worker: int, i: int) -> Call:
            vehicle = read_ids[(worker * 37 + i) % len(read_ids)]
            if target == "postgrest":
                return Call("GET", f"/rest/v1/vehicles?select=*&id=eq.{vehicle}", rest)
            return Call("GET", f"/api/vehicles/{vehicle}", auth)

        return script

    for target in TARGETS:
        specs["get_one"][target] = Spec(get_one(target))
        for name, where in (("list_first", first), ("list_deep", deep)):
            calls = list_calls(world, fleet, where)
            verify_page(world, {t: c for t, c in calls.items() if t in TARGETS}, where)
            call = calls[target]
            specs[name][target] = Spec(always(call))

    def create(target: str) -> load.Script:
        def script(worker: int, i: int) -> Call:
            body = {
                "vin": north_american_vin("1HG"),
                "make": "Honda",
                "model": "Civic",
                "model_year": 2021,
                "color": "blue",
                "odometer_km": 10,
            }
            if target == "postgrest":
                return load.json_call(
                    "POST", "/rest/v1/vehicles", {**rest, "Prefer": "return=representation"}, body
                )
            return load.json_call("POST", "/api/vehicles", auth, body)

        return script

    for target in TARGETS:
        specs["create"][target] = Spec(create(target), expect=(201,))

    for index, target in enumerate(TARGETS):
        state = PatchState([list(row) for row in _fleet_rows(world, 8, 200 + 8 * index)])
        specs["patch"][target] = Spec(_patch_script(target, state, auth, rest), check=_patch_check(state))
    return specs


def _patch_script(target: str, state: PatchState, auth: dict[str, str], rest: dict[str, str]) -> load.Script:
    def script(worker: int, i: int) -> Call:
        with state.lock:
            vehicle, version, odometer = state.rows[worker]
        body = {"odometer_km": odometer + 1}
        if target == "postgrest":
            path = f"/rest/v1/vehicles?id=eq.{vehicle}&version=eq.{version}"
            return load.json_call("PATCH", path, {**rest, "Prefer": "return=representation"}, body)
        return load.json_call(
            "PATCH", f"/api/vehicles/{vehicle}", {**auth, "If-Match": f'"v{version}"'}, body
        )

    return script


def _patch_check(state: PatchState) -> load.Check:
    def check(worker: int, call: Call, answer: Answer) -> None:
        body = answer.json()
        row = body[0] if isinstance(body, list) else body
        with state.lock:
            state.rows[worker][1] = int(row["version"])
            state.rows[worker][2] = int(row["odometer_km"])

    return check


@dataclass
class Budget:
    """How long each measured run may take."""

    rounds: int = 3
    requests_c1: int = 300
    seconds: float = 3.0
    warmup: int = 2


def measure(
    world: World,
    target: str,
    spec: Spec,
    *,
    concurrency: int,
    budget: Budget,
    processes: dict[str, psutil.Process],
) -> dict[str, Any]:
    """One closed-loop run with round-trip counts and CPU per request."""
    base = world.target(target)
    world.reset_counts()
    before = cpu_seconds(processes)
    result = load.run(
        base,
        spec.script,
        concurrency=concurrency,
        requests=budget.requests_c1 if concurrency == 1 else 100_000,
        max_seconds=budget.seconds,
        expect=spec.expect,
        check=spec.check,
        warmup=budget.warmup,
    )
    after = cpu_seconds(processes)
    counts = world.counts()
    sent = result.requests + budget.warmup * concurrency
    summary = result.summary()
    summary["db_requests_per_request"] = round(counts.get("/rest/v1", 0) / sent, 4) if sent else None
    summary["auth_requests_per_request"] = round(counts.get("/auth/v1", 0) / sent, 4) if sent else None
    summary["cpu_ms_per_request"] = {
        name: round((after[name] - before[name]) / sent * 1000, 3) for name in after
    }
    return summary


def run_crud(world: World, budget: Budget, log: Callable[[str], None], deep_page: int) -> dict[str, Any]:
    """Every CRUD scenario x target x concurrency, `budget.rounds` times, targets rotated per round."""
    specs = crud_specs(world, deep_page)
    processes = world.processes()
    runs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
        s: {t: {str(c): [] for c in CONCURRENCY} for t in TARGETS} for s in CRUD
    }
    for round_no in range(budget.rounds):
        order = TARGETS[round_no % len(TARGETS) :] + TARGETS[: round_no % len(TARGETS)]
        for scenario in CRUD:
            for concurrency in CONCURRENCY:
                for target in order:
                    summary = measure(
                        world,
                        target,
                        specs[scenario][target],
                        concurrency=concurrency,
                        budget=budget,
                        processes=processes,
                    )
                    runs[scenario][target][str(concurrency)].append(summary)
                    log(
                        f"  round {round_no + 1} {scenario:<10} c={concurrency} {target:<9} "
                        f"p50 {summary['p50_ms']:>8.2f} ms  {summary['throughput_rps']:>7.1f} req/s"
                        f"  db/req {summary['db_requests_per_request']}"
                        + (
                            f"  errors {summary['errors']}: {summary['first_error']}"
                            if summary["errors"]
                            else ""
                        )
                    )
    return {
        "rounds": budget.rounds,
        "budget": budget.__dict__,
        "deep_page": deep_page,
        "runs": runs,
        "summary": summarise(runs),
    }


def _spread(values: list[float]) -> dict[str, float]:
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {
        "median": round(statistics.median(clean), 3),
        "min": round(min(clean), 3),
        "max": round(max(clean), 3),
    }


def summarise(runs: dict[str, Any]) -> dict[str, Any]:
    """Median and min/max across rounds of each run's numbers."""
    out: dict[str, Any] = {}
    for scenario, targets in runs.items():
        out[scenario] = {}
        for target, by_concurrency in targets.items():
            out[scenario][target] = {}
            for concurrency, rounds in by_concurrency.items():
                if not rounds:
                    continue
                out[scenario][target][concurrency] = {
                    key: _spread([r[key] for r in rounds])
                    for key in ("p50_ms", "p95_ms", "p99_ms", "throughput_rps", "min_ms", "max_ms")
                } | {
                    "requests": sum(r["requests"] for r in rounds),
                    "errors": sum(r["errors"] for r in rounds),
                    "db_requests_per_request": _spread(
                        [
                            r["db_requests_per_request"]
                            for r in rounds
                            if r["db_requests_per_request"] is not None
                        ]
                    ),
                    "api_cpu_ms_per_request": _spread(
                        [r["cpu_ms_per_request"].get("api", float("nan")) for r in rounds]
                    ),
                    "cpu_ms_per_request": {
                        name: statistics.median(r["cpu_ms_per_request"].get(name, 0.0) for r in rounds)
                        for name in rounds[0]["cpu_ms_per_request"]
                    },
                }
    return out


# -- scale ------------------------------------------------------------------


SCALE_TARGETS = ("api", "postgrest", "offset", "offset_count")


def run_scale(
    world: World, label: str, pages: tuple[int, ...], budget: Budget, log: Callable[[str], None]
) -> dict[str, Any]:
    """p50 of page 1 and deep pages at this table size, as the admin (who sees every row)."""
    admin = world.actors.admin
    with psycopg.connect(world.dsn, autocommit=True) as db:
        table_rows = int(db.execute("select count(*) from public.vehicles").fetchone()[0])  # type: ignore[index]
    processes = world.processes()
    results: dict[str, Any] = {"table_rows": table_rows, "pages": {}}
    for page in pages:
        where = position(world, admin, page, owner=None)
        calls = list_calls(world, admin, where)
        verify_page(world, {t: calls[t] for t in SCALE_TARGETS}, where)
        page_results: dict[str, list[dict[str, Any]]] = {t: [] for t in SCALE_TARGETS}
        for round_no in range(budget.rounds):
            for target in SCALE_TARGETS:
                call = calls[target]
                small = Budget(1, 30 if target == "offset_count" else budget.requests_c1, budget.seconds, 2)
                summary = measure(
                    world,
                    target,
                    Spec(always(call), expect=(200, 206)),
                    concurrency=1,
                    budget=small,
                    processes=processes,
                )
                page_results[target].append(summary)
                log(
                    f"  {label} round {round_no + 1} page {page:<5} {target:<13}"
                    f" p50 {summary['p50_ms']:>8.2f} ms ({summary['requests']} requests)"
                )
        results["pages"][str(page)] = {
            target: {
                "p50_ms": _spread([r["p50_ms"] for r in rounds]),
                "p95_ms": _spread([r["p95_ms"] for r in rounds]),
                "min_ms": _spread([r["min_ms"] for r in rounds]),
                "max_ms": _spread([r["max_ms"] for r in rounds]),
                "requests": sum(r["requests"] for r in rounds),
                "errors": sum(r["errors"] for r in rounds),
            }
            for target, rounds in page_results.items()
        }
    return results


# -- the limiter's cost ------------------------------------------------------


def limiter_cost(world: World, samples: int = 300) -> dict[str, Any]:
    """The write path's one limiter round trip and a warm read allowance, timed in-process."""
    with api_environment(world.stack.settings.api_environment()):
        from lib.config import RateLimit
        from lib.supabase.ratelimit import Limiter, take_from_database

        limit = RateLimit(1_000_000, 60)
        key = f"bench:limiter:{uuid.uuid4().hex}"
        for _ in range(20):
            take_from_database(key, limit, 1)
        round_trip = []
        for _ in range(samples):
            started = time.perf_counter()
            take_from_database(key, limit, 1)
            round_trip.append((time.perf_counter() - started) * 1000)
        limiter = Limiter()
        read_key = f"bench:reads:{uuid.uuid4().hex}"
        limiter.check(read_key, limit, 50_000)  # takes the batch: one round trip
        local = []
        for _ in range(samples):
            started = time.perf_counter()
            limiter.check(read_key, limit, 50_000)
            local.append((time.perf_counter() - started) * 1000)
    return {
        "write_round_trip_ms": {
            "p50": round(statistics.median(round_trip), 3),
            "p95": round(sorted(round_trip)[int(0.95 * len(round_trip)) - 1], 3),
        },
        "warm_read_check_ms": {
            "p50": round(statistics.median(local), 4),
            "p95": round(sorted(local)[int(0.95 * len(local)) - 1], 4),
        },
        "samples": samples,
    }
