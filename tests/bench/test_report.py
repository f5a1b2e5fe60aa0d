"""docs/performance.md's targets, scale and plans, rendered from small synthetic results (no timing)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench import profile, report
from bench.__main__ import Phases
from bench.__main__ import write_results as write_main_results
from bench.coldstart.imports import first_request_owners, summary
from bench.plans import summarise
from bench.report_coldstart import AUTH_FUNCTIONS, DATA_FUNCTIONS, others
from bench.report_targets import Targets
from bench.runs import SCALE_TARGETS
from bench.scale10m import check_disk, parse_sizes
from bench.scenarios import CRUD, FLOOR, TARGETS

ROOT = Path(__file__).resolve().parents[2]
X = "\u00d7"  # the times sign the report writes after a ratio
D = "\u2013"  # its dash: a range, or no entry
DATA = (
    "api/health",
    "api/me",
    "api/vehicles/index",
    "api/vehicles/[id]/index",
    "api/vehicles/[id]/maintenance",
    "api/vin/[vin]",
)
AUTH = ("api/auth", "api/admin")
PLAN_TEXT = """duration: 0.081 ms  plan:
Query Text:
      select * from (
        select v.* from public.vehicles v
      ) v
      order by v.created_at desc, v.id desc
      limit $12
Limit  (cost=0.43..2.10 rows=21 width=120) (actual time=0.020..0.060 rows=21 loops=1)
  Buffers: shared hit=25
  ->  Index Scan Backward using vehicles_created_at_id_idx on vehicles v  (cost=0.43..80.1 rows=999)
        Index Cond: (ROW(created_at, id) < ROW($10::timestamptz, $11))
        Buffers: shared hit=25"""


def spread(value: float) -> dict[str, float]:
    """A median/min/max cell with the same value three times."""
    return {"median": value, "min": value, "max": value}


def crud_cell(p50: float, rps: float) -> dict[str, Any]:
    """One aggregated CRUD cell."""
    return {
        "p50_ms": spread(p50),
        "p95_ms": spread(p50 * 2),
        "p99_ms": spread(p50 * 3),
        "throughput_rps": spread(rps),
        "min_ms": spread(p50 / 2),
        "max_ms": spread(p50 * 4),
        "requests": 100,
        "errors": 0,
        "db_requests_per_request": spread(1.0),
        "api_cpu_ms_per_request": spread(1.0),
        "cpu_ms_per_request": {"api": 1.0, "gateway": 0.5, "postgrest": 0.5, "postgres": 0.5, "client": 0.5},
    }


def scale_size(rows: int, pages: tuple[int, ...], p50: float, plans: bool) -> dict[str, Any]:
    """One table size of scale.json."""
    size: dict[str, Any] = {
        "table_rows": rows,
        "pages": {str(page): {target: {"p50_ms": spread(p50)} for target in SCALE_TARGETS} for page in pages},
    }
    if plans:
        size["plans"] = {str(page): summarise(PLAN_TEXT) for page in pages}
    return size


def cold_variant(ratio: float, samples: list[float] | None) -> dict[str, Any]:
    """One coldstart.json variant whose cold cost is `ratio` times naive's (1000 ms)."""
    row: dict[str, Any] = {
        "import_ms": 100.0,
        "import_vs_naive": 0.1,
        "first_request_ms": ratio * 1000,
        "warm_request_ms": 5.0,
        "cold_cost_ms": ratio * 1000,
        "cold_cost_vs_naive": ratio,
        "statuses": [200],
    }
    if samples is not None:
        row["samples_cold_cost_ms"] = samples
    return row


def coldstart(
    ratios: dict[str, float], samples: bool = True, floors: dict[str, float] | None = None
) -> dict[str, Any]:
    """A coldstart.json with naive at 1000 ms, each function at its ratio, and the design card's `floors`."""
    variants = {
        "floor": cold_variant(0.05, [50.0, 50.0, 50.0] if samples else None),
        "naive": cold_variant(1.0, [1000.0, 1000.0, 1000.0] if samples else None),
    }
    for name, ratio in (floors or {}).items():
        variants[name] = cold_variant(ratio, [ratio * 1000] * 3 if samples else None)
    for name, ratio in ratios.items():
        variants[name] = cold_variant(ratio, [ratio * 900, ratio * 1000, ratio * 1100] if samples else None)
    return {
        "variants": variants,
        "with_first_request": True,
        "worst_import_vs_naive": 0.1,
        "worst_cold_cost_vs_naive": max(ratios.values()),
        "target_met": True,
        "runs_per_variant": 3,
        "python": "3.12",
        "cpus": 2,
        "generated_at": "2026-12-03T00:00:00+00:00",
    }


def write_results(
    directory: Path,
    *,
    cold: dict[str, Any] | None,
    xlarge: bool = False,
    plans: bool = True,
    api_p50: float = 6.0,
    floor: tuple[float, float] | None = None,
) -> Path:
    """A complete synthetic bench/results directory; the API at `api_p50` against PostgREST's 5 ms.

    floor: the floor function's (p50 ms, req/s) in GET one vehicle; None writes results from before it.
    """
    sizes = {"small": 10_000, "large": 1_000_000}
    loads: dict[str, Any] = {
        "small": {"rows": 10_000, "copy_s": 1.0},
        "large": {"rows": 990_000, "copy_s": 50.0, "index_rebuild_s": 20.0, "indexes_rebuilt": 14},
    }
    scale = {
        "small": scale_size(10_030, (1, 500), 10.0, plans),
        "large": scale_size(1_000_030, (1, 500, 1000), 11.0, plans),
    }
    cells = {"api": (api_p50, 100.0), "postgrest": (5.0, 200.0), "naive": (100.0, 10.0)}
    summary = {s: {t: {str(c): crud_cell(*cells[t]) for c in (1, 8)} for t in TARGETS} for s in CRUD}
    runs = {
        s: {
            t: {str(c): [{"p50_ms": cells[t][0], "throughput_rps": cells[t][1]}] * 3 for c in (1, 8)}
            for t in TARGETS
        }
        for s in CRUD
    }
    if floor is not None:
        floor_cell = crud_cell(*floor)
        floor_cell["cpu_ms_per_request"] = {**floor_cell["cpu_ms_per_request"], "floor": 0.8, "api": 0.0}
        summary["get_one"][FLOOR] = {str(c): floor_cell for c in (1, 8)}
        runs["get_one"][FLOOR] = {
            str(c): [{"p50_ms": floor[0], "throughput_rps": floor[1]}] * 3 for c in (1, 8)
        }
    files: dict[str, Any] = {
        "environment": {
            "date": "2026-12-03 00:00 UTC",
            "commit": "abc1234",
            "worktree_dirty": False,
            "machine": {"cpu": "test", "cores_usable": 2, "memory_gib": 8, "os": "Linux", "python": "3.12"},
            "versions": {"postgres": "18", "postgrest": "12"},
            "sizes": sizes,
            "loads": loads,
            "phases_s": {"total": 1.0},
        },
        "crud": {
            "rounds": 3,
            "budget": {"seconds": 3.0, "requests_c1": 300, "warmup": 2},
            "summary": summary,
            "runs": runs,
        },
        "scale": scale,
        "overhead": {
            "limiter": {"write_round_trip_ms": {"p50": 3.0, "p95": 6.0}, "warm_read_check_ms": {"p50": 0.004}}
        },
        "profile": {"requests": 10, "shares": {profile.NETWORK: 0.5, profile.HTTP_CLIENT: 0.5}},
    }
    if cold is not None:
        files["coldstart"] = cold
    if xlarge:
        files["scale-10m"] = own_run(plans)
    for name, payload in files.items():
        (directory / f"{name}.json").write_text(json.dumps(payload))
    return directory


def own_run(plans: bool = True, failed: str | None = None) -> dict[str, Any]:
    """A synthetic bench/results/scale-10m.json: 10k at 8 ms, 1M at 9 ms, 10M at 16 ms (2x of 10k)."""
    scale = {
        "small": scale_size(10_020, (1, 500), 8.0, plans),
        "large": scale_size(1_000_020, (1, 500, 1000), 9.0, plans),
    }
    if failed is None:
        scale["xlarge"] = scale_size(10_000_020, (1, 500, 1000), 16.0, plans)
    environment = {
        "date": "2026-12-04 09:00 UTC",
        "finished": "2026-12-04 09:30 UTC",
        "commit": "def5678",
        "worktree_dirty": False,
        "machine": {"cpu": "test", "cores_usable": 2, "memory_gib": 8, "os": "Linux", "python": "3.12"},
        "load_average": {"start": [1.5, 1.0, 0.5], "end": [2.5, 2.0, 1.5]},
        "sizes": {"small": 10_000, "large": 1_000_000, "xlarge": 10_000_000},
        "budget": {"rounds": 3, "requests_c1": 300, "seconds": 3.0, "warmup": 2},
        "loads": {
            "small": {"rows": 10_000, "copy_s": 1.0, "index_rebuild_s": 0.0, "indexes_rebuilt": 0},
            "xlarge": {"rows": 9_000_000, "copy_s": 500.0, "index_rebuild_s": 300.0, "indexes_rebuilt": 14},
        },
        "phases_s": {"load xlarge": 800.0, "total": 1500.0},
    }
    if failed is not None:
        environment["failed"] = failed
    return {"environment": environment, "scale": scale}


def target_rows(page: str) -> list[str]:
    """The rows of the first (targets) table of a rendered page."""
    table = page.split("## Targets", 1)[1].split("Also checked in this run", 1)[0]
    return [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]


def row_with(rows: list[str], text: str) -> str:
    """The one row containing `text`."""
    found = [row for row in rows if text in row]
    assert len(found) == 1, (text, rows)
    return found[0]


def test_the_targets_table_has_a_row_for_each_of_the_issues_targets(tmp_path: Path) -> None:
    cold = coldstart({**dict.fromkeys(DATA, 0.4), **dict.fromkeys(AUTH, 0.6), "api/docs": 0.3})
    rows = target_rows(report.render(write_results(tmp_path, cold=cold)))
    for text in (
        f"vehicles, maintenance, `/api/me`, health and VIN ≤ 0.5{X}",
        f"the auth and admin functions ≤ 0.7{X}",
        f"GET one vehicle ≤ 1.3{X}",
        f"POST create ≤ 1.6{X} direct PostgREST, 1 round trip",
        f"PATCH with If-Match ≤ 1.6{X} direct PostgREST, 1 round trip",
        f"throughput at 8 clients ≥ 0.8{X} direct PostgREST",
        f"list at 1M rows ≤ 1.5{X} of 10k, page 1 ",
        f"list at 1M rows ≤ 1.5{X} of 10k, page 1000",
        "list at 10M rows",
    ):
        row_with(rows, text)
    assert len(rows) == 9
    assert all("api/docs" not in row and "api/openapi" not in row for row in rows)


def test_cold_cost_groups_name_each_function_the_worst_and_the_spread(tmp_path: Path) -> None:
    ratios = {
        **dict.fromkeys(DATA, 0.4),
        "api/vehicles/[id]/maintenance": 0.62,
        "api/auth": 0.65,
        "api/admin": 0.5,
    }
    rows = target_rows(report.render(write_results(tmp_path, cold=coldstart(ratios))))
    data = row_with(rows, "health and VIN")
    assert (
        f"**0.62{X}** worst (`api/vehicles/[id]/maintenance`; rounds 0.56{X}{D}0.68{X}), 5 of 6 within"
        in data
    )
    for name in DATA:
        assert f"`{name}`" in data
    assert "| **not met** |" in data
    assert "coldstart.md#what-the-first-request-still-pays" in data
    auth = row_with(rows, "auth and admin")
    assert f"**0.65{X}** worst (`api/auth`" in auth
    assert f"| **met** | {D} |" in auth


def test_the_cold_rows_are_bounded_by_the_design_cards_floors_of_the_same_run(tmp_path: Path) -> None:
    ratios = {
        **dict.fromkeys(DATA, 0.3),
        "api/me": 0.6,
        "api/health": 0.12,
        "api/auth": 0.9,
        "api/admin": 0.5,
    }
    floors = {"floor+card": 0.42, "floor+auth": 0.8}
    cold = coldstart(ratios, floors=floors)
    cold["first_request_imports"] = {
        "api/me": {"total_ms": 560.0, "owners": [["pydantic", 190.0], ["lib", 76.0]], "other_ms": 0.0},
        "floor+card": {"total_ms": 460.0, "owners": [["pydantic", 185.0]], "other_ms": 0.0},
    }
    rows = target_rows(report.render(write_results(tmp_path, cold=cold)))
    data = row_with(rows, "health and VIN")
    assert "| **not met** | card floor (`floor+card`: " in data
    assert (
        f"pydantic model and verifies one HS256 token with python-jose, nothing else): **0.42{X}** naive"
        in data
    )
    assert f"(rounds 0.42{X}{D}0.42{X})" in data
    assert f"worst function `api/me` 0.60{X}, 1.43{X} its floor" in data
    assert "Its first request imports 560 ms of modules" in data
    assert "against the floor's 460 ms: +100 ms, `lib` 76 ms of it." in data
    assert f"`api/health` 0.29{X}" in data  # below the floor: health verifies no token
    assert f"The floor is within the 0.5{X} target: what the worst function adds above it" in data
    assert "coldstart.md#what-the-first-request-still-pays" in data
    auth = row_with(rows, "auth and admin")
    assert "auth floor (`floor+auth`: " in auth
    assert f"**0.80{X}** naive" in auth
    assert f"worst function `api/auth` 0.90{X}, 1.12{X} its floor" in auth
    # The admin's user list loads no Auth client: it is measured against the card floor.
    assert f"`api/admin` 1.19{X}" in auth
    assert "(`api/admin`: its user list loads no Auth client: against the card floor)" in auth
    assert f"The floor alone is over the 0.7{X} target" in auth
    assert "**not met**" in auth


def test_the_cold_start_table_lists_the_floors_only_when_measured(tmp_path: Path) -> None:
    ratios = dict.fromkeys(DATA + AUTH, 0.4)
    with_floors = coldstart(ratios, floors={"floor+card": 0.3, "floor+auth": 0.5})
    page = report.render(write_results(tmp_path, cold=with_floors))
    section = page.split("## Cold start", 1)[1]
    labels = ["**floor** (bare", "**floor+card** (bare", "**floor+auth** (bare", "**naive** ("]
    at = [section.index(f"| {label}") for label in labels]
    assert at == sorted(at)  # the baselines first, in that order
    # Met with a floor measured: the bound cell still names the floor, without a why.
    met = row_with(target_rows(page), "health and VIN")
    assert "| **met** | card floor (`floor+card`" in met
    assert f"**0.30{X}** naive" in met
    assert "The floor" not in met
    old = report.render(write_results(tmp_path, cold=coldstart(ratios)))
    old_section = old.split("## Cold start", 1)[1]
    assert "**floor** (bare handler)" in old_section
    assert "floor+card" not in old
    assert "floor+auth" not in old
    assert f"| **met** | {D} |" in row_with(target_rows(old), "health and VIN")


def test_results_from_before_the_new_fields_render_not_measured(tmp_path: Path) -> None:
    ratios = dict.fromkeys(DATA + AUTH, 0.8)
    page = report.render(write_results(tmp_path, cold=coldstart(ratios, samples=False), plans=False))
    rows = target_rows(page)
    assert "spread over rounds not recorded in this run" in row_with(rows, "health and VIN")
    assert "not measured yet (opt-in, a run of its own: `make bench-10m`)" in row_with(
        rows, "list at 10M rows"
    )
    assert "results from before plans were recorded" in page


def test_without_coldstart_results_the_cold_rows_say_so(tmp_path: Path) -> None:
    rows = target_rows(report.render(write_results(tmp_path, cold=None)))
    assert "not measured in this run" in row_with(rows, "health and VIN")
    assert "not measured in this run" in row_with(rows, "auth and admin")


def test_verdicts_follow_the_ratios_and_unmet_rows_link_the_profile(tmp_path: Path) -> None:
    rows = target_rows(report.render(write_results(tmp_path, cold=None, api_p50=9.0)))
    get = row_with(rows, f"GET one vehicle ≤ 1.3{X}")
    assert f"**1.80{X}**" in get
    assert "**not met**" in get
    assert "#what-bounds-the-api-against-direct-postgrest" in get
    assert "**not met**" in row_with(rows, "POST create")
    throughput = row_with(rows, "throughput at 8 clients")
    assert f"**0.50{X}**" in throughput
    assert "#what-bounds-the-api-against-direct-postgrest" in throughput
    fast = target_rows(report.render(write_results(tmp_path, cold=None, api_p50=6.0)))
    assert f"| **met** | {D} |" in row_with(fast, f"GET one vehicle ≤ 1.3{X}")


def test_the_floor_function_bounds_the_unmet_rows_when_one_hop_alone_misses_the_target(
    tmp_path: Path,
) -> None:
    # PostgREST 5 ms and 200 req/s; the floor 7 ms and 150 req/s; our API 9 ms and 100 req/s.
    page = report.render(write_results(tmp_path, cold=None, api_p50=9.0, floor=(7.0, 150.0)))
    rows = target_rows(page)
    get = row_with(rows, f"GET one vehicle ≤ 1.3{X}")
    assert f"alone is **1.40{X}** direct PostgREST's p50 (rounds 1.40{X}{D}1.40{X})" in get
    assert f"our API is **1.29{X}** the floor's (rounds 1.29{X}{D}1.29{X}, +2.00 ms)" in get
    assert f"one Python hop alone is above 1.3{X}, so the hop bounds this target" in get
    assert "#what-bounds-the-api-against-direct-postgrest" in get
    throughput = row_with(rows, "throughput at 8 clients")
    assert f"alone reaches **0.75{X}** direct PostgREST's req/s (rounds 0.75{X}{D}0.75{X})" in throughput
    assert f"our API **0.67{X}** the floor's (rounds 0.67{X}{D}0.67{X})" in throughput
    assert f"one Python hop alone is below 0.8{X}, so the hop bounds this target" in throughput
    assert "On two shared cores" in throughput
    get_table = page.split("### GET one vehicle", 1)[1].split("###", 1)[0]
    assert "floor function: `GET /api/vehicles/{id}` to `bench/peers/floor/api/vehicles/[id].py`" in get_table
    assert "| 1 | floor function (one Python hop, no checks) | 7.00 |" in get_table
    assert "| 8 | floor function (one Python hop, no checks) | 7.00 |" in get_table
    assert "| 150.0 |" in get_table
    assert "floor function" not in page.split("### list, first page", 1)[1].split("## What bounds", 1)[0]
    bounds = page.split("## What bounds the API against direct PostgREST", 1)[1].split("## Against", 1)[0]
    assert "| process | our API | floor function (one Python hop, no checks) | direct PostgREST |" in bounds
    assert f"| floor (the floor function's dev server) | {D} | 0.80 | {D} |" in bounds
    assert (
        f"| floor function | 7.00 | 1.40{X} (1.40{X}{D}1.40{X}) | 150 | 0.75{X} (0.75{X}{D}0.75{X}) |"
        in bounds
    )
    assert f"Our API against the floor: 1.29{X} its p50" in bounds
    assert "**Floor function** (GET one vehicle only)" in page


def test_a_floor_within_the_targets_leaves_the_rest_to_the_api(tmp_path: Path) -> None:
    page = report.render(write_results(tmp_path, cold=None, api_p50=9.0, floor=(5.5, 190.0)))
    rows = target_rows(page)
    get = row_with(rows, f"GET one vehicle ≤ 1.3{X}")
    assert f"**1.10{X}** direct PostgREST's p50" in get
    assert f"one Python hop alone is within 1.3{X}, so the rest is our API's own work" in get
    throughput = row_with(rows, "throughput at 8 clients")
    assert f"one Python hop alone reaches 0.8{X}, so the rest is our API's own work" in throughput
    met = target_rows(report.render(write_results(tmp_path, cold=None, api_p50=6.0, floor=(5.5, 190.0))))
    assert f"| **met** | {D} |" in row_with(met, f"GET one vehicle ≤ 1.3{X}")


def test_results_from_before_the_floor_render_without_it(tmp_path: Path) -> None:
    page = report.render(write_results(tmp_path, cold=None, api_p50=9.0))
    assert "floor function" not in page
    assert "The hop by itself" not in page
    get = row_with(target_rows(page), f"GET one vehicle ≤ 1.3{X}")
    assert "| one more HTTP hop plus 1.00 ms of the API's Python CPU per request" in get
    throughput = row_with(target_rows(page), "throughput at 8 clients")
    assert "| on two shared cores the API process's CPU per request is the ceiling" in throughput


def test_the_10m_run_renders_its_rows_and_plans_from_its_own_file(tmp_path: Path) -> None:
    page = report.render(write_results(tmp_path, cold=None, xlarge=True))
    rows = target_rows(page)
    first = row_with(rows, f"list at 10M rows ≤ 1.5{X} of 10k, page 1 ")
    assert f"**2.00{X}**" in first  # 16 ms / 8 ms, both from scale-10m.json
    assert "**not met**" in first
    assert "from its own run, `python -m bench.scale10m` of 2026-12-04 09:00 UTC at commit `def5678`" in first
    assert "load average 1.5 \u2192 2.5" in first
    assert "#query-plans-of-the-list-its-own-run" in first
    row_with(rows, f"list at 10M rows ≤ 1.5{X} of 10k, page 1000")
    # The 1M target stays the main run's: 11 ms / 10 ms in scale.json.
    large = row_with(rows, f"list at 1M rows ≤ 1.5{X} of 10k, page 1 ")
    assert f"**1.10{X}**" in large
    assert "own run" not in large
    assert "#query-plans-of-the-list" in large
    assert "## Scale: the list at 10k and 1M vehicles" in page
    own = page.split("### The list in a run of its own (`make bench-10m`)", 1)[1]
    assert "From `bench/results/scale-10m.json`" in own
    assert "[1.5, 1.0, 0.5] at the start and [2.5, 2.0, 1.5] at the end" in own
    assert "#### Query plans of the list, its own run" in own
    assert (
        "| 10,000,020 | 1000 | Index Scan Backward using vehicles_created_at_id_idx | 0.08 "
        "| shared hit=25 | yes |" in own
    )
    assert "The plan of page 1000 at 10,000,020 rows:" in own
    assert "| 10M \u00f7 10k | " in own
    assert "Loads: 10k: 10,000 rows in 1.0 s; 10M: 9,000,000 rows in 500.0 s + 300.0 s for 14 indexes" in own
    assert "(10k, 1M and 10M rows)" in own
    assert "Query Text" not in page
    assert "(#the-list-in-a-run-of-its-own-make-bench-10m)" in page


def test_the_committed_results_still_render() -> None:
    results = ROOT / "bench" / "results"
    page = report.render(results)
    # Eight rows from the main run; the 10M list is one "not measured yet" row, or two (page 1 and
    # page 1000) once `make bench-10m` has written its own file.
    ten_million_rows = 2 if (results / "scale-10m.json").exists() else 1
    assert len(target_rows(page)) == 8 + ten_million_rows


def test_summarise_keeps_the_plan_and_drops_the_query_text() -> None:
    plan = summarise(PLAN_TEXT)
    assert plan["execution_ms"] == 0.081
    assert plan["scans"] == ["Index Scan Backward using vehicles_created_at_id_idx"]
    assert plan["buffers"] == "shared hit=25"
    assert plan["index_seek"] is True
    assert plan["plan"].startswith("duration: 0.081 ms\nLimit")
    assert "select v.*" not in plan["plan"]
    assert summarise("duration: 9 ms  plan:\nSeq Scan on vehicles v  (cost=0..1)")["index_seek"] is False


def test_function_groups() -> None:
    assert all(DATA_FUNCTIONS.has(name) for name in DATA)
    assert all(AUTH_FUNCTIONS.has(name) for name in AUTH)
    assert not DATA_FUNCTIONS.has("api/mention")
    assert not DATA_FUNCTIONS.has("api/docs")
    cold = coldstart(dict.fromkeys((*DATA, *AUTH, "api/docs", "api/openapi"), 0.5))
    assert others(cold) == ["api/docs", "api/openapi"]


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        (f"{profile.STDLIB}/http/client.py", profile.STDLIB_HTTP_CLIENT),
        (f"{profile.STDLIB}/http/server.py", "http.server (request line, headers)"),
        (f"{profile.ROOT}/lib/supabase/rest.py", profile.PGRST_CLIENT),
        (f"{profile.ROOT}/lib/supabase/transport.py", profile.PGRST_CLIENT),
        (f"{profile.ROOT}/lib/http/endpoint.py", profile.LIB_PIPELINE),
        (f"{profile.ROOT}/lib/pipeline.py", profile.LIB_PIPELINE),
        (f"{profile.ROOT}/lib/supabase/tokens.py", profile.TOKENS),
        ("/x/site-packages/httpcore/_sync/connection.py", profile.HTTP_CLIENT),
        (f"{profile.STDLIB}/json/decoder.py", "caller"),
    ],
)
def test_profile_owners(path: str, owner: str) -> None:
    frame = SimpleNamespace(file_path=path, function="f")
    assert profile._category(frame, "caller") == owner


def test_targets_survive_results_without_an_xlarge_size(tmp_path: Path) -> None:
    targets = Targets(write_results(tmp_path, cold=None))
    assert targets.sizes() == ["small", "large"]
    assert targets.size_label("large") == "1M"


IMPORTTIME = """import time: self [us] | cumulative | imported package
import time:       300 |        300 | lib.http
bench-coldstart: request 0
import time:      2000 |       2000 |     httpcore._sync
import time:      1000 |       3000 |   httpcore
import time:      4000 |       7000 | lib.supabase.rest
import time:       500 |        500 | jose
bench-coldstart: request 1
import time:      9000 |       9000 | late
"""


def test_the_first_requests_imports_are_summed_by_package_between_the_marks() -> None:
    owners = first_request_owners(IMPORTTIME)
    assert owners == {"httpcore": 3.0, "lib": 4.0, "jose": 0.5}
    assert summary(owners) == {
        "total_ms": 7.5,
        "owners": [["lib", 4.0], ["httpcore", 3.0], ["jose", 0.5]],
        "other_ms": 0.0,
    }


def test_the_cold_start_section_shows_the_import_profile(tmp_path: Path) -> None:
    cold = coldstart(dict.fromkeys(DATA + AUTH, 0.8))
    cold["first_request_imports"] = {
        "api/health": summary({"httpx": 120.0, "lib": 30.0}),
        "api/docs": {"error": "Traceback"},
        "floor+card": summary({"pydantic": 90.0, "jose": 10.0}),
    }
    page = report.render(write_results(tmp_path, cold=cold))
    assert "### What the first request imports" in page
    assert f"| `api/health` | ≤ 0.5{X} | 150 | `httpx` 80%, `lib` 20%, others 0% |" in page
    assert "| `api/docs` | no target | failed |" in page
    assert (
        f"| `floor+card` | baseline: floor of ≤ 0.5{X} | 100 | `pydantic` 90%, `jose` 10%, others 0% |"
        in page
    )
    old = report.render(write_results(tmp_path, cold=coldstart(dict.fromkeys(DATA + AUTH, 0.8))))
    assert "no import profile recorded" in old


def test_a_failed_10m_run_says_so_and_keeps_its_smaller_sizes(tmp_path: Path) -> None:
    results = write_results(tmp_path, cold=None)
    (results / "scale-10m.json").write_text(json.dumps(own_run(failed="RuntimeError('no room | at all')")))
    page = report.render(results)
    row = row_with(target_rows(page), "list at 10M rows")
    assert "failed in its own run (`python -m bench.scale10m` of 2026-12-04 09:00 UTC" in row
    assert "`RuntimeError('no room / at all')`" in row
    assert "**The run failed** after the sizes shown" in page


def test_without_the_10m_run_its_row_says_how_to_run_it(tmp_path: Path) -> None:
    page = report.render(write_results(tmp_path, cold=None))
    row = row_with(target_rows(page), "list at 10M rows")
    assert "not measured yet (opt-in, a run of its own: `make bench-10m`)" in row
    assert "a run of its own" in page.split("## Scale", 1)[1]


def test_the_main_run_leaves_the_10m_runs_file_alone(tmp_path: Path) -> None:
    own = json.dumps(own_run())
    (tmp_path / "scale-10m.json").write_text(own)
    (tmp_path / "main").mkdir()
    results = {
        name: json.loads((write_results(tmp_path / "main", cold=None) / f"{name}.json").read_text())
        for name in ("environment", "crud", "scale", "overhead", "profile")
    }
    write_main_results(tmp_path, results, Phases())
    assert (tmp_path / "scale-10m.json").read_text() == own
    assert (tmp_path / "scale.json").exists()


def test_the_10m_runs_sizes_and_disk_are_checked_before_it_starts() -> None:
    assert parse_sizes("10000,100000,300000") == {"small": 10_000, "large": 100_000, "xlarge": 300_000}
    for bad in ("10000,100000", "10000,5000,300000", "0,1,2"):
        with pytest.raises(ValueError, match="three rising"):
            parse_sizes(bad)
    with pytest.raises(SystemExit, match="GiB free"):
        check_disk({"small": 1, "large": 2, "xlarge": 10**12})
    check_disk({"small": 10_000, "large": 100_000, "xlarge": 300_000})
