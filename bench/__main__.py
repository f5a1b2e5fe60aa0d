"""`python -m bench` (`make bench`): start a throwaway stack, load data, run every scenario, write results.

    python -m bench                 # the full run: bench/results/*.json and docs/performance.md
    python -m bench --quick         # a smoke run (100k rows, one short round) into a temporary directory
    python -m bench --report-only   # regenerate docs/performance.md from bench/results/*.json

Then `python -m bench.coldstart` runs, when that package exists. The list at 10M rows is a run
of its own, `python -m bench.scale10m` (`make bench-10m`), with its own results file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
SMALL = 10_000
LARGE = 1_000_000


def _log(message: str) -> None:
    print(message, flush=True)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    """What this run ran on."""
    import psutil

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions(stack: Any) -> dict[str, str]:
    """Postgres and PostgREST as they run in this stack."""
    import psycopg

    from devstack.postgrest import binary_path

    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as db:
        postgres = str(db.execute("show server_version").fetchone()[0])  # type: ignore[index]
    try:
        postgrest = subprocess.run(
            [str(binary_path(ROOT)), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError:
        postgrest = "unknown"
    return {"postgres": postgres, "postgrest": postgrest or "unknown"}


def write_json(directory: Path, name: str, payload: Any) -> None:
    """bench/results/<name>.json, pretty-printed and stable."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


class Phases:
    """Wall time of each phase, logged as it ends."""

    def __init__(self) -> None:
        self.started = self.mark = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def done(self, name: str) -> None:
        """End the current phase."""
        now = time.perf_counter()
        self.seconds[name] = round(now - self.mark, 1)
        self.mark = now
        _log(f"== {name}: {self.seconds[name]} s")

    def total(self) -> dict[str, float]:
        """Every phase and the total."""
        return {**self.seconds, "total": round(time.perf_counter() - self.started, 1)}


def measure_all(world: Any, quick: bool, phases: Phases) -> dict[str, Any]:
    """Load, then run every scenario; returns the results by file name."""
    from bench import data
    from bench.profile import profile_get
    from bench.runs import Budget, limiter_cost, run_crud, run_scale

    large = 100_000 if quick else LARGE
    budget = Budget(rounds=1, requests_c1=100, seconds=1.0) if quick else Budget()
    actors = world.actors
    owners = data.Owners(actors.fleet.id, tuple(user.id for user in actors.others))

    _log(f"== COPY {SMALL:,} vehicles")
    loads = {"small": data.load(world.dsn, owners, 0, SMALL)}
    phases.done("load small")
    scale = {"small": run_scale(world, f"{SMALL // 1000}k", (1, 500), budget, _log)}
    phases.done("scale small")

    _log(f"== COPY {large - SMALL:,} more vehicles (secondary indexes rebuilt afterwards)")
    loads["large"] = data.load(world.dsn, owners, SMALL, large, rebuild_indexes=True, progress=_log)
    phases.done("load large")
    scale["large"] = run_scale(world, f"{large // 1000}k", (1, 500, 1000), budget, _log)
    phases.done("scale large")

    _log(
        "== CRUD scenarios (as the fleet member) against our API, direct PostgREST and the naive peer"
        " (GET one vehicle also against the floor function)"
    )
    deep_page = 1000 if large // data.FLEET_SHARE > 1000 * 20 else 50
    crud = run_crud(world, budget, _log, deep_page)
    phases.done("crud")

    _log("== the limiter's cost, in-process")
    limiter = limiter_cost(world)
    _log(f"  {limiter}")
    _log("== profile of GET /api/vehicles/{id}, in-process")
    profile = profile_get(
        world.stack.settings.api_environment(), crud_vehicle(world), actors.fleet.token, 100 if quick else 300
    )
    _log(f"  function p50 {profile['function_p50_ms']} ms, CPU {profile['function_cpu_ms']} ms")
    _log(f"  shares {profile['shares']}")
    phases.done("limiter and profile")
    environment = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "worktree_dirty": bool(_git("status", "--porcelain", "--", "lib", "api", "bench")),
        "machine": machine(),
        "versions": versions(world.stack),
        "sizes": {"small": SMALL, "large": large},
        "loads": loads,
        "quick": quick,
    }
    return {
        "environment": environment,
        "crud": crud,
        "scale": scale,
        "overhead": {"limiter": limiter},
        "profile": profile,
    }


def write_results(out: Path, results: dict[str, Any], phases: Phases) -> None:
    """Every results file (and profile.txt) into `out`; may be called again as the run goes on."""
    results["environment"]["phases_s"] = phases.total()
    out.mkdir(parents=True, exist_ok=True)
    text = results["profile"].pop("profile_text", None)
    if text is not None:
        (out / "profile.txt").write_text(text)
    for name, payload in results.items():
        write_json(out, name, payload)


def run(quick: bool) -> Path:
    """The whole benchmark; returns the directory it wrote."""
    from bench.environment import bench_settings, create_actors, floor_peer, naive_peer
    from bench.world import World
    from devstack.stack import running_stack

    out = Path(tempfile.mkdtemp(prefix="bench-quick-")) if quick else RESULTS
    phases = Phases()
    settings = bench_settings()
    _log(f"== starting a throwaway stack in {settings.data_dir}")
    with running_stack(settings) as stack, naive_peer(settings) as peer, floor_peer(settings) as floor:
        world = World(stack, create_actors(stack), peer, floor)
        phases.done("stack start")
        results = measure_all(world, quick, phases)
        write_results(out, results, phases)
    _log(f"== results in {out} ({results['environment']['phases_s']['total']} s)")
    return out


def crud_vehicle(world: Any) -> str:
    """One of the fleet member's vehicles."""
    import psycopg

    with psycopg.connect(world.dsn, autocommit=True) as db:
        row = db.execute(
            "select id::text from public.vehicles where owner_id = %s limit 1", (world.actors.fleet.id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def coldstart() -> int | None:
    """Run bench.coldstart (owned separately) when it exists; its exit status, or None."""
    if importlib.util.find_spec("bench.coldstart") is None:
        return None
    _log("== python -m bench.coldstart")
    return subprocess.run([sys.executable, "-m", "bench.coldstart"], cwd=ROOT, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run into a temporary directory")
    parser.add_argument("--report-only", action="store_true", help="only regenerate docs/performance.md")
    parser.add_argument("--no-coldstart", action="store_true", help="skip python -m bench.coldstart")
    args = parser.parse_args(argv)
    from bench import report

    if not args.report_only:
        out = run(args.quick)
        if args.quick:
            _log("\n".join(report.Report(out).targets_table()))
            return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(report.render(RESULTS))
    _log(f"== wrote {DOC.relative_to(ROOT)}")
    status = None if args.no_coldstart or args.report_only else coldstart()
    if status:
        _log(f"bench.coldstart exited with {status}")
        return status
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
