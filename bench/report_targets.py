"""The results of one `python -m bench` run and the page's opening: title, provenance, targets."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.report_format import (
    cell,
    fmt_ms,
    fmt_range,
    fmt_size,
    fmt_x,
    load_result,
    per_round_ratio,
    verdict,
)

GET_ONE_TARGET = 1.3
THROUGHPUT_TARGET = 3.0
WRITE_TARGET = 1.6  # issue #16: POST create and PATCH against direct PostgREST
SCALE_TARGET = 1.5


class Targets:
    """The loaded results, the ratios the targets compare and the page's opening sections."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.env = load_result(results, "environment")
        self.crud = load_result(results, "crud")
        self.scale = load_result(results, "scale")
        self.overhead = load_result(results, "overhead")
        self.profile = load_result(results, "profile")
        self.before = load_result(results, "hot-path-before")
        self.cold = load_result(results, "coldstart")
        self.summary = self.crud["summary"]

    def run(self, scenario: str, target: str, concurrency: int) -> dict[str, Any]:
        """Aggregated numbers of one cell of the CRUD matrix."""
        result: dict[str, Any] = self.summary[scenario][target][str(concurrency)]
        return result

    # -- targets -------------------------------------------------------------

    def get_one_ratio(self) -> tuple[float, list[float]]:
        """API p50 / direct PostgREST p50, GET one vehicle, one client."""
        api = cell(self.run("get_one", "api", 1), "p50_ms")
        rest = cell(self.run("get_one", "postgrest", 1), "p50_ms")
        return api / rest, per_round_ratio(
            self.crud, "get_one", "api", "postgrest", concurrency="1", key="p50_ms"
        )

    def throughput_ratio(self, scenario: str) -> tuple[float, list[float]]:
        """API / naive peer throughput at 8 clients."""
        api = cell(self.run(scenario, "api", 8), "throughput_rps")
        naive = cell(self.run(scenario, "naive", 8), "throughput_rps")
        rounds = per_round_ratio(self.crud, scenario, "api", "naive", concurrency="8", key="throughput_rps")
        return (api / naive if naive else math.inf), rounds

    def scale_p50(self, size: str, page: int, target: str) -> float:
        """Median p50 of one page at one size."""
        pages = self.scale[size]["pages"]
        return float(pages[str(page)][target]["p50_ms"]["median"]) if str(page) in pages else math.nan

    def deep_pages(self) -> tuple[int, int]:
        """(deepest page measured at the small size, at the large size)."""
        small = max(int(p) for p in self.scale["small"]["pages"])
        large = max(int(p) for p in self.scale["large"]["pages"])
        return small, large

    def db_per_request(self, scenario: str, target: str = "api") -> float:
        """Median PostgREST requests per API request at one client."""
        return float(self.run(scenario, target, 1)["db_requests_per_request"]["median"])

    def targets_table(self) -> list[str]:
        """The issue's targets, each with its measured ratio."""
        ratio, rounds = self.get_one_ratio()
        api_cpu = self.run("get_one", "api", 1)["cpu_ms_per_request"].get("api", math.nan)
        api_p50 = cell(self.run("get_one", "api", 1), "p50_ms")
        rest_p50 = cell(self.run("get_one", "postgrest", 1), "p50_ms")
        throughput, t_rounds = self.throughput_ratio("get_one")
        small_deep, large_deep = self.deep_pages()
        small, big = fmt_size(self.env["sizes"]["small"]), fmt_size(self.env["sizes"]["large"])
        p1 = self.scale_p50("large", 1, "api") / self.scale_p50("small", 1, "api")
        deep = self.scale_p50("large", large_deep, "api") / self.scale_p50("small", small_deep, "api")
        reads = [self.db_per_request(s) for s in ("get_one", "list_first", "list_deep")]
        writes = [self.db_per_request(s) for s in ("create", "patch")]
        limiter_writes = [
            self.db_per_request(s) - self.db_per_request(s, "postgrest") for s in ("create", "patch")
        ]
        limiter_reads = self.db_per_request("get_one") - 1
        limiter_ms = self.overhead["limiter"]["write_round_trip_ms"]["p50"] if self.overhead else math.nan
        create_p50 = cell(self.run("create", "api", 1), "p50_ms")
        write_ratios = [
            cell(self.run(s, "api", 1), "p50_ms") / cell(self.run(s, "postgrest", 1), "p50_ms")
            for s in ("create", "patch")
        ]
        return [
            "| target | measured | verdict | what bounds it |",
            "|---|---|---|---|",
            f"| warm p50 of GET one vehicle ≤ {GET_ONE_TARGET}\u00d7 direct PostgREST (1 client) "
            f"| **{fmt_x(ratio)}** ({fmt_ms(api_p50)} ms vs {fmt_ms(rest_p50)} ms; "
            f"rounds {fmt_range(rounds)}) "
            f"| {verdict(ratio <= GET_ONE_TARGET)} "
            f"| the API is one more HTTP hop plus {fmt_ms(api_cpu)} ms of Python CPU per request "
            "(see [What bounds the API](#what-bounds-the-api-against-direct-postgrest)) |",
            f"| throughput at 8 clients ≥ {THROUGHPUT_TARGET:.0f}\u00d7 the naive peer (GET one vehicle) "
            f"| **{fmt_x(throughput)}** (rounds {fmt_range(t_rounds)}) "
            f"| {verdict(throughput >= THROUGHPUT_TARGET)} "
            "| the naive peer builds `create_client()` per request "
            "(see [Against the naive peer](#against-the-naive-peer)) |",
            f"| list at {big} within {SCALE_TARGET}\u00d7 of {small}, page 1 | **{fmt_x(p1)}** "
            f"| {verdict(p1 <= SCALE_TARGET)} | keyset pagination on `(created_at, id)` indexes |",
            f"| list at {big} within {SCALE_TARGET}\u00d7 of {small}, page {large_deep} "
            f"| **{fmt_x(deep)}** (page {large_deep} at {big} vs page {small_deep}, the deepest full page, "
            f"at {small}) "
            f"| {verdict(deep <= SCALE_TARGET)} | the cursor seeks; depth costs nothing |",
            f"| database round trips per request: reads 1 | GET {reads[0]:.3f}, list {reads[1]:.3f}, "
            f"deep list {reads[2]:.3f} | {verdict(all(r <= 1.05 for r in reads))} "
            "| counted by the gateway in this run, and asserted by `tests/api/test_round_trips.py`; "
            "above 1.000 only by the read limiter's batch refills (4 units, doubling), amortised |",
            f"| database round trips per request: writes 1 | POST {writes[0]:.3f}, PATCH {writes[1]:.3f} "
            f"| {verdict(all(w <= 1.01 for w in writes))} | the write takes its rate-limit unit in its own "
            "transaction (PostgREST's db-pre-request), the same counter direct `/rest/v1` writes use |",
            f"| warm p50 of POST create / PATCH ≤ {WRITE_TARGET}\u00d7 direct PostgREST (1 client) "
            f"| **{fmt_x(write_ratios[0])}** / **{fmt_x(write_ratios[1])}** "
            f"| {verdict(max(write_ratios) <= WRITE_TARGET)} "
            "| one more HTTP hop and the API's Python CPU, as for reads; direct PostgREST pays the same "
            "pre-request (session check and write unit) |",
            f"| rate limiting adds no round trip to writes, amortised refills to reads "
            f"| writes +{max(limiter_writes):.3f}, reads "
            f"+{max(limiter_reads, 0):.4f} "
            f"| {verdict(max(limiter_writes) <= 0.01 and limiter_reads <= 0.05)} "
            f"| a separate limiter call would cost {fmt_ms(limiter_ms)} ms p50 "
            f"(of a {fmt_ms(create_p50)} ms POST); reads spend a locally reserved batch |",
            *self.coldstart_targets(),
        ]

    def coldstart_targets(self) -> list[str]:
        """The cold-start rows of the targets table, from bench/results/coldstart.json."""
        from bench.coldstart.results import TARGET

        if self.cold is None:
            return ["| cold start | not measured yet: `python -m bench.coldstart` | \u2013 | \u2013 |"]
        worst = self.cold["worst_import_vs_naive"]
        rows = [
            f"| every function's import (Vercel's init) \u2264 {TARGET}\u00d7 the naive function's "
            f"| **{fmt_x(worst)}** worst | {verdict(worst <= TARGET)} "
            "| functions import only the route table and the pipeline; clients, models and "
            "token verification load on first use ([Cold start](#cold-start)) |"
        ]
        cold = self.cold.get("worst_cold_cost_vs_naive")
        if cold is not None:
            rows.append(
                "| import + first request, against the naive function's (no target) "
                f"| **{fmt_x(cold)}** worst "
                "| \u2013 | the first request compiles what it uses: PostgREST and Auth clients, "
                "httpx/httpcore, python-jose ([docs/coldstart.md](coldstart.md)) |"
            )
        return rows

    def measures(self) -> dict[str, float]:
        """The hot path's numbers that the before/after table compares."""
        api = self.run("get_one", "api", 1)
        ratio, _ = self.get_one_ratio()
        profile = self.profile or {}
        return {
            "GET one vehicle, API p50 (ms, 1 client)": cell(api, "p50_ms"),
            "GET one vehicle, API ÷ direct PostgREST p50": round(ratio, 3),
            "GET one vehicle, API req/s (8 clients)": cell(self.run("get_one", "api", 8), "throughput_rps"),
            "GET one vehicle, API process CPU per request (ms)": api["cpu_ms_per_request"]["api"],
            "function CPU per request, in-process (ms)": profile.get("function_cpu_ms", math.nan),
            "function wall p50, in-process (ms)": profile.get("function_p50_ms", math.nan),
        }

    # -- sections ------------------------------------------------------------

    def header(self) -> list[str]:
        """Title, provenance and the targets."""
        env = self.env
        return [
            "# Performance",
            "",
            "Generated by `make bench` (`python -m bench`, writer: `bench/report.py`) from "
            f"`bench/results/*.json`, run of {env['date']} at commit `{env['commit']}`"
            + (" with uncommitted changes" if env.get("worktree_dirty") else "")
            + ". Do not edit by hand: rerun `make bench`, or `python -m bench --report-only` to "
            "re-render the committed results.",
            "",
            "The machine is a shared 2-core box, so absolute times are noise: the result is the ratio "
            "between targets measured in the same run, interleaved, with the spread over "
            f"{self.crud['rounds']} rounds.",
            "",
            "## Targets",
            "",
            *self.targets_table(),
            "",
        ]
