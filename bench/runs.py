"""Running the scenarios: the CRUD matrix and its summary, the list at each table size, the limiter's cost."""

from __future__ import annotations

import math
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil
import psycopg

from bench import load
from bench.plans import list_plan
from bench.profile import api_environment
from bench.scenarios import (
    CONCURRENCY,
    CRUD,
    PAGE_SIZE,
    Spec,
    always,
    crud_specs,
    list_calls,
    position,
    scenario_targets,
    verify_page,
)
from bench.world import World, cpu_seconds


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
    """Every CRUD scenario x its targets x concurrency, `budget.rounds` times, targets rotated per round."""
    specs = crud_specs(world, deep_page)
    processes = world.processes()
    runs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
        s: {t: {str(c): [] for c in CONCURRENCY} for t in scenario_targets(s)} for s in CRUD
    }
    for round_no in range(budget.rounds):
        for scenario in CRUD:
            targets = scenario_targets(scenario)
            order = targets[round_no % len(targets) :] + targets[: round_no % len(targets)]
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


SCALE_TARGETS = ("api", "postgrest", "offset", "offset_count")
# The keyset targets must answer at every size; the OFFSET baselines may not (at 10M rows
# `count=exact` can pass the authenticated role's statement_timeout): a failure there is
# recorded as the result and that target is left out of the page's timings.
REQUIRED_SCALE_TARGETS = ("api", "postgrest")


def _verified_targets(world: World, calls: dict[str, Any], where: Any, skipped: dict[str, str]) -> list[str]:
    """The scale targets that returned the page's expected first row; optional failures go to `skipped`."""
    verified = []
    for target in SCALE_TARGETS:
        try:
            verify_page(world, {target: calls[target]}, where)
        except (RuntimeError, OSError) as error:
            if target in REQUIRED_SCALE_TARGETS:
                raise
            skipped[target] = str(error)[:300]
            continue
        verified.append(target)
    return verified


def run_scale(
    world: World, label: str, pages: tuple[int, ...], budget: Budget, log: Callable[[str], None]
) -> dict[str, Any]:
    """p50 of page 1 and deep pages at this table size, as the admin (who sees every row), and their plans."""
    admin = world.actors.admin
    with psycopg.connect(world.dsn, autocommit=True) as db:
        table_rows = int(db.execute("select count(*) from public.vehicles").fetchone()[0])  # type: ignore[index]
    processes = world.processes()
    results: dict[str, Any] = {"table_rows": table_rows, "pages": {}, "plans": {}, "skipped": {}}
    for page in pages:
        where = position(world, admin, page, owner=None)
        calls = list_calls(world, admin, where)
        skipped: dict[str, str] = {}
        targets = _verified_targets(world, calls, where, skipped)
        for target, error in skipped.items():
            log(f"  {label} page {page} {target}: left out, {error}")
        results["plans"][str(page)] = list_plan(world.dsn, admin, PAGE_SIZE + 1, where.after)
        plan = results["plans"][str(page)]
        log(
            f"  {label} page {page} plan: {', '.join(plan['scans'])},"
            f" {plan['execution_ms']} ms, buffers {plan['buffers']}"
        )
        page_results: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
        for round_no in range(budget.rounds):
            for target in targets:
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
                "p50_ms_rounds": [r["p50_ms"] for r in rounds],
                "p95_ms": _spread([r["p95_ms"] for r in rounds]),
                "min_ms": _spread([r["min_ms"] for r in rounds]),
                "max_ms": _spread([r["max_ms"] for r in rounds]),
                "requests": sum(r["requests"] for r in rounds),
                "errors": sum(r["errors"] for r in rounds),
            }
            for target, rounds in page_results.items()
        }
        if skipped:
            results["skipped"][str(page)] = skipped
    return results


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
