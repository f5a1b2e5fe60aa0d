"""The Scale section of docs/performance.md: the list at each table size, and its query plans."""

from __future__ import annotations

from bench.report_format import fmt_ms, fmt_size, fmt_x
from bench.report_targets import OWN_RUN, SIZES, ScaleRun, Targets
from bench.runs import SCALE_TARGETS
from bench.scenarios import TARGET_LABELS

DASH = "\u2013"
NOT_MEASURED = "not measured in this run."


class ScaleReport(Targets):
    """The list at 10k and 1M rows (main run) and 10k, 1M, 10M (its own run): timings, ratios, plans."""

    def scale_section(self) -> list[str]:
        """The main run's sizes, pages, ratios and plans, then the 10M run's."""
        run = self.main
        sizes = run.sizes()
        labels = [run.label(size) for size in sizes]
        own = (
            f" The list at {fmt_size(10_000_000)} rows is measured in a run of its own (`make bench-10m`, "
            f"`python -m bench.scale10m`): [below](#{OWN_SECTION_ANCHOR})."
            if self.own
            else f" The list at {fmt_size(10_000_000)} rows is measured in a run of its own, opt-in "
            "(`make bench-10m`): not measured yet."
        )
        return [
            f"## Scale: the list at {_and(labels)} vehicles",
            "",
            "As the admin (every row visible): "
            + _and([f"{run.scale[size]['table_rows']:,}" for size in sizes])
            + " rows in the table. p50 in ms at one client, median of "
            f"{self.crud['rounds']} rounds; page N starts after row (N\u22121)\u00d720, newest first. "
            f"At {labels[0]} the deepest full page is {run.deepest('small')}. The API and the keyset RPC "
            "address the page with a cursor (the API's is built for the row before the page, signed with "
            "`lib.supabase.cursor` exactly as `lib/resources/vehicles.py` signs it); the OFFSET rows are "
            "the naive peer's query (`order=created_at.desc,id.desc&offset=…&limit=20`) sent straight to "
            'PostgREST, without and with `Prefer: count=exact` (a "page N of M" UI). Every target returned '
            "the same first row for each page before it was timed." + own,
            "",
            *self.pages_table(run),
            "",
            "Keyset pages cost the same at any size and any depth: the RPC seeks the `(created_at, id)` "
            "index to the cursor and reads 21 rows. OFFSET reads and discards every row before the page, "
            "so its cost grows with depth, and `count=exact` counts every visible row, so its cost grows "
            "with the table.",
            "",
            "### Query plans of the list",
            "",
            *self.plans_table(run),
            *self.own_section(),
        ]

    def pages_table(self, run: ScaleRun) -> list[str]:
        """Each size's pages, then each larger size's ratios to the smallest."""
        lines = [
            "| rows | page | " + " | ".join(TARGET_LABELS[t] for t in SCALE_TARGETS) + " |",
            "|---|---|" + "---|" * len(SCALE_TARGETS),
        ]
        for size in run.sizes():
            for page in sorted(int(p) for p in run.scale[size]["pages"]):
                cells = " | ".join(_scale_cell(run, size, page, t) for t in SCALE_TARGETS)
                lines.append(f"| {run.scale[size]['table_rows']:,} | {page} | {cells} |")
        for size in run.sizes()[1:]:
            lines += ["", *_ratios(run, size)]
        return lines

    def plans_table(self, run: ScaleRun) -> list[str]:
        """The plan of the statement list_vehicles runs, each page at each size, and the deepest in full."""
        measured = [size for size in run.sizes() if run.scale[size].get("plans")]
        if not measured:
            return [f"Plans: {NOT_MEASURED[:-1]} (results from before plans were recorded).", ""]
        lines = [
            "`EXPLAIN (ANALYZE, BUFFERS)` of the statement `public.list_vehicles` executes (its dynamic "
            "SQL, logged by auto_explain, `bench/plans.py`), as the admin, warm (the second of two calls), "
            "newest first, 21 rows:",
            "",
            "| rows | page | scans | execution (ms) | buffers | index seek |",
            "|---|---|---|---|---|---|",
        ]
        for size in measured:
            for page, each in sorted(run.scale[size]["plans"].items(), key=lambda item: int(item[0])):
                lines.append(
                    f"| {run.scale[size]['table_rows']:,} | {page} | {', '.join(each['scans']) or DASH} "
                    f"| {fmt_ms(each['execution_ms'])} | {each['buffers'] or DASH} "
                    f"| {'yes' if each['index_seek'] else '**no**'} |"
                )
        largest = measured[-1]
        deep = run.deepest(largest)
        plan = run.plan(largest, deep)
        if plan:
            lines += [
                "",
                f"The plan of page {deep} at {run.scale[largest]['table_rows']:,} rows:",
                "",
                "```",
                plan["plan"],
                "```",
            ]
        return [*lines, ""]

    def own_section(self) -> list[str]:
        """The list at 10k, 1M and 10M rows from `bench/results/scale-10m.json`, with where it comes from."""
        run = self.own
        if run is None:
            return []
        env = run.env
        load = env.get("load_average", {})
        loads = "; ".join(
            f"{fmt_size(int(env['sizes'][size]))}: {each['rows']:,} rows in {each['copy_s']} s"
            + (
                f" + {each['index_rebuild_s']} s for {each['indexes_rebuilt']} indexes"
                if each.get("indexes_rebuilt")
                else ""
            )
            for size, each in sorted(env.get("loads", {}).items(), key=lambda item: SIZES.index(item[0]))
        )
        phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in env.get("phases_s", {}).items())
        failed = env.get("failed")
        # The file is written after each size: without the last size or a failure, the run is still going.
        done = "finished" if failed or "xlarge" in run.scale else "unfinished, last written"
        return [
            "### The list in a run of its own (`make bench-10m`)",
            "",
            f"From `bench/results/{OWN_RUN}.json`, written by {run.provenance()} ({done} "
            f"{env.get('finished', '?')}), not by the main run above: its own throwaway stack loaded the "
            f"sizes in turn ({_and([run.label(size) for size in run.sizes()])} rows) and measured the list "
            "at each, the same way, so its ratios compare sizes "
            "within that run. `make bench` leaves the file alone. "
            f"{env['machine']['cores_usable']} usable cores, shared: load average (1, 5, 15 min) "
            f"{load.get('start', '?')} at the start and {load.get('end', '?')} at the end. "
            f"p50 in ms at one client, median of {env['budget']['rounds']} rounds. Loads: {loads}. "
            f"Durations: {phases}."
            + (f" **The run failed** after the sizes shown: `{failed}`." if failed else ""),
            "",
            *self.pages_table(run),
            "",
            "#### Query plans of the list, its own run",
            "",
            *self.plans_table(run),
        ]


OWN_SECTION_ANCHOR = "the-list-in-a-run-of-its-own-make-bench-10m"


def _scale_cell(run: ScaleRun, size: str, page: int, target: str) -> str:
    skipped = run.scale[size].get("skipped", {}).get(str(page), {})
    if target in skipped:
        return f"failed (see `skipped` in {run.file})"
    return fmt_ms(run.p50(size, page, target))


def _ratios(run: ScaleRun, size: str) -> list[str]:
    small, big = run.label("small"), run.label(size)
    small_deep, deep = run.deepest("small"), run.deepest(size)
    lines = [
        f"| {big} \u00f7 {small} | " + " | ".join(TARGET_LABELS[t] for t in SCALE_TARGETS) + " |",
        "|---|" + "---|" * len(SCALE_TARGETS),
    ]
    comparisons = [("page 1", 1, 1), (f"page {small_deep} (same depth)", small_deep, small_deep)]
    if deep != small_deep:
        comparisons.append((f"page {deep} vs page {small_deep}", deep, small_deep))
    for label, page, small_page in comparisons:
        cells = " | ".join(
            fmt_x(run.p50(size, page, t) / run.p50("small", small_page, t)) for t in SCALE_TARGETS
        )
        lines.append(f"| {label} | {cells} |")
    return lines


def _and(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
