"""docs/performance.md, generated from bench/results/*.json (`python -m bench --report-only`)."""

from __future__ import annotations

import math
from pathlib import Path

from bench.profile import CLIENT_STACK, JOSE, NETWORK, TOKENS
from bench.report_coldstart import imports_section
from bench.report_format import cell, fmt_ms, fmt_range, fmt_x, per_round_ratio
from bench.report_scale import ScaleReport
from bench.report_targets import GET_ONE_TARGET
from bench.scenarios import CRUD, FLOOR, TARGET_LABELS, scenario_targets

FLOOR_FILE = "`bench/peers/floor/api/vehicles/[id].py`"
# The processes whose CPU a target's own column leaves out: the other targets' servers, idle then.
IDLE_SERVERS = {"api": ("naive", FLOOR), "postgrest": ("naive", FLOOR), FLOOR: ("naive", "api")}
# The owner's label before lib/tokens.py moved to lib/supabase/ (older profile.json files).
OLD_TOKENS = ("lib/tokens.py (JWT checks)",)

SCENARIO_LABELS = {
    "get_one": "GET one vehicle",
    "list_first": "list, first page",
    "list_deep": "list, deep page (cursor)",
    "create": "POST create",
    "patch": "PATCH with If-Match",
}
SCENARIO_ROUTES = {
    "get_one": (
        "`GET /api/vehicles/{id}`",
        "`GET /rest/v1/vehicles?select=*&id=eq.{id}`",
        "`GET /vehicles/{id}` via `.table().select().eq()`",
    ),
    "list_first": (
        "`GET /api/vehicles`",
        "`GET /rest/v1/rpc/list_vehicles?p_sort=-created_at&p_limit=21`",
        "`.order().range(0, 19)` (OFFSET)",
    ),
    "list_deep": (
        "`GET /api/vehicles?cursor=…`",
        "the same RPC with `p_after`, `p_after_id`",
        "`.order().range(19980, 19999)` (OFFSET)",
    ),
    "create": (
        "`POST /api/vehicles`",
        "`POST /rest/v1/vehicles` (`return=representation`)",
        "`.table().insert().execute()`",
    ),
    "patch": (
        "`PATCH /api/vehicles/{id}` + `If-Match`",
        "`PATCH /rest/v1/vehicles?id=eq.…&version=eq.…`",
        "`.update().eq('id').eq('version')`",
    ),
}


class Report(ScaleReport):
    """The page, section by section."""

    def machine(self) -> list[str]:
        """Where and how it ran."""
        env = self.env
        m = env["machine"]
        v = env["versions"]
        phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in env["phases_s"].items())
        budget = self.crud["budget"]
        small, large = env["sizes"]["small"], env["sizes"]["large"]
        return [
            "## Machine and method",
            "",
            "| | |",
            "|---|---|",
            f"| date | {env['date']} |",
            f"| CPU | {m['cpu']}, {m['cores_usable']} usable cores |",
            f"| memory | {m['memory_gib']} GiB |",
            f"| OS | {m['os']} |",
            f"| Python | {m['python']} |",
            f"| Postgres | {v['postgres']} (non-durable: fsync off, as in the tests) |",
            f"| PostgREST | {v['postgrest']} |",
            f"| duration | {phases} |",
            "",
            "- **Stack**: `python -m bench` starts its own throwaway local stack (free ports, temporary "
            "data directory, `durable=False`) exactly as `tests/conftest.py` does: Postgres, PostgREST, "
            "the Auth service, the gateway (which stands for Supabase's API gateway and counts requests "
            "per upstream) and the API dev server. The API runs with `RATE_LIMIT_READ` and "
            "`RATE_LIMIT_WRITE` at `1000000/60` so the limiter never refuses, while every write still "
            "makes its limiter call.",
            f"- **Data**: {small:,} vehicles, then {large - small:,} more, bulk-loaded with `COPY` "
            "(never the API; secondary indexes dropped and rebuilt from "
            "their own definitions for the big loads), then `VACUUM ANALYZE`. Rows are one minute apart, "
            "owned 1 in 40 by the *fleet member* and the rest by 20 other members "
            f"(plus the seed's few rows). Load times: {self._load_times()}.",
            "- **Actors**: the CRUD scenarios act as the fleet member (role `member`: RLS shows only "
            "their own rows, 25,000 of the 1M), the scale scenario as an admin (who sees every row, so "
            "the visible set is the whole table). Every target gets the same user's JWT.",
            "- **Targets**: *our API* through the dev server; *direct PostgREST* through the gateway "
            "(`SUPABASE_URL/rest/v1`) with the same JWT and the same query the API sends (the limit); "
            "the *naive peer* `bench/peers/naive.py`, a `BaseHTTPRequestHandler` on a "
            "`ThreadingHTTPServer` in its own process that builds `create_client(url, key)` per request, "
            "reads bodies with `int(Content-Length)` and reuses no connection.",
            *(
                [
                    "- **Floor function** (GET one vehicle only): the least any Python function can do "
                    f"for that route, {FLOOR_FILE}: it forwards the caller's `Authorization` and the "
                    "publishable key to the same PostgREST query over a keep-alive connection and copies "
                    "back status, `Content-Type` and body, with no JWT check, validation, log or limit. "
                    "A second instance of the API's dev server (`python -m devstack.devserver --root "
                    "bench/peers/floor`, the API's environment) serves it in its own process, so it and our "
                    "API differ only in the function's code (and the API's `vercel.json` rewrites, which the "
                    "router checks per request; the floor's root has none); it is rotated with the other "
                    "targets in every round."
                ]
                if self.has_floor()
                else []
            ),
            "- **Load**: a closed-loop Python client (`bench/load.py`) with 1 or 8 threads, each sending "
            "its next request when the last one ends, over a fresh TCP connection per request for every "
            f"target alike. Each cell runs for {budget['seconds']:.0f} s (at most {budget['requests_c1']} "
            f"requests with one client) after {budget['warmup']} warm-up requests per thread; the matrix "
            f"is repeated {self.crud['rounds']} times with the target order rotated. Tables show the "
            "median over rounds, with min\u2013max of the rounds' p50 and throughput.",
            "",
        ]

    def _load_times(self) -> str:
        loads = self.env["loads"]
        small = loads["small"]
        big = [
            f"{load['rows']:,} rows in {load['copy_s']} s + {load['index_rebuild_s']} s for "
            f"{load['indexes_rebuilt']} indexes"
            for load in (loads[size] for size in ("large",) if size in loads)
        ]
        return "; ".join([f"{small['rows']:,} rows in {small['copy_s']} s", *big])

    def crud_tables(self) -> list[str]:
        """One table per scenario, then the ratios."""
        lines = [
            "## Each route against its baselines",
            "",
            "Latency in ms; throughput in requests per second; *DB/req* is PostgREST requests "
            "counted by the gateway per request; *CPU/req* is the CPU milliseconds per request of the "
            "process that serves it: the API dev server (routing and the function) for our API, "
            "PostgREST for direct PostgREST, the peer's process for the naive peer"
            + (", the floor function's dev server for the floor function." if self.has_floor() else "."),
            "",
        ]
        for scenario in CRUD:
            routes = SCENARIO_ROUTES[scenario]
            targets = [t for t in scenario_targets(scenario) if t in self.summary[scenario]]
            floor = (
                f"; floor function: {routes[0]} to {FLOOR_FILE}, which sends {routes[1]}"
                if FLOOR in targets
                else ""
            )
            lines += [
                f"### {SCENARIO_LABELS[scenario]}",
                "",
                f"Our API: {routes[0]}; direct PostgREST: {routes[1]}; naive peer: {routes[2]}{floor}.",
                "",
                "| clients | target | p50 | p95 | p99 | p50 min\u2013max | req/s | req/s min\u2013max "
                "| DB/req | CPU/req |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for concurrency in (1, 8):
                for target in targets:
                    run = self.run(scenario, target, concurrency)
                    # Each target's CPU/req is that of the process serving it, named as the target.
                    cpu = run["cpu_ms_per_request"].get(target, math.nan)
                    lines.append(
                        f"| {concurrency} | {TARGET_LABELS[target]} | {fmt_ms(cell(run, 'p50_ms'))} "
                        f"| {fmt_ms(cell(run, 'p95_ms'))} | {fmt_ms(cell(run, 'p99_ms'))} "
                        f"| {fmt_ms(run['p50_ms']['min'])}\u2013{fmt_ms(run['p50_ms']['max'])} "
                        f"| {cell(run, 'throughput_rps'):.1f} "
                        f"| {run['throughput_rps']['min']:.1f}\u2013{run['throughput_rps']['max']:.1f} "
                        f"| {run['db_requests_per_request']['median']:.3f} | {fmt_ms(cpu)} |"
                        + (f" {run['errors']} errors |" if run["errors"] else "")
                    )
            lines.append("")
        lines += [
            "### Ratios",
            "",
            "| scenario | API p50 ÷ PostgREST p50 (1 client) | API overhead p50, ms (1 client) "
            "| API req/s ÷ PostgREST req/s (8) | API req/s ÷ naive req/s (8) |",
            "|---|---|---|---|---|",
        ]
        for scenario in CRUD:
            api1 = cell(self.run(scenario, "api", 1), "p50_ms")
            rest1 = cell(self.run(scenario, "postgrest", 1), "p50_ms")
            api8 = cell(self.run(scenario, "api", 8), "throughput_rps")
            rest8 = cell(self.run(scenario, "postgrest", 8), "throughput_rps")
            naive, naive_rounds = self.throughput_ratio(scenario)
            rest_rounds = per_round_ratio(
                self.crud, scenario, "api", "postgrest", concurrency="1", key="p50_ms"
            )
            lines.append(
                f"| {SCENARIO_LABELS[scenario]} | {fmt_x(api1 / rest1)} "
                f"({fmt_range(rest_rounds)}) "
                f"| {api1 - rest1:+.2f} | {fmt_x(api8 / rest8)} "
                f"| {fmt_x(naive)} ({fmt_range(naive_rounds)}) |"
            )
        lines.append("")
        return lines

    def bounds(self) -> list[str]:
        """Why the API cannot reach 1.3 times direct PostgREST here, with this run's numbers."""
        run = self.run("get_one", "api", 1)
        rest = self.run("get_one", "postgrest", 1)
        cpu = run["cpu_ms_per_request"]
        shares = self.profile.get("shares", {}) if self.profile else {}
        waiting = shares.get(NETWORK, math.nan)
        client_owners = [name for name in CLIENT_STACK if shares.get(name)]
        client_stack = sum(shares[name] for name in client_owners)
        owners_text = ", ".join(f"`{name.split(' (')[0]}`" for name in client_owners) or "none sampled"
        jwt = sum(shares.get(name, 0.0) for name in (JOSE, TOKENS, *OLD_TOKENS))
        ratio, _ = self.get_one_ratio()
        ranked = sorted(shares.items(), key=lambda item: item[1], reverse=True)
        share_rows = [f"| {name} | {share * 100:.1f}% |" for name, share in ranked]
        return [
            "## What bounds the API against direct PostgREST",
            "",
            f"GET one vehicle with one client: {fmt_x(ratio)} of direct PostgREST. Direct PostgREST is the "
            "baseline: the API makes exactly the request a direct caller makes, behind one more HTTP hop. "
            "CPU per request by process in this run (ms):",
            "",
            *self.cpu_table(),
            "",
            *self.floor_paragraph(),
            "With one client the request's path is serial, so latency is roughly the sum of this CPU "
            "plus the hops. The API adds its own process (the dev server's routing and the function: "
            "`http.server` parsing, JWT verification, the PostgREST call through `lib/supabase/rest.py` "
            "and its HTTP client, the response, one log line) and a TCP connection to it. On two shared "
            "cores those milliseconds cannot overlap with anything. The in-process profile of the "
            "function (below) puts "
            f"{waiting * 100:.0f}% of its wall time in waiting for the gateway and PostgREST, "
            f"{client_stack * 100:.0f}% in the Python HTTP client stack "
            f"({owners_text}) and {jwt * 100:.0f}% in JWT verification. "
            f"The target of {GET_ONE_TARGET}\u00d7 would leave the whole API, hop included, "
            f"{(GET_ONE_TARGET - 1) * 100:.0f}% of a direct PostgREST request: "
            f"{(GET_ONE_TARGET - 1) * cell(rest, 'p50_ms'):.2f} ms here, while the API's process alone "
            f"spends {fmt_ms(cpu.get('api', math.nan))} ms of CPU per request. In a deployment the "
            "function→Supabase network round trip (absent here, where everything is on loopback) is "
            "part of both paths and the ratio shrinks; the absolute overhead (the *API overhead* column "
            "above) is the number that carries over.",
            "",
            "Where the function's time goes (pyinstrument, in-process, exclusive time by owner; "
            f"{self.profile['requests'] if self.profile else 0} requests):",
            "",
            "| owner | share of wall time |",
            "|---|---|",
            *share_rows,
            "",
        ]

    def cpu_table(self) -> list[str]:
        """CPU per request of each process while GET one vehicle ran against each hop (one client)."""
        targets = ["api", *([FLOOR] if self.has_floor() else []), "postgrest"]
        cpus = {t: self.run("get_one", t, 1)["cpu_ms_per_request"] for t in targets}
        names = ["api", *([FLOOR] if self.has_floor() else []), "gateway", "postgrest", "postgres", "client"]
        labels = {"api": "api (our API's dev server)", FLOOR: "floor (the floor function's dev server)"}
        totals = [fmt_ms(sum(v for k, v in cpus[t].items() if k not in IDLE_SERVERS[t])) for t in targets]
        return [
            "| process | " + " | ".join(TARGET_LABELS[t] for t in targets) + " |",
            "|---|" + "---|" * len(targets),
            *(
                f"| {labels.get(name, name)} | "
                + " | ".join(fmt_ms(cpus[t].get(name, math.nan)) for t in targets)
                + " |"
                for name in names
            ),
            "| **total** | " + " | ".join(totals) + " |",
        ]

    def floor_paragraph(self) -> list[str]:
        """The floor function against direct PostgREST and our API against the floor, in this run."""
        if not self.has_floor():
            return []
        p50 = {t: cell(self.run("get_one", t, 1), "p50_ms") for t in ("api", FLOOR, "postgrest")}
        rps = {t: cell(self.run("get_one", t, 8), "throughput_rps") for t in ("api", FLOOR, "postgrest")}
        floor_p50, floor_p50_rounds = self.ratio_of(FLOOR, "postgrest", 1, "p50_ms")
        api_p50, api_p50_rounds = self.ratio_of("api", FLOOR, 1, "p50_ms")
        floor_rps, floor_rps_rounds = self.ratio_of(FLOOR, "postgrest", 8, "throughput_rps")
        api_rps, api_rps_rounds = self.ratio_of("api", FLOOR, 8, "throughput_rps")
        floor_cpu = self.run("get_one", FLOOR, 1)["cpu_ms_per_request"].get(FLOOR, math.nan)
        api_cpu = self.run("get_one", "api", 1)["cpu_ms_per_request"].get("api", math.nan)
        return [
            "The hop by itself, measured: the *floor function* "
            f"({FLOOR_FILE}, served by a second instance of the same dev server) forwards the same "
            "request to PostgREST and copies the answer back, and does nothing else. In the same rounds:",
            "",
            "| | p50, 1 client | ÷ direct PostgREST | req/s, 8 clients | ÷ direct PostgREST |",
            "|---|---|---|---|---|",
            f"| direct PostgREST | {fmt_ms(p50['postgrest'])} | 1.00\u00d7 | {rps['postgrest']:.0f} "
            "| 1.00\u00d7 |",
            f"| floor function | {fmt_ms(p50[FLOOR])} | {fmt_x(floor_p50)} ({fmt_range(floor_p50_rounds)}) "
            f"| {rps[FLOOR]:.0f} | {fmt_x(floor_rps)} ({fmt_range(floor_rps_rounds)}) |",
            f"| our API | {fmt_ms(p50['api'])} | {fmt_x(p50['api'] / p50['postgrest'])} "
            f"| {rps['api']:.0f} | {fmt_x(rps['api'] / rps['postgrest'])} |",
            "",
            f"Our API against the floor: {fmt_x(api_p50)} its p50 (rounds {fmt_range(api_p50_rounds)}, "
            f"{p50['api'] - p50[FLOOR]:+.2f} ms) and {fmt_x(api_rps)} its req/s at 8 clients "
            f"(rounds {fmt_range(api_rps_rounds)}); the floor's dev server spends {fmt_ms(floor_cpu)} ms of "
            f"CPU per request, ours {fmt_ms(api_cpu)} ms. The floor's ratios to direct PostgREST are what "
            "one Python hop costs on this machine whatever the function does; our API's ratios to the "
            "floor are what its own work (JWT verification, validation, the limiter's local check, the "
            "log line, its PostgREST client, the `vercel.json` rewrites its router checks) adds.",
            "",
        ]

    def naive(self) -> list[str]:
        """Why the naive peer is slow."""
        run = self.run("get_one", "naive", 1)
        cpu = run["cpu_ms_per_request"].get("naive", math.nan)
        api_cpu = self.run("get_one", "api", 1)["cpu_ms_per_request"].get("api", math.nan)
        return [
            "## Against the naive peer",
            "",
            f"The naive peer spends {fmt_ms(cpu)} ms of CPU per GET "
            f"(our API: {fmt_ms(api_cpu)} ms), nearly all "
            "of it in `create_client()`: each call builds two `httpx.Client`s (PostgREST and Auth), and "
            "each of those creates an SSL context and loads the CA bundle, even for a plain-http URL; "
            "then every request opens a new connection to the gateway. With 8 clients that CPU is the "
            "ceiling on two cores. Its lists use OFFSET, so its deep page also reads and discards every "
            "row before it; as a member it also filters through RLS without saying `owner_id = me`, so "
            "the planner walks the global `created_at` index and skips other owners' rows (the API's "
            "`list_vehicles` adds that predicate, which uses the `(owner_id, created_at, id)` index). "
            "Our API sends its PostgREST requests through `lib/supabase/rest.py`, a thin client, over a "
            "process-wide keep-alive pool (`lib/supabase/clients.py`).",
            "",
        ]

    def round_trips(self) -> list[str]:
        """Round trips and the limiter."""
        limiter = self.overhead["limiter"] if self.overhead else {}
        rows = []
        for scenario in CRUD:
            api = self.db_per_request(scenario)
            rest = self.db_per_request(scenario, "postgrest")
            rows.append(f"| {SCENARIO_LABELS[scenario]} | {api:.4f} | {rest:.4f} | {api - rest:+.4f} |")
        return [
            "## Database round trips and the rate limiter",
            "",
            "PostgREST requests the gateway forwarded per request, one client, median over rounds "
            "(warm-up requests included in the denominator):",
            "",
            "| scenario | our API | direct PostgREST | added by the API |",
            "|---|---|---|---|",
            *rows,
            "",
            "Every write makes one limiter call (`rpc/rate_limit_take`, a single locked statement) before "
            "its own statement: two round trips. Reads reserve units in batches, 4 first and doubling at "
            "each refill up to `limit ÷ 20` (50,000 at this run's ceiling, 30 at the default 600/min), "
            "and spend them in-process, so a warm read makes no limiter call. The limiter's cost, "
            "timed in-process over the API's own keep-alive pool: one write-path call "
            f"p50 {fmt_ms(limiter.get('write_round_trip_ms', {}).get('p50', math.nan))} ms, p95 "
            f"{fmt_ms(limiter.get('write_round_trip_ms', {}).get('p95', math.nan))} ms; a warm read check "
            f"p50 {limiter.get('warm_read_check_ms', {}).get('p50', math.nan) * 1000:.1f} µs. "
            "`tests/api/test_round_trips.py` (part of `make test`) asserts the counts: GET one, list = 1, "
            "POST/PATCH/DELETE ≤ 2, and 0 limiter calls for a read with a warm allowance.",
            "",
        ]

    def profile_section(self) -> list[str]:
        """Before and after the hot-path fix."""
        lines = [
            "## Profile of the hot path, before and after",
            "",
            "`GET /api/vehicles/{id}` driven in-process (`bench/profile.py`): the function's own "
            "`handler` class on a loopback connection, as the runtime drives it, under pyinstrument "
            "(0.2 ms sampling). The full tree of this run is in `bench/results/profile.txt`.",
            "",
        ]
        if not self.before:
            return lines
        before = self.before
        lines += [*before["finding"], ""]
        after = self.measures()
        lines += [
            f"| measure | before ({before['date']}, `{before['commit']}`) | after (this run) |",
            "|---|---|---|",
        ]
        for name, value in before["measures"].items():
            now = after.get(name, math.nan)
            lines.append(f"| {name} | {value:g} | {now:g} |")
        ab = before["ab"]
        lines += [
            "",
            "Those are two full runs on a machine shared with other jobs, at different commits "
            f"(`{before['commit']}` and `{self.env['commit']}`: other work on `lib/` landed in between), so "
            "their difference is mostly noise. The clean measure is the "
            f"same-process A/B ({ab['rounds']} alternating rounds of {ab['requests']} requests, old and "
            "new code swapped in the same interpreter, CPU time): "
            f"{ab['before_cpu_ms']} ms → {ab['after_cpu_ms']} ms of CPU per request, "
            f"{(1 - ab['ratio']) * 100:.0f}% less (median of the per-round ratios, {ab['ratio']}).",
            "",
            *before["next"],
            "",
        ]
        return lines

    def coldstart(self) -> list[str]:
        """The cold-start table from bench/results/coldstart.json; the method is in docs/coldstart.md."""
        from bench.coldstart.output import table

        lines = [
            "## Cold start",
            "",
            "Measured by `python -m bench.coldstart` (run last by `make bench`; it re-renders this page) "
            "the way Vercel runs a function: no bytecode, a fresh `python -S -B` process per run, the "
            "function module imported by path, then a representative request served twice in-process "
            "against a throwaway local stack. **Import** is what the target measures (Vercel's user "
            "init); **cold cost** = import + first request \u2212 warm request, what being cold adds. "
            "Method, baselines and what the first request still loads: [docs/coldstart.md](coldstart.md).",
            "",
        ]
        if self.cold is None:
            return [*lines, "Not measured yet.", ""]
        return [*lines, table(self.cold), "", *imports_section(self.cold)]

    def render(self) -> str:
        """The whole page."""
        lines = [
            *self.header(),
            *self.machine(),
            *self.crud_tables(),
            *self.bounds(),
            *self.naive(),
            *self.scale_section(),
            *self.round_trips(),
            *self.profile_section(),
            *self.coldstart(),
        ]
        return "\n".join(lines).rstrip() + "\n"


def render(results: Path) -> str:
    """docs/performance.md for the results in `results`."""
    return Report(results).render()
