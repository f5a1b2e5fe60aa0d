"""The results of one `python -m bench` run and the page's opening: title, provenance, targets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report_coldstart import GROUPS, group_row
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
from bench.scenarios import FLOOR

GET_ONE_TARGET = 1.3  # issue #16: warm p50 of GET one vehicle against direct PostgREST, 1 client
WRITE_TARGET = 1.6  # POST create and PATCH with If-Match against direct PostgREST, 1 client
THROUGHPUT_TARGET = 0.8  # GET one vehicle at 8 clients, at least this share of direct PostgREST's
NAIVE_THROUGHPUT_TARGET = 3.0  # GET one vehicle at 8 clients against the naive peer
SCALE_TARGET = 1.5  # the list at 1M (and 10M) rows against 10k, page 1 and page 1000
BOUNDS_LINK = "[What bounds the API](#what-bounds-the-api-against-direct-postgrest)"
NOT_MEASURED = "not measured in this run"
CPU_CEILING = "on two shared cores the API process's CPU per request is the ceiling: "
DASH = "\u2013"
SIZES = ("small", "large", "xlarge")
OWN_RUN = "scale-10m"  # `python -m bench.scale10m` writes it; `python -m bench` never touches it
PLANS_ANCHOR = "query-plans-of-the-list"
OWN_PLANS_ANCHOR = "query-plans-of-the-list-its-own-run"


def _then(first: str, second: str) -> str:
    """Two sentences for one cell; `second` alone when `first` is empty (older results)."""
    return f"{first}. {second[:1].upper()}{second[1:]}" if first else second


@dataclass(frozen=True)
class ScaleRun:
    """One run's list timings and plans by table size: the main run's, or `python -m bench.scale10m`'s."""

    env: dict[str, Any]
    scale: dict[str, Any]
    file: str

    def sizes(self) -> list[str]:
        """The sizes measured, smallest first."""
        return [size for size in SIZES if size in self.scale]

    def label(self, size: str) -> str:
        """10k, 1M, 10M."""
        rows = self.env.get("sizes", {}).get(size) or self.scale[size].get("table_rows", 0)
        return fmt_size(int(rows))

    def p50(self, size: str, page: int, target: str) -> float:
        """Median p50 of one page at one size; NaN when not measured."""
        pages = self.scale[size]["pages"] if size in self.scale else {}
        each = pages.get(str(page), {}).get(target)
        return float(each["p50_ms"]["median"]) if each else math.nan

    def spread(self, size: str, page: int, target: str = "api") -> str:
        """ "10.35 ms (8.89\u201310.54)": the median p50 and its min\u2013max over rounds."""
        p50 = self.scale[size]["pages"][str(page)][target]["p50_ms"]
        return f"{fmt_ms(p50['median'])} ms ({fmt_ms(p50['min'])}\u2013{fmt_ms(p50['max'])})"

    def deepest(self, size: str) -> int:
        """The deepest page measured at one size."""
        return max(int(p) for p in self.scale[size]["pages"])

    def plan(self, size: str, page: int) -> dict[str, Any] | None:
        """The recorded plan of one page, if any."""
        plan: dict[str, Any] | None = self.scale.get(size, {}).get("plans", {}).get(str(page))
        return plan

    def provenance(self) -> str:
        """ "`python -m bench.scale10m` of <date> at commit `abc`, load average 1.0 \u2192 2.0"."""
        load = self.env.get("load_average", {})
        average = (
            f", load average {load['start'][0]} \u2192 {load['end'][0]}"
            if "start" in load and "end" in load
            else ""
        )
        dirty = " with uncommitted changes" if self.env.get("worktree_dirty") else ""
        commit = f"commit `{self.env['commit']}`{dirty}"
        return f"`python -m bench.scale10m` of {self.env['date']} at {commit}{average}"


class Targets:
    """The loaded results, the ratios the targets compare and the page's opening sections."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.env = load_result(results, "environment")
        self.crud = load_result(results, "crud")
        self.scale = load_result(results, "scale")
        self.main = ScaleRun(
            self.env,
            {size: self.scale[size] for size in ("small", "large") if size in self.scale},
            "scale.json",
        )
        own = load_result(results, OWN_RUN)
        self.own = ScaleRun(own["environment"], own["scale"], f"{OWN_RUN}.json") if own else None
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

    def p50_ratio(self, scenario: str) -> tuple[float, list[float]]:
        """API p50 / direct PostgREST p50 at one client, and the same per round."""
        api = cell(self.run(scenario, "api", 1), "p50_ms")
        rest = cell(self.run(scenario, "postgrest", 1), "p50_ms")
        return api / rest, per_round_ratio(
            self.crud, scenario, "api", "postgrest", concurrency="1", key="p50_ms"
        )

    def get_one_ratio(self) -> tuple[float, list[float]]:
        """API p50 / direct PostgREST p50, GET one vehicle, one client."""
        return self.p50_ratio("get_one")

    def throughput_ratio(self, scenario: str, baseline: str = "naive") -> tuple[float, list[float]]:
        """API / baseline throughput at 8 clients, and the same per round."""
        api = cell(self.run(scenario, "api", 8), "throughput_rps")
        other = cell(self.run(scenario, baseline, 8), "throughput_rps")
        rounds = per_round_ratio(self.crud, scenario, "api", baseline, concurrency="8", key="throughput_rps")
        return (api / other if other else math.inf), rounds

    def has_floor(self) -> bool:
        """Whether this run measured the floor function (GET one vehicle); older runs did not."""
        return FLOOR in self.summary.get("get_one", {})

    def ratio_of(self, a: str, b: str, concurrency: int, key: str) -> tuple[float, list[float]]:
        """a / b of GET one vehicle's median `key` at one concurrency, and the same per round."""
        first = cell(self.run("get_one", a, concurrency), key)
        second = cell(self.run("get_one", b, concurrency), key)
        rounds = per_round_ratio(self.crud, "get_one", a, b, concurrency=str(concurrency), key=key)
        return (first / second if second else math.nan), rounds

    def floor_latency(self) -> str:
        """The floor function's p50 against direct PostgREST and our API's against the floor's (1 client)."""
        floor, f_rounds = self.ratio_of(FLOOR, "postgrest", 1, "p50_ms")
        api, a_rounds = self.ratio_of("api", FLOOR, 1, "p50_ms")
        added = cell(self.run("get_one", "api", 1), "p50_ms") - cell(self.run("get_one", FLOOR, 1), "p50_ms")
        if floor > GET_ONE_TARGET:
            verdict_text = (
                f"one Python hop alone is above {GET_ONE_TARGET}\u00d7, so the hop bounds this target; "
                "what our API adds over the floor is what we own"
            )
        else:
            verdict_text = (
                f"one Python hop alone is within {GET_ONE_TARGET}\u00d7, so the rest is our API's own work"
            )
        return (
            f"The floor function (one Python hop, no checks, same dev server) alone is "
            f"**{fmt_x(floor)}** direct PostgREST's p50 (rounds {fmt_range(f_rounds)}); our API is "
            f"**{fmt_x(api)}** the floor's (rounds {fmt_range(a_rounds)}, {added:+.2f} ms): {verdict_text}"
        )

    def floor_throughput(self) -> str:
        """The floor's req/s against direct PostgREST's and our API's against the floor's (8 clients)."""
        floor, f_rounds = self.ratio_of(FLOOR, "postgrest", 8, "throughput_rps")
        api, a_rounds = self.ratio_of("api", FLOOR, 8, "throughput_rps")
        if floor < THROUGHPUT_TARGET:
            verdict_text = (
                f"one Python hop alone is below {THROUGHPUT_TARGET}\u00d7, so the hop bounds this target; "
                "what our API loses against the floor is what we own"
            )
        else:
            verdict_text = (
                f"one Python hop alone reaches {THROUGHPUT_TARGET}\u00d7, so the rest is our API's own work"
            )
        return (
            f"The floor function (one Python hop, no checks) alone reaches **{fmt_x(floor)}** "
            "direct PostgREST's req/s "
            f"(rounds {fmt_range(f_rounds)}); our API **{fmt_x(api)}** the floor's "
            f"(rounds {fmt_range(a_rounds)}): {verdict_text}"
        )

    def sizes(self) -> list[str]:
        """The table sizes the main run measured the list at: small and large."""
        return self.main.sizes()

    def size_label(self, size: str) -> str:
        """10k, 1M (the main run's sizes)."""
        return self.main.label(size)

    def scale_p50(self, size: str, page: int, target: str) -> float:
        """Median p50 of one page at one size, in the main run."""
        return self.main.p50(size, page, target)

    def deepest(self, size: str) -> int:
        """The deepest page the main run measured at one size."""
        return self.main.deepest(size)

    def deep_pages(self) -> tuple[int, int]:
        """(deepest page measured at the small size, at the large size)."""
        return self.deepest("small"), self.deepest("large")

    def db_per_request(self, scenario: str, target: str = "api") -> float:
        """Median PostgREST requests per API request at one client."""
        return float(self.run(scenario, target, 1)["db_requests_per_request"]["median"])

    def targets_table(self) -> list[str]:
        """The issue's targets (all measured in the same run), each with its ratio, spread and verdict."""
        ratio, rounds = self.get_one_ratio()
        api_p50 = cell(self.run("get_one", "api", 1), "p50_ms")
        rest_p50 = cell(self.run("get_one", "postgrest", 1), "p50_ms")
        throughput, t_rounds = self.throughput_ratio("get_one", "postgrest")
        hop = self.hop("get_one")
        floor_latency = self.floor_latency() if self.has_floor() else ""
        floor_throughput = self.floor_throughput() if self.has_floor() else ""
        ceiling = _then(floor_throughput, CPU_CEILING + BOUNDS_LINK)
        return [
            "| target | measured | verdict | what bounds it |",
            "|---|---|---|---|",
            *(group_row(self.cold, group) for group in GROUPS),
            f"| warm p50 of GET one vehicle ≤ {GET_ONE_TARGET}\u00d7 direct PostgREST (1 client) "
            f"| **{fmt_x(ratio)}** ({fmt_ms(api_p50)} ms vs {fmt_ms(rest_p50)} ms; "
            f"rounds {fmt_range(rounds)}) "
            f"| {verdict(ratio <= GET_ONE_TARGET)} "
            f"| {DASH if ratio <= GET_ONE_TARGET else _then(floor_latency, hop)} |",
            *(self.write_row(scenario) for scenario in ("create", "patch")),
            f"| throughput at 8 clients ≥ {THROUGHPUT_TARGET}\u00d7 direct PostgREST (GET one vehicle) "
            f"| **{fmt_x(throughput)}** ({cell(self.run('get_one', 'api', 8), 'throughput_rps'):.0f} vs "
            f"{cell(self.run('get_one', 'postgrest', 8), 'throughput_rps'):.0f} req/s; "
            f"rounds {fmt_range(t_rounds)}) "
            f"| {verdict(throughput >= THROUGHPUT_TARGET)} "
            f"| {DASH if throughput >= THROUGHPUT_TARGET else ceiling} |",
            *self.scale_rows("large"),
            *self.scale_rows("xlarge"),
        ]

    def hop(self, scenario: str) -> str:
        """What bounds the API against direct PostgREST in `scenario`, with the profile's link."""
        api_cpu = self.run(scenario, "api", 1)["cpu_ms_per_request"].get("api", math.nan)
        return (
            f"one more HTTP hop plus {fmt_ms(api_cpu)} ms of the API's Python CPU per request: {BOUNDS_LINK}"
        )

    def write_row(self, scenario: str) -> str:
        """POST create or PATCH with If-Match: p50 against direct PostgREST, and one round trip."""
        label = {"create": "POST create", "patch": "PATCH with If-Match"}[scenario]
        ratio, rounds = self.p50_ratio(scenario)
        trips = self.db_per_request(scenario)
        ok = ratio <= WRITE_TARGET and trips <= 1.01
        return (
            f"| warm p50 of {label} ≤ {WRITE_TARGET}\u00d7 direct PostgREST, 1 round trip (1 client) "
            f"| **{fmt_x(ratio)}** ({fmt_ms(cell(self.run(scenario, 'api', 1), 'p50_ms'))} ms vs "
            f"{fmt_ms(cell(self.run(scenario, 'postgrest', 1), 'p50_ms'))} ms; rounds {fmt_range(rounds)}); "
            f"{trips:.3f} database round trips "
            f"| {verdict(ok)} | {DASH if ok else self.hop(scenario)} |"
        )

    def scale_rows(self, size: str) -> list[str]:
        """The list at 1M (main run) or 10M (its own run) against 10k of the same run: page 1, deepest."""
        run = self.main if size == "large" else self.own
        label = {"large": "1M", "xlarge": "10M"}[size]
        if run is None or size not in run.scale or "small" not in run.scale:
            failed = run and run.env.get("failed")
            failed = failed and failed.replace("|", "/").replace("`", "'")
            why = (
                f"failed in its own run ({run.provenance()}): `{failed}`"
                if run and failed
                else "not measured yet (opt-in, a run of its own: `make bench-10m`)"
            )
            return [
                f"| list at {label} rows ≤ {SCALE_TARGET}\u00d7 of 10k (page 1, page 1000) "
                f"| {why} | \u2013 | \u2013 |"
            ]
        small, big = run.label("small"), run.label(size)
        small_deep, deep = run.deepest("small"), run.deepest(size)
        source = "" if run is self.main else f"; from its own run, {run.provenance()}"
        rows = []
        for page, small_page in ((1, 1), (deep, small_deep)):
            ratio = run.p50(size, page, "api") / run.p50("small", small_page, "api")
            ok = ratio <= SCALE_TARGET
            versus = f"page {small_page}, the deepest full page at {small}" if small_page != page else small
            rows.append(
                f"| list at {big} rows ≤ {SCALE_TARGET}\u00d7 of {small}, page {page} "
                f"| **{fmt_x(ratio)}** (our API: {run.spread(size, page)} vs "
                f"{run.spread('small', small_page)} at {versus}; "
                f"p50 median (min\u2013max) of rounds{source}) "
                f"| {verdict(ok)} | {self.plan_note(run, size, page, small_page)} |"
            )
        return rows

    def plan_note(self, run: ScaleRun, size: str, page: int, small_page: int) -> str:
        """What the two pages' plans show: the same index seek, and the buffers each touched."""
        big, small = run.plan(size, page), run.plan("small", small_page)
        link = f"([plans](#{PLANS_ANCHOR if run is self.main else OWN_PLANS_ANCHOR}))"
        if big is None or small is None:
            return f"keyset pagination: the RPC seeks the `(created_at, id)` index {link}"
        if big["index_seek"] and small["index_seek"]:
            return (
                f"both plans seek the index ({', '.join(big['scans'])}): buffers {big['buffers']} "
                f"vs {small['buffers']}, execution {fmt_ms(big['execution_ms'])} vs "
                f"{fmt_ms(small['execution_ms'])} ms {link}"
            )
        return f"the plan at {run.label(size)} does not seek an index: {', '.join(big['scans'])} {link}"

    def other_checks(self) -> list[str]:
        """Checks kept from earlier work: round trips, the limiter, the naive peer, import time."""
        throughput, t_rounds = self.throughput_ratio("get_one")
        reads = [self.db_per_request(s) for s in ("get_one", "list_first", "list_deep")]
        writes = [self.db_per_request(s) for s in ("create", "patch")]
        limiter_writes = [
            self.db_per_request(s) - self.db_per_request(s, "postgrest") for s in ("create", "patch")
        ]
        limiter_reads = self.db_per_request("get_one") - 1
        limiter_ms = self.overhead["limiter"]["write_round_trip_ms"]["p50"] if self.overhead else math.nan
        create_p50 = cell(self.run("create", "api", 1), "p50_ms")
        return [
            "| check | measured | verdict | why |",
            "|---|---|---|---|",
            f"| database round trips per request: reads 1 | GET {reads[0]:.3f}, list {reads[1]:.3f}, "
            f"deep list {reads[2]:.3f} | {verdict(all(r <= 1.05 for r in reads))} "
            "| counted by the gateway in this run, and asserted by `tests/api/test_round_trips.py`; "
            "above 1.000 only by the read limiter's batch refills (4 units, doubling), amortised |",
            f"| database round trips per request: writes 1 | POST {writes[0]:.3f}, PATCH {writes[1]:.3f} "
            f"| {verdict(all(w <= 1.01 for w in writes))} | the write takes its rate-limit unit in its own "
            "transaction (PostgREST's db-pre-request), the same counter direct `/rest/v1` writes use |",
            f"| rate limiting adds no round trip to writes, amortised refills to reads "
            f"| writes +{max(limiter_writes):.3f}, reads "
            f"+{max(limiter_reads, 0):.4f} "
            f"| {verdict(max(limiter_writes) <= 0.01 and limiter_reads <= 0.05)} "
            f"| a separate limiter call would cost {fmt_ms(limiter_ms)} ms p50 "
            f"(of a {fmt_ms(create_p50)} ms POST); reads spend a locally reserved batch |",
            f"| throughput at 8 clients ≥ {NAIVE_THROUGHPUT_TARGET:.0f}\u00d7 the naive peer "
            f"(GET one vehicle) | **{fmt_x(throughput)}** (rounds {fmt_range(t_rounds)}) "
            f"| {verdict(throughput >= NAIVE_THROUGHPUT_TARGET)} "
            "| the naive peer builds `create_client()` per request "
            "(see [Against the naive peer](#against-the-naive-peer)) |",
            *self.import_row(),
        ]

    def import_row(self) -> list[str]:
        """Every function's import against the naive function's, from bench/results/coldstart.json."""
        from bench.coldstart.results import TARGET

        if self.cold is None:
            return [
                f"| every function's import ≤ {TARGET}\u00d7 the naive function's | {NOT_MEASURED} "
                "(`python -m bench.coldstart`) | \u2013 | \u2013 |"
            ]
        worst = self.cold["worst_import_vs_naive"]
        return [
            f"| every function's import (Vercel's init) ≤ {TARGET}\u00d7 the naive function's "
            f"| **{fmt_x(worst)}** worst | {verdict(worst <= TARGET)} "
            "| functions import only the route table and the pipeline; clients, models and "
            "token verification load on first use ([Cold start](#cold-start)) |"
        ]

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
            f"{self.crud['rounds']} rounds."
            + (
                f" The cold-cost rows come from `python -m bench.coldstart`, which `make bench` runs "
                f"right after ({self.cold['runs_per_variant']} interleaved cold starts of every function "
                f"and of the naive one, {self.cold['generated_at']}); their spread is the range of the "
                "per-round ratios of the worst function."
                if self.cold
                else ""
            ),
            "",
            "## Targets",
            "",
            *self.targets_table(),
            "",
            "Also checked in this run:",
            "",
            *self.other_checks(),
            "",
        ]
